"""`MemoryStoreResource`: the memory stores (Postgres, graph, Redis, embedder) as one Dagster resource.

Assets, checks and sensors share the runtime's own store clients (`memory_runtime.stores.bundle.Stores`),
so agents and consolidation use one storage code path. The store URIs come from `dg.EnvVar("MEMORY_…")`
in `memory_assets/definitions.py`; every field left unset (None) falls back to memory_runtime's Settings,
which read the same `MEMORY_*` variables (and a `.env` file unless `read_env_file` is false). Optional
settings are not wired through `EnvVar` because Dagster refuses an `EnvVar` whose variable is unset.

The clients open in `setup_for_execution` (once per run, sensor tick or check evaluation) and close in
`teardown_after_execution`.

No `from __future__ import annotations` here: Dagster reads these annotations at definition time.
"""

from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from memory_runtime.config import Settings, load_settings
from memory_runtime.stores.bundle import Stores

# Settings fields a resource may override; everything else comes from the environment / .env.
_SETTING_FIELDS = (
    "postgres_uri",
    "postgres_schema",
    "graph_uri",
    "graph_name",
    "redis_uri",
    "redis_prefix",
    "embedding_provider",
    "embedding_model",
    "embedding_dimensions",
    "neo4j_user",
    "neo4j_password",
    "neo4j_database",
    "llm_model",
    "retention_days",
    "decay_rate",
    "archive_min_salience",
    "sensor_commit_lag_s",
    "sensor_max_turns_per_tick",
    "tracing",
)


class MemoryStoreResource(dg.ConfigurableResource):
    """Open `Stores` for the memory platform; `.stores` and `.settings` inside a run, tick or check."""

    postgres_uri: str = Field(description="PostgreSQL URI of the memory database (MEMORY_POSTGRES_URI).")
    graph_uri: str = Field(description="bolt://, neo4j:// or falkor[+unix]:// URI (MEMORY_GRAPH_URI).")
    redis_uri: str = Field(description="redis://, rediss:// or unix:// URI (MEMORY_REDIS_URI).")
    postgres_schema: str | None = Field(None, description="Schema of the memory tables; unset = Settings.")
    graph_name: str | None = Field(None, description="FalkorDB graph key; unset = Settings.")
    redis_prefix: str | None = Field(None, description="Prefix of every Redis key; unset = Settings.")
    embedding_provider: str | None = Field(None, description="hashing | openai | sentence-transformers.")
    embedding_model: str | None = Field(None, description="Embedding model name; unset = Settings.")
    embedding_dimensions: int | None = Field(None, description="Embedding dimension; unset = Settings.")
    neo4j_user: str | None = Field(None, description="Neo4j user; unset = MEMORY_NEO4J_USER.")
    neo4j_password: str | None = Field(None, description="Neo4j password; unset = MEMORY_NEO4J_PASSWORD.")
    neo4j_database: str | None = Field(None, description="Neo4j database; unset = server default.")
    llm_model: str | None = Field(None, description="Chat model for LLM steps; unset = Settings (no LLM).")
    retention_days: int | None = Field(None, description="Archive turns older than this; unset = Settings.")
    decay_rate: float | None = Field(None, description="Daily salience decay rate; unset = Settings.")
    archive_min_salience: float | None = Field(
        None, description="Orphan entities below this salience are deleted on archival; unset = Settings."
    )
    sensor_commit_lag_s: int | None = Field(None, description="Turn sensor commit-lag guard in seconds.")
    sensor_max_turns_per_tick: int | None = Field(None, description="Turns the turn sensor reads per tick.")
    tracing: str | None = Field(None, description="off | console | otlp (OpenTelemetry spans); unset = MEMORY_TRACING.")
    read_env_file: bool = Field(True, description="Also read a .env file in the working directory.")

    _settings: Settings | None = PrivateAttr(default=None)
    _stores: Stores | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> "MemoryStoreResource":
        """A resource that reproduces `settings` exactly (tests, scripts); ignores the environment."""
        values: dict[str, Any] = {}
        for name in _SETTING_FIELDS:
            value = getattr(settings, name)
            if name == "neo4j_password" and value is not None:
                value = value.get_secret_value()
            values[name] = value
        return cls(read_env_file=False, **values)

    def build_settings(self) -> Settings:
        """Settings from the environment with this resource's non-None fields on top."""
        overrides: dict[str, Any] = {n: getattr(self, n) for n in _SETTING_FIELDS if getattr(self, n) is not None}
        if not self.read_env_file:
            overrides["_env_file"] = None
        return load_settings(**overrides)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._settings = self.build_settings()
        self._stores = Stores.open(self._settings)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    @property
    def settings(self) -> Settings:
        """The resolved Settings (built on first use outside a Dagster execution)."""
        if self._settings is None:
            self._settings = self.build_settings()
        return self._settings

    @property
    def stores(self) -> Stores:
        """The open store clients; outside a Dagster execution they open on first use (close with close())."""
        if self._stores is None:
            self._stores = Stores.open(self.settings)
        return self._stores

    def close(self) -> None:
        """Close the store clients (Dagster calls this after each execution; call it after direct use)."""
        if self._stores is not None:
            self._stores.close()
            self._stores = None
