# The README's two commands: `make demo` and `make test`. Each sets itself up from nothing
# (a Python >= 3.11 on PATH): it creates .venv, installs the package, then runs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format bench sandbox clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python >= 3.11 is needed; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)  ## the main job (the snapshot export + heatmaps), on an embedded sandbox, into data/
	$(PY) -m zimun_analytics snapshot --sandbox --out data/ --report-dir data/reports

test: $(STAMP)  ## lint and type-check, then the whole test suite
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(STAMP)  ## performance figures beside their baselines
	$(PY) benchmarks/bench_sandbox.py
	$(PY) benchmarks/bench_client.py
	$(PY) benchmarks/bench_fetch.py
	$(PY) benchmarks/bench_plots.py

sandbox: $(STAMP)  ## the sandbox in the foreground on :8765
	$(PY) -m zimun_analytics sandbox --port 8765

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist *.egg-info
