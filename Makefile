# imgkit: `make report` and `make test` are the two commands of the README's quick start.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install system test lint typecheck format report bench lab lock schemas clean

# programs the tests drive for real and that PyPI does not carry: Debian's Chromium (Playwright drives it; a
# test tool's own browser download is refused on these machines) and Debian's PostgreSQL server (the importer's
# tests start one from its binaries: tests/postgres_plugin.py) and a Java runtime for PySpark's local mode (the
# engine tests). Installed once, as root or through sudo.
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  echo "installing Debian's chromium (browser tests of the vote page and the reports)"; \
	  $(SUDO) apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q --no-install-recommends chromium >/dev/null; }; }
	@command -v java >/dev/null || { \
	  echo "installing Debian's headless Java runtime (PySpark's local mode in the engine tests)"; \
	  $(SUDO) apt-get install -y -q --no-install-recommends default-jre-headless >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q --no-install-recommends default-jre-headless >/dev/null; }; }
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql (a real server for the LiteLLM importer's tests)"; \
	  $(SUDO) apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q --no-install-recommends postgresql >/dev/null; }; }

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name imgkit --display-name "imgkit (.venv)" >/dev/null
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check imgkit tests bench
	$(BIN)/ruff format --check imgkit tests bench
	$(BIN)/mypy imgkit

# mypy over imgkit/ with the settings of pyproject.toml's [tool.mypy] (part of make lint, so of make test)
typecheck: $(STAMP)
	$(BIN)/mypy imgkit

format: $(STAMP)
	$(BIN)/ruff format imgkit tests bench
	$(BIN)/ruff check --fix imgkit tests bench

test: system lint
	$(BIN)/python -m pytest

report: $(STAMP)
	$(BIN)/imgkit prices --out reports/prices
	@if $(BIN)/imgkit report --help >/dev/null 2>&1; then $(BIN)/imgkit report --all; fi

bench: $(STAMP)
	$(BIN)/python -m bench

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# the JSON Schemas of the catalog files, experiment specs and workloads, generated from the pydantic models
# (committed; the tests fail while they are out of date)
schemas: $(STAMP)
	$(BIN)/imgkit schemas --out schemas

# constraints.txt pins every package the environment holds, as tested; `make lock` refreshes it from the
# newest releases that pyproject.toml allows (then run `make test`)
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	( echo "# every package of the tested environment (make lock writes this file)"; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable ) > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
