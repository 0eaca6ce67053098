# One target per task. Every target creates .venv first if it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-integration lint bench fuzz soak demo screenshots clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/leadflow up --demo

# pytest exits 5 when it collected no test: that is a failure here, we always have tests.
test: $(STAMP)
	$(BIN)/python -m pytest; rc=$$?; [ $$rc -ne 5 ] || echo "pytest collected no tests"; [ $$rc -eq 0 ]

test-integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration tests/e2e; rc=$$?; [ $$rc -ne 5 ] || echo "pytest collected no tests"; [ $$rc -eq 0 ]

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

# schemathesis (--checks all, every operation, fixed seed) against the API under uvicorn, with
# 25x the examples of the bounded run in `make test`; fails on any failure or under 2,000 cases.
FUZZ_DIR := .leadflow/fuzz
fuzz: $(STAMP)
	LEADFLOW_FUZZ_EXAMPLES=200 LEADFLOW_FUZZ_MIN_CASES=2000 LEADFLOW_FUZZ_REPORT_DIR=$(FUZZ_DIR) \
		$(BIN)/python -m pytest -q tests/e2e/api/test_openapi_contract.py; rc=$$?; \
		sed -n '/SUMMARY/,$$p' $(FUZZ_DIR)/schemathesis.txt; [ $$rc -eq 0 ]

# The soak: API + 3 workers + PostgreSQL under load for MINUTES, with kill -9 and restarts.
MINUTES ?= 10
soak: $(STAMP)
	$(BIN)/python -m tests.soak --minutes $(MINUTES)

# A PNG of every console page at 1280 and 390 px, from the browser test that checks them.
screenshots: $(STAMP)
	LEADFLOW_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/e2e/console/test_screenshots.py

demo: $(STAMP)
	$(BIN)/leadflow demo --leads 200

clean:
	rm -rf $(VENV) .leadflow .pytest_cache .mypy_cache .ruff_cache
