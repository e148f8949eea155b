"""The pages of the memory browser: a FastAPI sub-application mounted at /ui by `create_app`.

Server-rendered Jinja2 (autoescaped: stored content is hostile input and is only ever rendered as text), one
small static script (ui.js) that only improves forms, and a Content-Security-Policy that allows no inline
script at all. Every page needs a session (see `sessions`); every POST checks the session's CSRF token. Reads go
through `memory_runtime.memory.browse` and the runtime user of the viewer's namespace, so a URL naming a user,
fact, entity or turn outside it is the same 404 page as one that never existed.
"""

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memory_ops.server.errors import ApiError, from_exception
from memory_ops.server.keys import KeyVerifier, Principal
from memory_ops.server.service import MemoryService
from memory_ops.server.tenancy import MAX_PUBLIC_ID_CHARS
from memory_ops.server.ui import drawing
from memory_ops.server.ui.sessions import LOGIN_COOKIE, SESSION_COOKIE, SESSION_TTL_S, Session, SessionStore, new_token
from memory_ops.server.ui.sessions import same_token as _same
from memory_runtime.api import AgentMemory
from memory_runtime.domain import validation
from memory_runtime.domain.errors import AgentMemoryError, NotFoundError, ValidationError
from memory_runtime.memory import browse

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
USERS_PER_PAGE = 25
CONVERSATIONS_PER_PAGE = 20
TURNS_PER_PAGE = 50
FACTS_PER_PAGE = 50
ENTITIES_PER_PAGE = 50
SEARCH_TOP_K = 10

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class SignInRequired(Exception):
    """The request has no live session: answered with a redirect to the sign-in page."""


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template, whatever its name: stored content is hostile
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["q"] = lambda v: quote(str(v), safe="")
    env.filters["num"] = _number
    env.filters["pct"] = lambda v: "—" if v is None else f"{100 * v:.0f}%"
    return env


def parse_moment(text: str | None) -> datetime | None:
    """A moment typed in a form (ISO 8601 or the datetime-local `YYYY-MM-DDTHH:MM`); naive means UTC."""
    if text is None or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{text!r} is not a date and time (use YYYY-MM-DDTHH:MM, UTC)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _SecurityHeaders:
    """ASGI wrapper of the sub-application: the security headers (CSP, nosniff, no framing, no caching) on
    every response, and `Server-Timing: app;dur=<ms>` (the time until the page was rendered; bench_ui reads it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                timing = f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()
                message = {**message, "headers": [*message.get("headers", []), *HEADERS, (b"server-timing", timing)]}
            await send(message)

        await self.app(scope, receive, with_headers)


def create_ui_app(service: MemoryService, verifier: KeyVerifier, *, operator_code: str | None = None) -> ASGIApp:
    """The memory browser over the server's stores; `operator_code` also signs in the local operator."""
    stores = service.memories.stores
    sessions = SessionStore(verifier, operator_code)
    env = _environment()
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # ---- plumbing ---------------------------------------------------------------------------------------
    def base(request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/")

    def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        session = getattr(request.state, "session", None)
        defaults = {
            "base": base(request),
            "viewer": session.viewer if session else None,
            "csrf": session.csrf if session else "",
            "user_id": None,
            "section": None,
        }
        html = env.get_template(template).render({**defaults, **context})
        return HTMLResponse(html, status_code=status)

    def session_of(request: Request) -> Session:
        session = sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            raise SignInRequired()
        request.state.session = session
        return session

    def check_csrf(session: Session, token: str) -> None:
        if not _same(token, session.csrf):
            raise ApiError(403, "csrf", "the form's CSRF token does not match this session; reload the page")

    def runtime_user(session: Session, user_id: str) -> str:
        """The runtime user of one of the viewer's users; a malformed id is just an unknown user."""
        try:
            if len(validation.key(user_id, "user_id")) > MAX_PUBLIC_ID_CHARS:
                raise ValidationError("user_id is too long")
        except ValidationError:
            raise NotFoundError(f"no user {user_id!r}") from None
        return session.viewer.prefix + user_id

    def public(session: Session, runtime_id: str | None) -> str | None:
        prefix = session.viewer.prefix
        if runtime_id is not None and prefix and runtime_id.startswith(prefix):
            return runtime_id[len(prefix) :]
        return runtime_id

    def user_page(request: Request, user_id: str) -> tuple[Session, str, browse.UserSummary]:
        """The session, runtime user and counts of a user page (404 for a user with nothing stored)."""
        session = session_of(request)
        runtime_id = runtime_user(session, user_id)
        return session, runtime_id, browse.user_summary(stores, runtime_id)

    def memory_of(session: Session, runtime_id: str) -> AgentMemory:
        viewer = session.viewer
        if viewer.tenant is not None:
            return service.memories.get(viewer.tenant, runtime_id[len(viewer.prefix) :])
        return AgentMemory(runtime_id, stores=stores)

    def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
        return render(request, "error.html", status=status, title=title, message=message)

    # ---- errors -----------------------------------------------------------------------------------------
    async def on_sign_in_required(request: Request, exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{base(request)}/login?next={quote(target, safe='')}", status_code=303)

    async def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, NotFoundError):
            return error_page(request, 404, "Not found", "There is nothing here for you: no such user or id.")
        error = from_exception(exc)
        if error.code == "internal_error":
            log.error("memory browser: internal error on %s", request.url.path, exc_info=exc)
        return error_page(request, error.status, error.code.replace("_", " ").capitalize(), error.message)

    async def on_bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        parts = [f"{'.'.join(str(x) for x in p.get('loc', ()))}: {p.get('msg')}" for p in exc.errors()]
        return error_page(request, 400, "Bad request", "; ".join(parts) or "invalid request")

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return error_page(request, 404, "Not found", "There is no such page.")
        return error_page(request, exc.status_code, "Request refused", str(exc.detail))

    app.add_exception_handler(SignInRequired, on_sign_in_required)
    app.add_exception_handler(ApiError, on_error)
    app.add_exception_handler(AgentMemoryError, on_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_bad_request)
    app.add_exception_handler(Exception, on_error)  # a page without a stack trace; the log has it

    # ---- signing in -------------------------------------------------------------------------------------
    def safe_next(request: Request, target: str | None) -> str:
        root = base(request)
        if target and target.startswith(root + "/") and not target.startswith("//") and "\\" not in target:
            return target
        return f"{root}/users"

    def set_cookie(request: Request, response: Response, name: str, value: str, path: str, max_age: int) -> None:
        """A cookie scripts cannot read and other sites never send (HTTPS-only when served over HTTPS)."""
        secure = request.url.scheme == "https"
        response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure, path=path, max_age=max_age)

    def login_form(request: Request, target: str | None, error: str | None = None, status: int = 200) -> Response:
        token = new_token()
        response = render(request, "login.html", status=status, login_csrf=token, next=target or "", error=error)
        set_cookie(request, response, LOGIN_COOKIE, token, f"{base(request)}/login", 3600)
        return response

    @app.get("/")
    def index(request: Request) -> Response:
        return RedirectResponse(f"{base(request)}/users", status_code=303)

    @app.get("/login")
    def login_page(request: Request, next: str | None = None) -> Response:
        return login_form(request, next)

    @app.post("/login")
    def login(
        request: Request,
        key: Annotated[str, Form(max_length=512)] = "",
        csrf: Annotated[str, Form(max_length=128)] = "",
        next: Annotated[str, Form(max_length=4096)] = "",
    ) -> Response:
        if not _same(csrf, request.cookies.get(LOGIN_COOKIE)):
            return login_form(request, next, "The sign-in form expired; please try again.", 403)
        made = sessions.sign_in(key.strip())
        if made is None:
            return login_form(request, next, "That key is not a valid, unrevoked API key.", 401)
        sid, _ = made
        response = RedirectResponse(safe_next(request, next), status_code=303)
        set_cookie(request, response, SESSION_COOKIE, sid, base(request) or "/", SESSION_TTL_S)
        response.delete_cookie(LOGIN_COOKIE, path=f"{base(request)}/login")
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        check_csrf(session_of(request), csrf)
        sessions.sign_out(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse(f"{base(request)}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=base(request) or "/")
        return response

    # ---- users ------------------------------------------------------------------------------------------
    @app.get("/users")
    def users(
        request: Request,
        q: Annotated[str | None, Query(max_length=256)] = None,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Response:
        session = session_of(request)
        page = browse.users(stores, session.viewer.prefix, q, USERS_PER_PAGE, offset)
        rows = [(public(session, u.user_id), u) for u in page.items]
        return render(request, "users.html", page=page, rows=rows, q=q or "")

    @app.get("/users/{user_id}")
    def user(request: Request, user_id: str, offset: Annotated[int, Query(ge=0)] = 0) -> Response:
        session, runtime_id, summary = user_page(request, user_id)
        page = browse.conversations(stores, runtime_id, CONVERSATIONS_PER_PAGE, offset)
        rows = [{**c, "public_id": public(session, c["id"])} for c in page.items]
        return render(request, "user.html", user_id=user_id, section="overview", summary=summary, page=page, rows=rows)

    @app.get("/users/{user_id}/conversation")
    def conversation(
        request: Request,
        user_id: str,
        id: Annotated[str, Query(min_length=1, max_length=MAX_PUBLIC_ID_CHARS)],
        offset: Annotated[int, Query(ge=0)] = 0,
        highlight: Annotated[str | None, Query(max_length=256)] = None,
    ) -> Response:
        session, runtime_id, summary = user_page(request, user_id)
        runtime_conv = session.viewer.prefix + id
        conv = browse.conversation(stores, runtime_id, runtime_conv)
        page = browse.conversation_turns(stores, runtime_id, runtime_conv, TURNS_PER_PAGE, offset)
        return render(
            request,
            "conversation.html",
            user_id=user_id,
            section="overview",
            summary=summary,
            conversation={**conv, "public_id": id},
            page=page,
            highlight=highlight,
        )

    @app.get("/users/{user_id}/turns/{turn_id}")
    def turn(request: Request, user_id: str, turn_id: str) -> Response:
        session, runtime_id, _ = user_page(request, user_id)
        where = browse.locate_turn(stores, runtime_id, turn_id)
        offset = where.rank // TURNS_PER_PAGE * TURNS_PER_PAGE
        conv = quote(public(session, where.conversation_id) or "", safe="")
        target = (
            f"{base(request)}/users/{quote(user_id, safe='')}/conversation?id={conv}&offset={offset}"
            f"&highlight={where.turn_id}#turn-{where.turn_id}"
        )
        return RedirectResponse(target, status_code=303)

    # ---- facts ------------------------------------------------------------------------------------------
    @app.get("/users/{user_id}/facts")
    def facts(
        request: Request,
        user_id: str,
        show: Annotated[str, Query(pattern="^(all|current)$")] = "all",
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Response:
        _, runtime_id, summary = user_page(request, user_id)
        page = browse.facts(stores, runtime_id, include_invalid=show == "all", limit=FACTS_PER_PAGE, offset=offset)
        return render(request, "facts.html", user_id=user_id, section="facts", summary=summary, page=page, show=show)

    @app.get("/users/{user_id}/facts/{fact_id}")
    def fact(request: Request, user_id: str, fact_id: str) -> Response:
        _, runtime_id, summary = user_page(request, user_id)
        found = browse.fact(stores, runtime_id, fact_id)
        return render(request, "fact.html", user_id=user_id, section="facts", summary=summary, fact=found)

    @app.get("/users/{user_id}/timeline")
    def timeline(
        request: Request,
        user_id: str,
        as_of: Annotated[str | None, Query(max_length=64)] = None,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Response:
        _, runtime_id, summary = user_page(request, user_id)
        moment = parse_moment(as_of)
        page = browse.facts(stores, runtime_id, as_of=moment, include_invalid=True, limit=FACTS_PER_PAGE, offset=offset)
        first, last = browse.fact_span(stores, runtime_id)
        end = max(last, datetime.now(UTC)) if last else None
        chart = drawing.timeline(page.items, first, end, moment)
        return render(
            request,
            "timeline.html",
            user_id=user_id,
            section="timeline",
            summary=summary,
            page=page,
            chart=chart,
            as_of=moment,
            as_of_text="" if moment is None else moment.strftime("%Y-%m-%dT%H:%M"),
            first=first,
            end=end,
        )

    # ---- entities, goals, procedural ------------------------------------------------------------------
    @app.get("/users/{user_id}/entities")
    def entities(request: Request, user_id: str, offset: Annotated[int, Query(ge=0)] = 0) -> Response:
        _, runtime_id, summary = user_page(request, user_id)
        page = browse.entities(stores, runtime_id, ENTITIES_PER_PAGE, offset)
        return render(request, "entities.html", user_id=user_id, section="entities", summary=summary, page=page)

    @app.get("/users/{user_id}/entities/{entity_id}")
    def entity(
        request: Request, user_id: str, entity_id: str, depth: Annotated[int, Query(ge=1, le=2)] = 1
    ) -> Response:
        _, runtime_id, summary = user_page(request, user_id)
        hood = browse.neighbourhood(stores, runtime_id, entity_id, depth)
        center = hood.entity.model_dump()
        graph = drawing.neighbourhood(center, list(hood.neighbours), hood.edges)
        about = browse.facts_about(stores, runtime_id, entity_id)
        return render(
            request,
            "entity.html",
            user_id=user_id,
            section="entities",
            summary=summary,
            entity=center,
            hood=hood,
            graph=graph,
            facts=about,
        )

    @app.get("/users/{user_id}/goals")
    def goals(request: Request, user_id: str) -> Response:
        _, runtime_id, summary = user_page(request, user_id)
        found = browse.goals(stores, runtime_id)
        by_id = {g.id: g for g in found}
        children: dict[str | None, list[Any]] = {}
        for g in found:
            children.setdefault(g.parent_id if g.parent_id in by_id else None, []).append(g)
        return render(
            request, "goals.html", user_id=user_id, section="goals", summary=summary, children=children, by_id=by_id
        )

    @app.get("/users/{user_id}/procedural")
    def procedural(request: Request, user_id: str) -> Response:
        session, runtime_id, summary = user_page(request, user_id)
        memory = memory_of(session, runtime_id)
        tools = memory.procedural.get_tool_stats()
        return render(
            request,
            "procedural.html",
            user_id=user_id,
            section="procedural",
            summary=summary,
            tools=tools,
            strategies=browse.strategies(stores, runtime_id),
        )

    # ---- search -----------------------------------------------------------------------------------------
    @app.get("/users/{user_id}/search")
    def search(request: Request, user_id: str, q: Annotated[str | None, Query(max_length=4000)] = None) -> Response:
        session, runtime_id, summary = user_page(request, user_id)
        bundle = None
        if q and q.strip():
            bundle = memory_of(session, runtime_id).remember(q, SEARCH_TOP_K)
            turns = [
                t.model_copy(update={"conversation_id": public(session, t.conversation_id)})
                for t in bundle.relevant_turns
            ]
            bundle = bundle.model_copy(update={"relevant_turns": turns})
        return render(
            request, "search.html", user_id=user_id, section="search", summary=summary, q=q or "", bundle=bundle
        )

    # ---- forgetting a user ------------------------------------------------------------------------------
    @app.get("/users/{user_id}/forget")
    def forget_page(request: Request, user_id: str) -> Response:
        _, _, summary = user_page(request, user_id)
        return render(request, "forget.html", user_id=user_id, section="forget", summary=summary, error=None)

    @app.post("/users/{user_id}/forget")
    def forget(
        request: Request,
        user_id: str,
        csrf: Annotated[str, Form(max_length=128)] = "",
        confirm: Annotated[str, Form(max_length=MAX_PUBLIC_ID_CHARS + 64)] = "",
    ) -> Response:
        session, runtime_id, summary = user_page(request, user_id)
        check_csrf(session, csrf)
        viewer = session.viewer
        if not viewer.admin:
            raise ApiError(403, "forbidden", "Forgetting a user needs an admin key of this tenant.")
        if confirm != user_id:
            error = "The confirmation does not match the user id; nothing was removed."
            return render(request, "forget.html", 400, user_id=user_id, section="forget", summary=summary, error=error)
        if viewer.tenant is not None:
            principal = Principal(viewer.tenant, viewer.key_id or "", viewer.admin)
            removed = service.forget_user(principal, user_id).removed
        else:
            removed = memory_of(session, runtime_id).forget_user()
        return render(request, "forgotten.html", user_id=None, forgotten=user_id, removed=removed)

    return _SecurityHeaders(app)
