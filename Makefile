# Groundwork: two commands on a fresh machine.
#   make run   start the app on the embedded database with demo data
#   make test  run the whole test suite (what CI runs)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test lint format venv browser bench reader confidence cross-encoder token-projection clean-db

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (found " + sys.version.split()[0] + ")")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	DEBUG=$${DEBUG:-1} SUPPORT_COMPANY_NAME=$${SUPPORT_COMPANY_NAME-Brightwheel Bikes} $(PY) manage.py serve

browser:
	@bash scripts/ensure_chromium.sh

test: $(STAMP) browser
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run --settings=config.settings_test
	status=0; $(PY) -m pytest $(PYTEST_ARGS) || status=$$?; \
	  $(PY) manage.py stopdb --settings=config.settings_test >/dev/null; exit $$status

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/search.py
	$(PY) bench/turn.py
	$(PY) bench/dashboard.py
	$(PY) bench/public_qa.py --set all

# Retrain the reader on doc2dial, refreshing the committed weights (minutes; support/reader/README.md).
reader: $(STAMP)
	DEBUG=$${DEBUG:-1} $(PY) manage.py train_reader --out support/reader/model.json

# The projection stored token vectors go through (the reader's token-level match), fitted on doc2dial's train
# documents into core/token_projection.npz (about 2 minutes); after a new one: manage.py embed_tokens --all, then
# `make confidence`.
token-projection: $(STAMP)
	DEBUG=$${DEBUG:-1} OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(PY) manage.py train_token_projection \
		--out core/token_projection.npz

# The cross-encoder's LoRA updates, trained on doc2dial's train documents (off by default; support/reader/README.md).
cross-encoder: $(STAMP)
	DEBUG=$${DEBUG:-1} OMP_NUM_THREADS=1 $(PY) bench/cross_encoder.py data
	DEBUG=$${DEBUG:-1} OMP_NUM_THREADS=1 $(PY) bench/cross_encoder.py train --epochs 1 --layers 2 --sources doc2dial \
		--pointwise 1.0 --weights var/models/cross_encoder.npz
	DEBUG=$${DEBUG:-1} OMP_NUM_THREADS=1 $(PY) bench/cross_encoder.py fit --weights var/models/cross_encoder.npz

# Retrain the yes/no detector and the reply-confidence model on the training help centres, refreshing their
# committed weights (a few minutes; support/reader/README.md). Run it after `make reader`.
confidence: $(STAMP)
	DEBUG=$${DEBUG:-1} HF_HUB_OFFLINE=1 $(PY) manage.py train_yes_no --out support/reader/yes_no.json
	OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 $(PY) bench/confidence.py collect --dir support/reader/data/shops \
		--out var/confidence/train.jsonl
	$(PY) bench/confidence.py fit --data var/confidence/train.jsonl --out support/reader/confidence.json

clean-db:
	-$(PY) -c 'import os; os.environ.setdefault("DJANGO_SETTINGS_MODULE","config.settings"); from pathlib import Path; from config import embedded_db; embedded_db.stop(Path("var/pgdata"))'
	rm -rf var/pgdata
