# The image docker-compose.yml runs for every Airflow service: Python 3.11, the hashed lock, PIA Watch.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    # Every Airflow process imports stack/ (init, worker host names) from the checkout.
    PYTHONPATH=/opt/piawatch \
    OMP_THREAD_LIMIT=1

# OCR of scanned assessments and the fonts to render Japanese forms (the same list as `make system-deps`).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-jpn fonts-ipafont-mincho fonts-ipafont-gothic poppler-utils qpdf \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --uid 50000 --gid 0 --home-dir /opt/airflow --create-home airflow

WORKDIR /opt/piawatch

# Dependencies first, from the hashed lock only, so code changes do not reinstall them.
COPY requirements.lock ./
RUN pip install --no-deps --require-hashes -r requirements.lock

COPY . .
# Editable, as `make install` does: one copy of the code, plus the `piawatch` command.
RUN pip install --no-deps --no-build-isolation -e . \
 && mkdir -p /opt/piawatch/data \
 && chown -R airflow:0 /opt/piawatch/data /opt/airflow

USER airflow
ENTRYPOINT ["airflow"]
CMD ["version"]
