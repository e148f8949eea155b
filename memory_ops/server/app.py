"""The FastAPI application of `agent-memory serve`: the REST API at /v1, the MCP server at /mcp, the memory browser
at /ui, health, metrics.

`create_app(stores, settings)` builds it over one `Stores` shared by every request (the caller owns and closes
it). Requests are sync routes run on the worker threads of the ASGI server; each names its runtime user through
`tenancy` and runs on the shared pools.
"""

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memory_ops.server import schemas
from memory_ops.server.errors import ApiError, ErrorResponse, from_exception, openapi_responses, unauthorized
from memory_ops.server.keys import KeyVerifier
from memory_ops.server.rest import router
from memory_ops.server.service import MemoryService
from memory_ops.server.settings import ServerSettings
from memory_ops.server.tenancy import TenantMemories, public_text
from memory_ops.server.ui import create_ui_app
from memory_runtime import metrics
from memory_runtime.domain.errors import AgentMemoryError
from memory_runtime.stores.bundle import Stores

log = logging.getLogger(__name__)
VERSION = "0.1.0"


def error_json(error: ApiError, tenant: str | None = None) -> JSONResponse:
    """The JSON response of an ApiError; a tenant's own namespace prefix is left out of the message."""
    message = public_text(tenant, error.message) if tenant else error.message
    body = ErrorResponse.model_validate(
        {"error": {"code": error.code, "message": message, "status": error.status, "details": error.details}}
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=error.status, headers=error.headers)


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets 413 before the application reads any of it.

    A declared Content-Length is checked first; a chunked body is buffered up to the limit and then replayed.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = ApiError(413, "body_too_large", f"the request body is larger than {self.max_bytes} bytes")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await error_json(too_large)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await error_json(too_large)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _tenant(request: Request) -> str | None:
    principal = getattr(request.state, "principal", None)
    return principal.tenant if principal is not None else None


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        error = from_exception(exc)
        if error.status >= 500 and error.code == "internal_error":
            log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_json(error, _tenant(request))

    async def request_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = exc.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            detail = "; ".join(str((p.get("ctx") or {}).get("error", p.get("msg"))) for p in problems)
            return error_json(ApiError(400, "malformed_json", f"the request body is not valid JSON: {detail}"))
        parts = [f"{'.'.join(str(x) for x in p.get('loc', ()))}: {p.get('msg')}" for p in problems]
        return error_json(ApiError(422, "invalid_request", "; ".join(parts) or "invalid request"), _tenant(request))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 415: "unsupported_media_type"}
        error = ApiError(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))
        return error_json(error)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(AgentMemoryError, api_error)
    app.add_exception_handler(RequestValidationError, request_validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, api_error)


def _store_checks(stores: Stores) -> dict[str, Any]:
    return {
        "postgres": stores.pg.server_version,
        "graph": stores.graph.server_version,
        "redis": stores.redis.server_version,
    }


def create_app(
    stores: Stores,
    settings: ServerSettings,
    *,
    public_url: str | None = None,
    mcp: bool = True,
    ui_operator_code: str | None = None,
) -> FastAPI:
    """The application over `stores`; `public_url` is where clients reach it (for the MCP auth metadata).

    The memory browser is mounted at /ui; `ui_operator_code` (from `agent-memory ui`) also signs in the local
    operator, who sees every runtime user.
    """
    verifier = KeyVerifier(stores.pg, settings.server_key_cache_s)
    service = MemoryService(TenantMemories(stores, settings.server_memory_cache))
    base_url = public_url or settings.server_public_url or f"http://{settings.server_host}:{settings.server_port}"
    mcp_server = None
    if mcp:
        from memory_ops.server.mcp_server import build_http_mcp_server

        mcp_server = build_http_mcp_server(service, verifier, base_url.rstrip("/") + "/mcp")
        mcp_app = mcp_server.streamable_http_app(
            json_response=True, max_request_body_size=settings.server_max_body_bytes, host=settings.server_host
        )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if mcp_server is None:
            yield
            return
        async with mcp_server.session_manager.run():
            yield

    app = FastAPI(
        title="agent-memory",
        version=VERSION,
        description="Memory for LLM agents: turns, facts, entities, goals, tools and strategies, and hybrid recall. "
        "Authenticate with `Authorization: Bearer <key>` (or `X-API-Key`); keys come from `agent-memory keys create`.",
        lifespan=lifespan,
    )
    app.state.stores = stores
    app.state.key_verifier = verifier
    app.state.service = service
    _install_error_handlers(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> schemas.Health:
        """Liveness: the process answers."""
        return schemas.Health(status="ok")

    @app.get("/readyz", tags=["health"], responses={503: {"model": schemas.Health, "description": "A store is down."}})
    def readyz() -> Response:
        """Readiness: every store answers (503 naming the ones that do not)."""
        states: dict[str, str] = {}
        for name, probe in _store_checks(stores).items():
            try:
                probe()
                states[name] = "ok"
            except AgentMemoryError as exc:
                states[name] = f"unavailable: {exc}"
        ready = all(v == "ok" for v in states.values())
        body = schemas.Health(status="ready" if ready else "unavailable", stores=states)
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}, **openapi_responses(401, 404)},
    )
    def prometheus(request: Request) -> Response:
        """Prometheus metrics of this process (operator data): needs MEMORY_SERVER_METRICS_TOKEN as a Bearer."""
        expected = settings.server_metrics_token
        if expected is None:
            raise ApiError(404, "not_found", "metrics are off: set MEMORY_SERVER_METRICS_TOKEN to serve them")
        header = request.headers.get("authorization", "")
        if not hmac.compare_digest(header.encode(), f"Bearer {expected.get_secret_value()}".encode()):
            raise unauthorized("GET /metrics needs Authorization: Bearer <MEMORY_SERVER_METRICS_TOKEN>")
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    app.include_router(router)
    app.mount("/ui", create_ui_app(service, verifier, operator_code=ui_operator_code))
    if mcp_server is not None:  # /mcp and its OAuth resource metadata, with the SDK's auth middleware around them
        for path in sorted({route.path for route in mcp_app.routes if isinstance(route, Route)}):
            app.router.routes.append(Route(path, endpoint=mcp_app))
    app.add_middleware(BodyLimit, max_bytes=settings.server_max_body_bytes)
    return app
