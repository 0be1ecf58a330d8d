# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := libjemalloc2 espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k sox

.PHONY: demo demo-train test bench results clean-venv help

help:
	@echo "make demo        install into .venv; compose shipped bricks never trained together: Fr→En encoder + De→En decoder translate, English speech encoder + the same decoder transcribe"
	@echo "make demo-train  install into .venv; train a small De→En LegoNN model from scratch and show what it does"
	@echo "make test        install into .venv and run the test suite"
	@echo "make bench       training-throughput benchmark (baseline vs LegoNN)"
	@echo "make results     regenerate docs/results.md from results/**/*.json"

$(STAMP): requirements.txt pyproject.toml
	@# system packages (root + apt only): jemalloc makes CPU training 20-40 % faster (src/legonn/allocator.py);
	@# espeak-ng, flite, festival (+ its kal and ked diphone voices) and sox synthesise the speech corpora (src/legonn/data/synth.py)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    { apt-get install -y -q $$missing >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
	      apt-get install -y -q $$missing >/dev/null 2>&1; }; } && echo "installed" $$missing || \
	      echo "note: could not install" $$missing; fi; fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) recipes/demo/run.py

demo-train: $(STAMP)
	$(PY) recipes/demo/train_small.py

test: $(STAMP)
	$(PY) -m pytest tests

bench: $(STAMP)
	$(PY) benchmarks/train_throughput.py

results: $(STAMP)
	$(PY) recipes/results_table.py

clean-venv:
	rm -rf $(VENV)
