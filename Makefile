# Two commands on a fresh machine: `make report` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := db,dev,bench
PYTEST_WORKERS ?= 2

.PHONY: setup report test test-fast lab lint format sample-data bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbench)" > /dev/null
	@touch $(STAMP)

report: setup
	$(BIN)/workbench report --out reports

test: setup
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile tests notebooks --nbval-lax --nbval-current-env

test-fast: setup
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile tests -m "not slow and not browser and not postgres"

lab: setup
	$(BIN)/jupyter lab notebooks

lint: setup
	$(BIN)/ruff check workbench tests benchmarks notebooks
	$(BIN)/ruff format --check workbench tests benchmarks
	$(BIN)/nbstripout --verify notebooks/*.ipynb workbench/reports/*.ipynb
	$(BIN)/jupytext --sync notebooks/*.ipynb > /dev/null && git diff --exit-code -- notebooks

format: setup
	$(BIN)/ruff check --fix workbench tests benchmarks notebooks
	$(BIN)/ruff format workbench tests benchmarks

sample-data: setup
	$(BIN)/workbench sample-data --out sample-data

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) reports/*.html reports/_work .pytest_cache .ruff_cache
