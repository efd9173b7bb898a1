# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test lint setup db

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

# axe-core for the browser tests' accessibility checks, from the npm registry (package-lock.json).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP) node_modules/.installed

db: setup
	mkdir -p instance
	ATELIERS_ENV=development $(BIN)/flask --app wsgi db upgrade
	ATELIERS_ENV=development $(BIN)/flask --app wsgi seed-demo

# The web app on http://127.0.0.1:5000 and the scheduler, as one group that Ctrl-C stops whole.
run: db
	@echo "Ateliers TICE : http://127.0.0.1:5000 — courriels écrits dans instance/mail/ (Ctrl-C pour arrêter)"
	@export ATELIERS_ENV=development; \
	trap 'kill 0' INT TERM EXIT; \
	$(BIN)/python -m scheduler & \
	$(BIN)/flask --app wsgi run --host 127.0.0.1 --port 5000 --no-reload & \
	wait

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
