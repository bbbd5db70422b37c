# The README's commands: `make demo`, `make test`, `make notebooks`. Each sets itself up from
# nothing (a Python >= 3.11 on PATH): it creates .venv, installs the package, then runs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# what a notebook run adds beside its outputs, which the nbstripout filter also leaves out
NB_EXTRA_KEYS := $(addprefix metadata.language_info.,\
    codemirror_mode file_extension mimetype nbconvert_exporter pygments_lexer version)

.PHONY: demo test notebooks git-filter lint format bench sandbox clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python >= 3.11 is needed; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,notebooks]'
	@$(MAKE) --no-print-directory git-filter
	@touch $(STAMP)

git-filter:  ## in a git checkout: strip notebook outputs on commit (.gitattributes names the filter)
	@if [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ]; then \
	    git config filter.nbstripout.clean "'$(abspath $(PY))' -m nbstripout --keep-id" && \
	    git config filter.nbstripout.smudge cat && \
	    git config filter.nbstripout.required true && \
	    git config filter.nbstripout.extrakeys "$(NB_EXTRA_KEYS)" && \
	    git config diff.ipynb.textconv "'$(abspath $(PY))' -m nbstripout --keep-id -t" && \
	    echo "git: notebook outputs are stripped on commit (nbstripout filter)"; \
	fi

demo: $(STAMP)  ## the main job (the snapshot export + heatmaps), on an embedded sandbox, into data/
	$(PY) -m zimun_analytics snapshot --sandbox --out data/ --report-dir data/reports

test: $(STAMP)  ## lint and type-check, then the whole test suite
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest

notebooks: $(STAMP)  ## the notebooks in JupyterLab, on 127.0.0.1 only
	$(PY) -m jupyter lab --ip=127.0.0.1 --ServerApp.root_dir=notebooks \
	    $(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(STAMP)  ## performance figures beside their baselines
	$(PY) benchmarks/bench_sandbox.py
	$(PY) benchmarks/bench_client.py
	$(PY) benchmarks/bench_throughput.py
	$(PY) benchmarks/bench_fetch.py
	$(PY) benchmarks/bench_plots.py
	$(PY) benchmarks/bench_store.py

sandbox: $(STAMP)  ## the sandbox in the foreground on :8765
	$(PY) -m zimun_analytics sandbox --port 8765

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist *.egg-info
