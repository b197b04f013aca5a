"""stack/api.py's wait for a finished run, shared by the REST client and the benchmark."""

from __future__ import annotations

import pytest

from stack.api import AirflowAPIError, wait_until_finished


def test_waits_through_the_unfinished_states_and_returns_the_finished_one():
    states = iter(["queued", "running", "running", "failed", "success"])
    assert wait_until_finished(lambda: next(states), "run r1", timeout=5, poll_seconds=0.01) == "failed"
    assert next(states) == "success"  # not read past the first finished state


def test_a_run_still_going_at_the_timeout_is_an_error_naming_it():
    with pytest.raises(AirflowAPIError, match="run r2 of piawatch_nightly did not finish within 0 s"):
        wait_until_finished(lambda: "running", "run r2 of piawatch_nightly", timeout=0.05, poll_seconds=0.01)
