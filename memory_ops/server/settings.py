"""Settings of `agent-memory serve` and `agent-memory mcp`: the `MEMORY_SERVER_*` and `MEMORY_API_KEY` variables.

They are the operations layer's own (the runtime's `memory_runtime.config.Settings` knows nothing of servers); the
README's configuration table lists them too (tests/server/test_server_settings.py keeps it so).
"""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    """Server configuration; each field is read from `MEMORY_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="MEMORY_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    server_host: str = Field("127.0.0.1", description="Listen address of `agent-memory serve`.")
    server_port: int = Field(8080, ge=0, le=65535, description="Listen port of `agent-memory serve`.")
    server_public_url: str | None = Field(
        None, description="Base URL clients reach the server at (for the MCP auth metadata); unset = http://host:port."
    )
    server_max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest accepted request body; larger ones get 413."
    )
    server_key_cache_s: float = Field(
        5.0, ge=0, description="Seconds a verified API key is trusted before it is looked up again (revocation delay)."
    )
    server_metrics_token: SecretStr | None = Field(
        None, description="Bearer token of GET /metrics (operator, not tenant, data); unset = /metrics is off."
    )
    server_memory_cache: int = Field(
        4096, ge=1, description="AgentMemory objects (one per tenant user) kept open by the server."
    )
    api_key: SecretStr | None = Field(None, description="The tenant API key `agent-memory mcp` (stdio) acts with.")
