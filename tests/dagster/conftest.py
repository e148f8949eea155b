"""Dagster fixtures: the memory resource on the test's namespace and a throw-away Dagster instance.

Tests import the code location from the repository root (as workspace.yaml does); pytest runs from there.
Constants and helpers (storing turns, running assets) are in dagster_helpers.py.
"""

import warnings
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster_helpers import make_resource

from memory_runtime.config import Settings
from resources import MemoryStoreResource


def pytest_configure(config: pytest.Config) -> None:
    # BackfillPolicy is Beta in Dagster 1.13 (docs/notes/dagster_style.md §0.7); the warning is expected.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    config.addinivalue_line("filterwarnings", "ignore::dagster.BetaWarning")


@pytest.fixture
def memory(settings: Settings) -> MemoryStoreResource:
    """The memory resource on this test's namespace (default settings)."""
    return make_resource(settings)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A temporary Dagster instance (runs, cursors, materialisations)."""
    with dg.instance_for_test() as inst:
        yield inst
