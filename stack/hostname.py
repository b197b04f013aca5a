"""The host name Airflow records on each task instance (``[core] hostname_callable``).

In docker compose every worker is its own container with its own host name. ``make stack`` runs
two workers on one machine, so it names each (``PIAWATCH_WORKER_HOSTNAME``) to keep task
instances attributable to the worker that ran them, as they are under compose.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    return os.environ.get("PIAWATCH_WORKER_HOSTNAME") or socket.getfqdn()
