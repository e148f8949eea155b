# Two commands from a fresh clone (only Python 3.11+ needed): `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install neo4j browser demo test lint typecheck format bench screenshots dev up down clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with its dev tools

neo4j: install  ## build the local Neo4j Community launcher (tools/neo4j; Maven downloads ~170 MB into .stack/m2 once)
	$(BIN)/python -c 'from memory_ops.stack.neo4j import Neo4jLauncher; Neo4jLauncher().ensure_built()'

# The browser tests (tests/ui/) drive Debian's Chromium through Playwright, which cannot download its own browsers
# here. Skipped when /usr/bin/chromium is there; otherwise apt-get (as root, or through sudo). Under CI=true a
# failed install fails the run; elsewhere the browser tests then skip and name this target.
browser:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null ) \
	  || { echo "could not install chromium (apt-get install -y chromium)"; [ "$${CI:-}" != true ]; }

demo: install  ## embedded stores, migrate, API tour, import samples/ + run the consolidation job (backfill), recall (GRAPH=neo4j: on the local Neo4j)
	$(BIN)/agent-memory demo $(if $(GRAPH),--graph $(GRAPH))

test: install browser  ## the whole test suite on real embedded stores, both graph backends (FalkorDB, local Neo4j), the browser
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: install typecheck  ## ruff, and mypy --strict on the runtime library (typecheck)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install  ## mypy --strict on memory_runtime (settings in pyproject.toml [tool.mypy])
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install neo4j  ## the speed tables of the README on both graphs (about an hour on 2 idle cores; writes benchmarks/results/)
	$(BIN)/python benchmarks/bench_remember.py --turns 20000 100000 --queries 300 --facts 10000 --entities 5000 --graph both
	$(BIN)/python benchmarks/bench_write.py --graph both
	$(BIN)/python benchmarks/bench_import.py --turns 100000 --graph both
	$(BIN)/python benchmarks/bench_backup.py --turns 100000 --graph both

screenshots: install browser  ## screenshots of the memory browser's main pages into docs/screenshots/
	AGENT_MEMORY_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q -p no:cacheprovider tests/ui/test_screenshots.py

dev: install  ## embedded stores + Dagster UI on http://127.0.0.1:3000
	$(BIN)/agent-memory dev

up: install
	@$(BIN)/agent-memory up

down: install
	$(BIN)/agent-memory down

clean:
	-$(BIN)/agent-memory down 2>/dev/null
	rm -rf $(VENV) .stack .pytest_cache .ruff_cache .mypy_cache tools/neo4j/target
