"""Dagster resources: thin wrappers around memory_runtime's store clients."""

from resources.memory_store import MemoryStoreResource

__all__ = ["MemoryStoreResource"]
