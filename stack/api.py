"""A small client of Airflow's REST API (v2), enough to drive DAG runs on the stack."""

from __future__ import annotations

import time

import requests

from ground.errors import PiaWatchError

FINISHED_STATES = {"success", "failed"}


class AirflowAPIError(PiaWatchError):
    code = "airflow_api"


def wait_until_finished(read_state, what: str, timeout: float, poll_seconds: float) -> str:
    """``read_state()`` every ``poll_seconds`` until it gives a finished state, which is returned;
    AirflowAPIError naming ``what`` if it has not by ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (state := read_state()) in FINISHED_STATES:
            return state
        time.sleep(poll_seconds)
    raise AirflowAPIError(f"{what} did not finish within {timeout:.0f} s")


class AirflowAPI:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        response = self._session.post(f"{self.base_url}/auth/token", timeout=timeout,
                                      json={"username": username, "password": password})
        self._check(response, "log in")
        self._session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    @staticmethod
    def _check(response: requests.Response, what: str) -> None:
        if response.status_code >= 400:
            raise AirflowAPIError(f"could not {what}: HTTP {response.status_code} {response.text[:300]}")

    def _call(self, method: str, path: str, what: str, **kwargs) -> dict:
        response = self._session.request(method, f"{self.base_url}/api/v2{path}", timeout=self.timeout, **kwargs)
        self._check(response, what)
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> None:
        """Wait until the dag-processor has parsed ``dag_id`` into the metadata DB."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self._session.get(f"{self.base_url}/api/v2/dags/{dag_id}", timeout=self.timeout)
            if response.status_code == 200:
                return
            time.sleep(1)
        raise AirflowAPIError(f"DAG {dag_id} did not appear within {timeout:.0f} s (see the dag-processor log)")

    def unpause(self, dag_id: str) -> None:
        self._call("PATCH", f"/dags/{dag_id}", f"unpause {dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        run = self._call("POST", f"/dags/{dag_id}/dagRuns", f"trigger {dag_id}",
                         json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}", f"read run {run_id}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """The run's final state (success or failed), asked of the api-server every second;
        AirflowAPIError if still going at ``timeout``."""
        return wait_until_finished(lambda: self.dag_run(dag_id, run_id)["state"], f"run {run_id} of {dag_id}",
                                   timeout, poll_seconds=1.0)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                          f"list the tasks of {run_id}", params={"limit": 1000})["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value"):
        """The value a task pushed (its return value by default), deserialised."""
        entry = self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
                           f"read {task_id}'s {key}", params={"deserialize": "true"})
        return entry["value"]

    def pool(self, name: str) -> dict:
        return self._call("GET", f"/pools/{name}", f"read pool {name}")
