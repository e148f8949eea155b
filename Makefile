# Two commands from a fresh clone (only Python 3.11+ needed): `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install neo4j demo test lint typecheck format bench dev up down clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with its dev tools

neo4j: install  ## build the local Neo4j Community launcher (tools/neo4j; Maven downloads ~170 MB into .stack/m2 once)
	$(BIN)/python -c 'from memory_ops.stack.neo4j import Neo4jLauncher; Neo4jLauncher().ensure_built()'

demo: install  ## embedded stores, migrate, API tour, import samples/ + run the consolidation job (backfill), recall (GRAPH=neo4j: on the local Neo4j)
	$(BIN)/agent-memory demo $(if $(GRAPH),--graph $(GRAPH))

test: install  ## the whole test suite on real embedded stores, both graph backends (FalkorDB, local Neo4j)
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: install typecheck  ## ruff, and mypy --strict on the runtime library (typecheck)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install  ## mypy --strict on memory_runtime (settings in pyproject.toml [tool.mypy])
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install  ## all benchmarks (writes benchmarks/results/)
	$(BIN)/python benchmarks/bench_write.py

dev: install  ## embedded stores + Dagster UI on http://127.0.0.1:3000
	$(BIN)/agent-memory dev

up: install
	@$(BIN)/agent-memory up

down: install
	$(BIN)/agent-memory down

clean:
	-$(BIN)/agent-memory down 2>/dev/null
	rm -rf $(VENV) .stack .pytest_cache .ruff_cache .mypy_cache tools/neo4j/target
