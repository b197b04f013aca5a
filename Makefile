# PIA Watch — `make run` runs the nightly job on the bundled demo; `make test` runs the tests.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast corpus eval bench bench-sandbox bench-load demo-serve system-deps clean

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the locked dependencies

run: $(STAMP)  ## crawl the bundled demo websites with the nightly DAG (airflow dags test), load DuckDB, check, alert
	$(VENV)/bin/piawatch demo run

test: $(STAMP)  ## run the whole test suite
	$(PY) -m pytest

test-fast: $(STAMP)  ## the tests without real Airflow runs, OCR and the native stack
	$(PY) -m pytest -m "not slow and not stack"

corpus: $(STAMP)  ## regenerate the demo document corpus byte for byte
	$(PY) -m demo.corpus

eval: $(STAMP)  ## parser accuracy per layout family and field group against the corpus ground truth
	$(PY) tools/eval_parser.py

bench: $(STAMP)  ## parser speed and memory against plain pdfplumber, measured in the same run
	$(PY) tools/bench_parser.py

bench-sandbox: $(STAMP)  ## the parse sandbox's cost: zygote vs an interpreter per PDF vs no sandbox, in the same run
	$(PY) tools/bench_sandbox.py $(BENCH_ARGS)

bench-load: $(STAMP)  ## the loader on 50,000 staged assessments, both backends, against the row-by-row baseline
	$(PY) tools/bench_load.py $(BENCH_ARGS)

demo-serve: $(STAMP)  ## serve the demo municipal websites on http://127.0.0.1:8765/ (ground.settings.DEMO_PORT)
	$(PY) -m demo.server

system-deps:  ## Debian packages for OCR, PDF rendering and the native stack (needs root)
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		tesseract-ocr tesseract-ocr-jpn fonts-ipafont-mincho fonts-ipafont-gothic fonts-ipaexfont \
		libreoffice-calc-nogui poppler-utils qpdf postgresql redis-server chromium

clean:  ## remove the data directory (crawled PDFs, warehouse, reports)
	rm -rf data

-include stack/stack.mk
