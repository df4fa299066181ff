# Listonosz: `make demo` runs a whole campaign locally; `make test` runs the test suite;
# `make bench` the benchmarks. Each creates .venv and installs what it needs on first use;
# `make test` also the system packages (scripts/setup-system.sh: as root, or it names them).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test bench system lint format screenshots clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

demo: $(STAMP)
	@bash scripts/demo.sh

# Chromium, fonts, Postfix, Dovecot, python3-venv, make (and in CI a PostgreSQL server):
# installed as root, named with the command that installs them otherwise. Nothing to do costs a
# few milliseconds.
system:
	@PYTHON=$(PYTHON) bash scripts/setup-system.sh

test: system lint
	$(BIN)/pytest

# Into docs/ (the README shows them): the web app's pages as recipients see them, at 375 and
# 1280 px (tests/e2e/test_web_browser.py), the report's chart (tests/e2e/test_report.py) and the
# Prefect UI's run form staff fill in (tests/e2e/test_schedule.py).
screenshots: system $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/e2e/test_web_browser.py tests/e2e/test_report.py \
		tests/e2e/test_schedule.py::test_staff_start_a_dry_run_from_the_prefect_ui_form \
		--screenshots docs

$(BENCH_STAMP): $(STAMP)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	@touch $@

# Every benchmark at the sizes benchmarks/RESULTS.md documents, each ending with its ratios
# against a baseline measured in the same run; scale.py at 20,000 recipients (at its default
# of 100,000, the size RESULTS.md records, it takes about 15 minutes here).
bench: system $(BENCH_STAMP)
	$(BIN)/python benchmarks/contacts.py
	$(BIN)/python benchmarks/render.py
	$(BIN)/python benchmarks/bounces.py
	$(BIN)/python benchmarks/send.py
	$(BIN)/python benchmarks/send.py --sink postfix
	for provider in postmark sendgrid mailgun brevo; do \
		$(BIN)/python benchmarks/send.py --transport $$provider || exit 1; done
	$(BIN)/python benchmarks/webhooks.py
	$(BIN)/python benchmarks/web.py
	$(BIN)/python benchmarks/scale.py --recipients 20000

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
