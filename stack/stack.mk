# Included by the Makefile: the distributed stack, natively on 127.0.0.1 (see stack/native.py).
.PHONY: stack stack-stop stack-status stack-demo bench-stack bench-scale

stack: $(STAMP)  ## start PostgreSQL, Redis, the Airflow services and 2 Celery workers under data/stack/
	$(PY) -m stack.native start

stack-stop:  ## stop every process `make stack` started
	$(PY) -m stack.native stop

stack-status:  ## which of the stack's processes run
	$(PY) -m stack.native status

bench-stack: $(STAMP)  ## demo crawl+parse: in-process vs the native stack with 1 and 2 workers
	$(PY) tools/bench_stack.py

bench-scale: $(STAMP)  ## the synthetic country, twice: in-process, stack 1 and 2 workers (BENCH_ARGS="--scale 100 --repeat 2")
	$(PY) tools/bench_scale.py $(BENCH_ARGS)

stack-demo: $(STAMP)  ## `make stack` with the demo websites, then run the nightly DAG on them (stop: make stack-stop)
	$(PY) -m stack.native start --demo
	$(PY) -m stack.native trigger piawatch_nightly --conf '{"demo": true}' --wait 900
