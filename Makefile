# Two commands on a fresh machine:  make run  (the product, embedded)  ·  make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test install lint messages clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

## run: the whole product on SQLite and a local broker, with demo users and data
run: install
	@echo "Preparing the database (SQLite under var/) and the demo data..."
	@$(BIN)/salesflow migrate --noinput --verbosity 0
	@$(BIN)/salesflow seed-demo --verbosity 0
	@$(BIN)/salesflow run

## test: lint, a migration for every model change, and the test suite against PostgreSQL
## (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/salesflow)
test: install lint
	$(BIN)/salesflow makemigrations --check --dry-run --settings=tests.settings
	$(BIN)/pytest

## lint: ruff, strict mypy over the engine and flows, and the structure: the import
## contracts (layers; the engine never imports flows/) and no circle of imports
lint: install
	$(BIN)/ruff check src flows bench tests
	$(BIN)/ruff format --check src flows bench tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -p no:cacheprovider tests/test_architecture.py

## messages: refresh and compile the translations (en, ru)
messages: install
	cd src/salesflow && ../../$(BIN)/salesflow makemessages -l ru --no-obsolete -e html,txt,py,svg
	cd flows && ../$(BIN)/salesflow makemessages -l ru --no-obsolete
	$(BIN)/salesflow compilemessages --ignore=.venv --ignore=var

clean:
	rm -rf $(VENV) var
