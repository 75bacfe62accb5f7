# One command each: `make run` (app on the sample data) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DB     ?= data/ap.duckdb
PORT   ?= 8501
# only this machine until sign-in is on: ADDRESS=0.0.0.0 serves the network (README, "Sign-in and access")
ADDRESS ?= 127.0.0.1
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test bench sample chromium clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Debian's chromium for the browser tests (Playwright drives the system browser; its own
# browser download is not used).
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

run: $(VENV)/.runtime
	AP_DB=$(DB) $(PY) -m analytics load-sample --db $(DB) --if-empty
	AP_DB=$(DB) $(VENV)/bin/streamlit run dashboard.py --server.port $(PORT) --server.address $(ADDRESS) --server.headless true --browser.gatherUsageStats false

test: $(VENV)/.dev chromium
	$(PY) -m pytest

bench: $(VENV)/.dev
	$(PY) -m bench.run

# Re-make the committed sample files from the seeded generator.
sample: $(VENV)/.runtime
	$(PY) -m sample_data.generate --out sample_data/files

clean:
	rm -rf $(VENV) data .pytest_cache test-artifacts
