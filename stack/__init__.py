"""The distributed Airflow stack: docker-compose.yml and its native twin (`make stack`).

Both read ``stack/airflow.env`` and run the services listed in ``stack/services.py``.
"""
