# Listonosz: `make demo` runs a whole campaign locally; `make test` runs the test suite.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint format clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

demo: $(STAMP)
	@bash scripts/demo.sh

test: lint
	$(BIN)/pytest

# Every benchmark, each printing ratios against a baseline measured in the same run.
bench: $(STAMP)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	$(BIN)/python benchmarks/contacts.py
	$(BIN)/python benchmarks/render.py
	$(BIN)/python benchmarks/send.py --prefect-email 100
	for provider in postmark sendgrid mailgun brevo; do \
		$(BIN)/python benchmarks/send.py --transport $$provider || exit 1; done

# The static checks: style, the layers (import-linter contracts in pyproject.toml), types.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var preview .pytest_cache .mypy_cache .import_linter_cache
