"""Authentication: the request's API key (`Authorization: Bearer <key>` or `X-API-Key: <key>`) → its Principal.

The REST routes depend on `require_principal`; the MCP endpoint is guarded by the SDK's bearer middleware with
`McpKeyVerifier`, which maps the same keys to an `AccessToken` (`client_id` = key id, `subject` = tenant, scope
`admin` for admin keys). `principal_from_access_token` turns it back into the Principal inside a tool.
"""

import anyio
from fastapi import Request
from mcp.server.auth.provider import AccessToken

from memory_ops.server.errors import unauthorized
from memory_ops.server.keys import KeyVerifier, Principal

ADMIN_SCOPE = "admin"
MEMORY_SCOPE = "memory"


def presented_key(request: Request) -> str | None:
    """The key a request carries: the Bearer credential, else X-API-Key."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return credential.strip()
        return None
    return request.headers.get("x-api-key") or None


def require_principal(request: Request) -> Principal:
    """FastAPI dependency: the Principal of the request's key, or 401."""
    verifier: KeyVerifier = request.app.state.key_verifier
    principal = verifier.verify(presented_key(request))
    if principal is None:
        raise unauthorized()
    request.state.principal = principal
    return principal


class McpKeyVerifier:
    """The MCP SDK's TokenVerifier over our API keys."""

    def __init__(self, verifier: KeyVerifier) -> None:
        self._verifier = verifier

    async def verify_token(self, token: str) -> AccessToken | None:
        """An AccessToken for a valid key, None otherwise (the SDK then answers 401)."""
        principal = await anyio.to_thread.run_sync(self._verifier.verify, token)
        if principal is None:
            return None
        scopes = [MEMORY_SCOPE, ADMIN_SCOPE] if principal.admin else [MEMORY_SCOPE]
        return AccessToken(
            token=token,
            client_id=principal.key_id,
            subject=principal.tenant,
            scopes=scopes,
            claims={"tenant": principal.tenant, "admin": principal.admin},
        )


def principal_from_access_token(access: AccessToken) -> Principal:
    """The Principal an AccessToken of McpKeyVerifier stands for."""
    return Principal(tenant=str(access.subject), key_id=access.client_id, admin=ADMIN_SCOPE in access.scopes)
