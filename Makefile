# Every target sets itself up: a fresh machine needs only Python 3.10+ and pip.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: test lint typecheck pytest reliability demo bench mutants clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[cli,test]'
	touch $@

## The whole test suite: lint, strict typing, then every test (reliability suite included).
test: lint typecheck pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check polyout tests benchmarks
	$(BIN)/ruff format --check polyout tests benchmarks

typecheck: $(BIN)/.installed
	$(BIN)/mypy

pytest: $(BIN)/.installed
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

## Only the fault, crash and hostile-input suite.
reliability: $(BIN)/.installed
	$(BIN)/pytest -q -m reliability $(PYTEST_ARGS)

## The whole tour: a sandbox, a demo contact list and a campaign, with no account.
demo: $(BIN)/.installed
	$(BIN)/polyout demo

## Every benchmark, one table of ratios against baselines measured in the same run.
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run_all.py

## Mutation testing of the exactly-once core (client, retries, pacing), on a copy of the
## tree: each surviving mutant is a change no test noticed. MUTANTS_ARGS="--only _pacing".
mutants: $(BIN)/.installed
	$(BIN)/python tests/mutants.py $(MUTANTS_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
