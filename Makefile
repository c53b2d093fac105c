# The two commands a new user needs: `make demo` and `make test`. Everything they need is installed by these targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_ADMIN_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: demo test lint bench reliability docs-screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,demo]'
	touch $(STAMP)

install: $(STAMP)

pg-ready:
	@$(BIN)/python scripts/ensure_postgres.py "$(PG_ADMIN_URL)"

test: $(STAMP) pg-ready
	$(BIN)/ruff check .
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

bench: $(STAMP) pg-ready
	$(BIN)/python -m benchmarks

reliability: $(STAMP) pg-ready
	$(BIN)/pytest -m reliability --run-reliability

docs-screenshots: $(STAMP)
	$(BIN)/python scripts/docs_screenshots.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .demo build dist *.egg-info
