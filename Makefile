# calcitrack: two commands set everything up.
#   make run   install, migrate, load the demo cohort, start web + worker + beat (embedded default)
#   make test  install, start PostgreSQL/Redis if needed, lint, type-check, run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
export CALCITRACK_INSTANCE ?= $(CURDIR)/instance

.PHONY: run test install migrate demo secret services browser lint bench bench-quick \
	bench-prognosis-db clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/tracker db upgrade

demo: migrate
	$(BIN)/tracker demo
	$(BIN)/tracker user demo

# The web app refuses to start without SECRET_KEY: the embedded default writes one random key
# per instance folder (instance/secret_key, mode 0600) once and keeps it across restarts.
secret: install
	@$(BIN)/python -c 'from tracker.config import default_instance, keep_secret_key; \
		keep_secret_key(default_instance())'

run: export SESSION_COOKIE_SECURE = false
# The sign-in line is printed once the web server answers, after the worker's and beat's
# banners (printed first, it scrolled away).
run: demo secret
	@echo ""
	@echo "  calcitrack is starting at http://$(HOST):$(PORT)/ (web, worker and beat)..."
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/celery -A workers worker --loglevel=WARNING --concurrency=2 --pool=threads & \
	$(BIN)/celery -A workers beat --loglevel=WARNING --schedule=$(CALCITRACK_INSTANCE)/beat-schedule & \
	( $(BIN)/python -m tracker.cli.wait_for_port $(HOST) $(PORT) && sleep 1 && \
	  echo "" && \
	  echo "  calcitrack is running at http://$(HOST):$(PORT)/" && \
	  echo "  sign in as: demo / $$($(BIN)/tracker user demo --print-password)" && \
	  echo "  data: $(CALCITRACK_INSTANCE) (DATABASE_URL / REDIS_URL override it); Ctrl-C stops all" && \
	  echo "" ) & \
	$(BIN)/flask --app web run --host $(HOST) --port $(PORT)

services:
	@bash .ci/services

browser:
	@bash .ci/browser

lint: install
	$(BIN)/ruff check tracker workers web reporting migrations tests testkit bench
	$(BIN)/mypy tracker workers web reporting

# Tests run in parallel processes (pytest-xdist), one per core up to 4 (each holds PostgreSQL
# connections; the server allows 100); each has its own databases and Redis database numbers
# (tests/conftest.py). TEST_PROCESSES=0: one process.
TEST_PROCESSES ?= auto
test: install services browser lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_PROCESSES) --maxprocesses 4 \
		--dist worksteal

# Every figure beside its floor (PostgreSQL + Redis, and the embedded default); writes
# bench/results/latest.json. bench-quick: 1/100 scale, a few minutes; bench: full scale.
bench: install services
	$(BIN)/python -m bench.run --scale full

bench-quick: install services
	$(BIN)/python -m bench.run --scale quick

# A 20,000-lesion simulated clinic with its prognosis models, to look at the display at scale:
# then `make run CALCITRACK_INSTANCE=$(CURDIR)/bench/results/prognosis-instance`.
bench-prognosis-db: install
	CALCITRACK_INSTANCE=$(CURDIR)/bench/results/prognosis-instance \
		$(BIN)/python -m bench.prognosis_cohort_db --lesions 20000

clean:
	rm -rf $(VENV) instance tests/artifacts .pytest_cache .mypy_cache .ruff_cache
