"""The Celery configuration of the stack (``[celery] celery_config_options`` in stack/airflow.env):
Airflow's own, and the libraries every worker imports once, at its start.

A task runs in a process forked from its worker, so what the worker has imported the task has
too. The check task imports Great Expectations and the report task altair every night, in a
fresh process: about 5.6 s of CPU together (``import`` measured here), on the night's serial
path, where no other task runs beside them. Imported once by each worker before it forks, they
cost nothing per night. Only third-party libraries: the project's own modules stay imported by
each task, so a changed one is used by the next task without restarting the workers. The one
exception is stack/task_exit.py, a fix to the worker's own task supervisor, which only the worker
process can carry.
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

# Celery imports these in the worker's main process, before it forks its pool (the `imports`
# setting); the scheduler's Celery app never imports them.
PRELOADED_LIBRARIES = ("great_expectations", "great_expectations.expectations", "altair", "vl_convert", "jinja2")

# And for what importing it changes: the task supervisor's wait for a task's end (stack/task_exit.py).
WORKER_PATCHES = ("stack.task_exit",)

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG, "imports": PRELOADED_LIBRARIES + WORKER_PATCHES}
