"""Who is looking: sign-in sessions of the memory browser and their CSRF tokens.

A session is a random 256-bit id in an HttpOnly, SameSite=Strict cookie scoped to /ui; the server keeps what
it stands for in memory (so a restart signs everyone out, and no key ever travels in a cookie). A session made
with an API key re-verifies that key on every request (through the server's `KeyVerifier` and its short cache),
so revoking the key ends the session within `MEMORY_SERVER_KEY_CACHE_S`. Every form carries the session's
CSRF token, and the sign-in form a token of its own (double-submit cookie), compared in constant time.

A viewer sees one namespace of runtime users: a tenant's (`<tenant>:<user_id>`, see `tenancy`), or, for the
operator signed in by `agent-memory ui` with its one-time local token, every runtime user as stored.
"""

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from memory_ops.server.keys import KeyVerifier
from memory_ops.server.tenancy import SEPARATOR

SESSION_COOKIE = "am_session"
LOGIN_COOKIE = "am_login"
SESSION_TTL_S = 12 * 3600
MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Viewer:
    """Whose memories a session shows: a tenant (prefix `<tenant>:`) or the local operator (prefix '')."""

    tenant: str | None
    admin: bool
    key_id: str | None = None

    @property
    def prefix(self) -> str:
        """The runtime user id prefix of this viewer's users."""
        return "" if self.tenant is None else f"{self.tenant}{SEPARATOR}"

    @property
    def label(self) -> str:
        """How the page header names the viewer."""
        who = f"tenant {self.tenant}" if self.tenant is not None else "local operator (all users)"
        return f"{who} · {'admin' if self.admin else 'read-only'}"


@dataclass
class Session:
    """One signed-in browser: its viewer, the key it signed in with (None for the local token), its CSRF token."""

    viewer: Viewer
    key: str | None
    csrf: str
    expires: float


def new_token() -> str:
    """A random URL-safe token of 256 bits."""
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two tokens; False when either is missing."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class SessionStore:
    """Sessions by id, each living SESSION_TTL_S after its last use."""

    def __init__(self, verifier: KeyVerifier, operator_code: str | None = None) -> None:
        self._verifier = verifier
        self._operator_code = operator_code
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def sign_in(self, key: str) -> tuple[str, Session] | None:
        """A new session for a valid API key (or the local token); None for anything else."""
        if self._operator_code is not None and same_token(key, self._operator_code):
            viewer, stored_key = Viewer(tenant=None, admin=True), None
        else:
            principal = self._verifier.verify(key)
            if principal is None:
                return None
            viewer, stored_key = Viewer(principal.tenant, principal.admin, principal.key_id), key
        session = Session(viewer, stored_key, new_token(), time.monotonic() + SESSION_TTL_S)
        sid = new_token()
        with self._lock:
            now = time.monotonic()
            if len(self._sessions) >= MAX_SESSIONS:
                self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
                while len(self._sessions) >= MAX_SESSIONS:
                    self._sessions.pop(next(iter(self._sessions)))
            self._sessions[sid] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        """The live session of a cookie value: None when unknown, expired, or its key was revoked."""
        if not sid:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None or session.expires <= now:
                self._sessions.pop(sid, None)
                return None
            session.expires = now + SESSION_TTL_S
        if session.key is not None and self._verifier.verify(session.key) is None:
            self.sign_out(sid)
            return None
        return session

    def sign_out(self, sid: str | None) -> None:
        """Forget a session."""
        if sid:
            with self._lock:
                self._sessions.pop(sid, None)
