# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench results clean-venv help

help:
	@echo "make demo     install into .venv, train a small De→En LegoNN model and show what it does"
	@echo "make test     install into .venv and run the test suite"
	@echo "make bench    training-throughput benchmark (baseline vs LegoNN)"
	@echo "make results  regenerate docs/results.md from results/**/*.json"

$(STAMP): requirements.txt pyproject.toml
	@# optional: jemalloc makes CPU training 15-35 % faster (see src/legonn/allocator.py)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! ls /usr/lib/*/libjemalloc.so.2 >/dev/null 2>&1; then \
	  { apt-get install -y -q libjemalloc2 >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
	    apt-get install -y -q libjemalloc2 >/dev/null 2>&1; }; } && echo "installed libjemalloc2" || \
	  echo "note: libjemalloc2 not installed; legonn runs on the system allocator"; fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) recipes/demo/run.py

test: $(STAMP)
	$(PY) -m pytest tests

bench: $(STAMP)
	$(PY) benchmarks/train_throughput.py

results: $(STAMP)
	$(PY) recipes/results_table.py

clean-venv:
	rm -rf $(VENV)
