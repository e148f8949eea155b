"""One mapping from the runtime's typed errors (`memory_runtime.errors`) to an HTTP status and a stable error code.

Both front ends use it: the REST API answers `{"error": {"code", "message", "status", "details"}}` with that status
(plus `Retry-After` on 429), and the MCP tools report `[code] message` as a tool error. Bad input is a 4xx, never a
500: a 500 (`internal_error`) means a bug or a store failure the runtime did not expect.
"""

import math
from typing import Any

import pydantic
from pydantic import BaseModel, Field

from memory_runtime import errors as e


class ApiError(Exception):
    """An error answered to a client: status, stable code, message, optional details and headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class ErrorBody(BaseModel):
    """What went wrong: a stable machine-readable `code`, a message for people, the HTTP status, details."""

    code: str = Field(description="Stable error code, e.g. invalid_input, unauthorized, rate_limited.")
    message: str
    status: int
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorBody


# The runtime's errors, most specific first: (type, status, code).
_RUNTIME: tuple[tuple[type[Exception], int, str], ...] = (
    (e.RateLimited, 429, "rate_limited"),
    (e.StoreUnavailableError, 503, "store_unavailable"),
    (e.ProjectionError, 503, "projection_failed"),
    (e.TurnConflictError, 409, "turn_conflict"),
    (e.TurnIdConflictError, 409, "turn_id_conflict"),
    (e.ConversationOwnershipError, 409, "conversation_conflict"),
    (e.NotFoundError, 404, "not_found"),
    (e.InvalidEmbedding, 422, "invalid_embedding"),
    (e.InvalidRelationshipType, 422, "invalid_relationship_type"),
    (e.InvalidLabel, 422, "invalid_label"),
    (e.ValidationError, 422, "invalid_input"),
    (e.SchemaError, 503, "schema_not_ready"),
    (e.ConfigurationError, 503, "misconfigured"),
)

# Statuses and what they mean, for the OpenAPI document.
DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request: the body is not JSON (NaN and Infinity are not JSON either).",
    401: "Missing or unknown API key (Authorization: Bearer <key> or X-API-Key).",
    403: "The key may not do this (forget_user needs an admin key).",
    404: "No such id for this user.",
    409: "Conflict: a turn index already holds different content, or a turn id names another turn.",
    413: "The request body is larger than MEMORY_SERVER_MAX_BODY_BYTES.",
    422: "Invalid input (wrong types, empty content, wrong embedding size, ...).",
    429: "A rate limit was hit; Retry-After says when to try again.",
    503: "A store is unavailable (details.store names it), or the schema is not migrated.",
}


def from_exception(exc: BaseException) -> ApiError:
    """The ApiError of any exception a request can end with."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, pydantic.ValidationError):
        return ApiError(422, "invalid_input", _pydantic_message(exc))
    for kind, status, code in _RUNTIME:
        if isinstance(exc, kind):
            return ApiError(status, code, str(exc), *_extras(exc))
    return ApiError(500, "internal_error", "internal error; the server log has the details")


def _extras(exc: BaseException) -> tuple[dict[str, Any], dict[str, str]]:
    """Details and headers an error carries beyond its message."""
    if isinstance(exc, e.RateLimited):
        retry = max(1, math.ceil(exc.retry_after_s))
        return {"operation": exc.operation, "retry_after_s": exc.retry_after_s}, {"Retry-After": str(retry)}
    if isinstance(exc, e.StoreUnavailableError):
        return {"store": exc.store, "setting": exc.setting}, {}
    if isinstance(exc, e.ProjectionError):
        return {"store": exc.store, "durable": True, "turn_ids": exc.turn_ids}, {}
    return {}, {}


def _pydantic_message(exc: pydantic.ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts) or "invalid input"


def unauthorized(message: str = "a valid API key is required: Authorization: Bearer <key> or X-API-Key") -> ApiError:
    """401 with the Bearer challenge."""
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="agent-memory"'})


def forbidden(message: str) -> ApiError:
    """403: authenticated, but not allowed."""
    return ApiError(403, "forbidden", message)


def openapi_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each status with the ErrorResponse model and its meaning."""
    return {s: {"model": ErrorResponse, "description": DESCRIPTIONS[s]} for s in statuses}
