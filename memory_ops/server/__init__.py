"""`agent-memory serve`: the REST API (`/v1`, FastAPI) and the MCP server (`/mcp`, the official `mcp` SDK) in one
process over one shared `Stores`, authenticated by per-tenant API keys (see `tenancy` for the namespacing)."""
