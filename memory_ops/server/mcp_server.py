"""The MCP server (official `mcp` SDK 2.x, `MCPServer`): the memory tools and resources an LLM agent calls.

Two transports, one set of tools over the same `MemoryService`:
* streamable HTTP, mounted at `/mcp` in `agent-memory serve`: the SDK's bearer middleware checks the tenant key
  (`auth.McpKeyVerifier`), and each tool takes the user from its explicit `user_id` argument within that tenant;
* stdio (`agent-memory mcp --user-id U`, for desktop clients): the key comes from MEMORY_API_KEY, checked once at
  start, and every call acts for the one user the server was started for.
A user is never taken from free text: only from the key and the `user_id` argument (or the stdio start-up).
"""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from memory_ops.server import schemas
from memory_ops.server.auth import MEMORY_SCOPE, McpKeyVerifier, principal_from_access_token
from memory_ops.server.errors import from_exception, unauthorized
from memory_ops.server.keys import KeyVerifier, Principal
from memory_ops.server.service import MemoryService
from memory_runtime.domain.models import Entity, Fact, Goal, Role, StrategyMatch, Turn

T = TypeVar("T")

INSTRUCTIONS = (
    "Long-term memory of the user. Call `remember` before answering anything that may depend on what the user "
    "said or did before; call `store_turn` for each message worth keeping, `learn_fact` for durable facts about "
    "the user or their world, and `add_goal` for what they are working towards. Every tool acts for one user, "
    "named by `user_id` (over stdio: the user the server was started for)."
)
PREDICATE = "E.g. lives_in, works_for, likes: a newer lives_in supersedes the old one."
USER_ID = "The id of the end user whose memory this is (over stdio it may be left out: the server's own user)."


class StrategyList(BaseModel):
    """Strategies that worked for a task, best first."""

    strategies: list[StrategyMatch]


class Identity:
    """Who a tool call acts for: the principal and the user."""

    def resolve(self, user_id: str | None) -> tuple[Principal, str]:
        """The (principal, user_id) of the current call, or a ToolError."""
        raise NotImplementedError


class HttpIdentity(Identity):
    """Over HTTP: the principal of the request's bearer key, the user of the `user_id` argument."""

    def resolve(self, user_id: str | None) -> tuple[Principal, str]:
        token = get_access_token()
        if token is None:
            raise ToolError(str(unauthorized()))
        if not user_id:
            raise ToolError("[invalid_input] user_id is required: the id of the end user whose memory this is")
        return principal_from_access_token(token), user_id


class StdioIdentity(Identity):
    """Over stdio: the principal of MEMORY_API_KEY and the user of --user-id, fixed at start-up."""

    def __init__(self, principal: Principal, user_id: str) -> None:
        self.principal = principal
        self.user_id = user_id

    def resolve(self, user_id: str | None) -> tuple[Principal, str]:
        if user_id not in (None, "", self.user_id):
            raise ToolError(f"[forbidden] this server acts for user {self.user_id!r} only (agent-memory mcp --user-id)")
        return self.principal, self.user_id


def _run(call: Callable[[], T]) -> T:
    """Run a service call; any failure becomes a ToolError `[code] message` (the same codes as the REST API)."""
    try:
        return call()
    except ToolError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the client as a tool error
        raise ToolError(str(from_exception(exc))) from exc


def _register(mcp: MCPServer, service: MemoryService, identity: Identity) -> None:
    """Register the tools and resources on `mcp`."""
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    write = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)

    @mcp.tool(annotations=write)
    def store_turn(
        conversation_id: str,
        index: int,
        role: Role,
        content: str,
        user_id: Annotated[str | None, Field(description=USER_ID)] = None,
        timestamp: datetime | None = None,
        turn_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> schemas.WriteResultOut:
        """Store one message of a conversation in long-term memory, durably. `index` is the message's position in
        the conversation (0, 1, 2, ...); storing the same message again is harmless, storing different content at
        a used index is refused. Returns the stored turn id."""

        def call() -> schemas.WriteResultOut:
            principal, user = identity.resolve(user_id)
            fields: dict[str, Any] = {"conversation_id": conversation_id, "index": index, "role": role}
            fields.update(content=content, timestamp=timestamp, metadata=metadata or {})
            if turn_id is not None:
                fields["id"] = turn_id
            return service.store_turns(principal, user, [Turn(**fields)])

        return _run(call)

    @mcp.tool(annotations=read_only)
    def remember(
        query: str,
        user_id: Annotated[str | None, Field(description=USER_ID)] = None,
        top_k: Annotated[int, Field(ge=1, le=200)] = 10,
        time_window_hours: Annotated[float | None, Field(gt=0, description="Only turns of the last N hours.")] = None,
        as_of: Annotated[
            datetime | None, Field(description="Recall what was believed at this time (ISO 8601).")
        ] = None,
        max_tokens: Annotated[int, Field(ge=1, le=100_000, description="Token budget of the returned context.")] = 1500,
    ) -> schemas.RememberResponse:
        """Recall what is known that is relevant to `query`: past conversation turns, facts (with their validity),
        entities, strategies that worked, and active goals. `context` is all of it packed into `max_tokens`,
        ready to put in a prompt."""

        def call() -> schemas.RememberResponse:
            principal, user = identity.resolve(user_id)
            request = schemas.RememberRequest(
                query=query, top_k=top_k, time_window_hours=time_window_hours, as_of=as_of, max_tokens=max_tokens
            )
            return service.remember(principal, user, request)

        return _run(call)

    @mcp.tool(annotations=write)
    def learn_fact(
        claim: str,
        user_id: Annotated[str | None, Field(description=USER_ID)] = None,
        confidence: Annotated[float, Field(ge=0, le=1)] = 0.9,
        source: Literal["user_stated", "extraction", "inferred"] = "user_stated",
        subject: Annotated[str | None, Field(description="Who or what the fact is about, e.g. 'user'.")] = None,
        predicate: Annotated[str | None, Field(description=PREDICATE)] = None,
        object: Annotated[str | None, Field(description="The value, e.g. 'Lisbon'.")] = None,
        source_turn_ids: Annotated[list[str] | None, Field(description="Ids of the turns the fact comes from.")] = None,
        valid_at: Annotated[datetime | None, Field(description="Since when it is true in the world.")] = None,
    ) -> Fact:
        """Remember a durable fact about the user or their world, e.g. 'The user lives in Lisbon'. Give subject,
        predicate and object when you can: a newer fact with the same subject and a single-valued predicate
        (lives_in, works_for, name_is, favorite_*) supersedes the older one, which is kept as history."""

        def call() -> Fact:
            principal, user = identity.resolve(user_id)
            request = schemas.LearnFactRequest(
                claim=claim, confidence=confidence, source=source, subject=subject, predicate=predicate,
                object=object, source_turn_ids=source_turn_ids or [], valid_at=valid_at,
            )  # fmt: skip
            return service.learn_fact(principal, user, request)

        return _run(call)

    @mcp.tool(annotations=read_only)
    def search_facts(
        query: str,
        user_id: Annotated[str | None, Field(description=USER_ID)] = None,
        top_k: Annotated[int, Field(ge=1, le=200)] = 10,
    ) -> schemas.FactSearchResult:
        """Find the currently valid facts about the user most relevant to `query`, best first, each with its
        confidence, validity window and source turns."""
        return _run(lambda: service.search_facts(*identity.resolve(user_id), query, top_k))

    @mcp.tool(annotations=write)
    def upsert_entity(
        name: str,
        type: Annotated[
            str, Field(description="Person, Organization, Place, Product, Event, Concept, ...")
        ] = "Concept",
        user_id: Annotated[str | None, Field(description=USER_ID)] = None,
        aliases: list[str] | None = None,
        description: str | None = None,
    ) -> Entity:
        """Remember a person, organisation, place, thing or concept the user talks about; the same name and type
        again merges into the stored entity. Returns it with its id (use the id in learn_fact's provenance)."""

        def call() -> Entity:
            principal, user = identity.resolve(user_id)
            entity = Entity(name=name, type=type, aliases=aliases or [], description=description)
            return service.upsert_entity(principal, user, entity)

        return _run(call)

    @mcp.tool(annotations=write)
    def add_goal(
        description: str,
        user_id: Annotated[str | None, Field(description=USER_ID)] = None,
        priority: Annotated[int, Field(ge=1, le=5, description="5 is the highest.")] = 3,
        parent_id: Annotated[str | None, Field(description="The id of the goal this is a sub-goal of.")] = None,
        deadline: datetime | None = None,
    ) -> Goal:
        """Record something the user is working towards (a sub-goal with parent_id). Returns it with its id."""

        def call() -> Goal:
            principal, user = identity.resolve(user_id)
            goal = Goal(description=description, priority=priority, parent_id=parent_id, deadline=deadline)
            return service.add_goal(principal, user, goal)

        return _run(call)

    @mcp.tool(annotations=read_only)
    def list_goals(user_id: Annotated[str | None, Field(description=USER_ID)] = None) -> schemas.GoalList:
        """The user's active goals, highest priority first."""
        return _run(lambda: service.active_goals(*identity.resolve(user_id)))

    @mcp.tool(annotations=write)
    def record_tool_use(
        tool_name: str,
        success: bool,
        latency_ms: Annotated[float, Field(ge=0)],
        user_id: Annotated[str | None, Field(description=USER_ID)] = None,
        tool_input: Any = None,
        tool_output: Any = None,
        error: str | None = None,
        conversation_id: str | None = None,
    ) -> schemas.IdResponse:
        """Record that a tool was called, with its input, output and whether it worked, so that the strategies
        that work can be learnt. Returns the invocation id."""

        def call() -> schemas.IdResponse:
            principal, user = identity.resolve(user_id)
            request = schemas.ToolUsageRequest(
                tool_name=tool_name, tool_input=tool_input, tool_output=tool_output, success=success,
                latency_ms=latency_ms, error=error, conversation_id=conversation_id,
            )  # fmt: skip
            return schemas.IdResponse(id=service.record_tool_usage(principal, user, request))

        return _run(call)

    @mcp.tool(annotations=read_only)
    def what_worked_for(
        task: str,
        user_id: Annotated[str | None, Field(description=USER_ID)] = None,
        top_k: Annotated[int, Field(ge=1, le=200)] = 5,
    ) -> StrategyList:
        """Strategies (tool sequences) that worked for tasks like `task`, ranked by similarity and success rate."""
        return _run(lambda: StrategyList(strategies=service.what_worked_for(*identity.resolve(user_id), task, top_k)))

    @mcp.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True))
    def forget_user(user_id: Annotated[str | None, Field(description=USER_ID)] = None) -> schemas.ForgetResult:
        """Erase everything remembered about the user, in every store. Irreversible. Needs an admin key."""
        return _run(lambda: service.forget_user(*identity.resolve(user_id)))

    @mcp.resource("memory://users/{user_id}/profile", mime_type="application/json")
    def profile(user_id: str) -> str:
        """The user's profile: preferences, expertise and interests."""
        context = _run(lambda: service.user_context(*identity.resolve(user_id)))
        return json.dumps(context, default=str)

    @mcp.resource("memory://users/{user_id}/goals", mime_type="application/json")
    def goals(user_id: str) -> str:
        """The user's active goals, highest priority first."""
        return _run(lambda: service.active_goals(*identity.resolve(user_id))).model_dump_json()


def build_http_mcp_server(service: MemoryService, verifier: KeyVerifier, resource_url: str) -> MCPServer:
    """The MCP server for streamable HTTP, guarded by the tenant keys; `resource_url` is its public /mcp URL."""
    mcp = MCPServer(
        name="agent-memory",
        version="0.1.0",
        instructions=INSTRUCTIONS,
        token_verifier=McpKeyVerifier(verifier),
        auth=AuthSettings(
            issuer_url=resource_url.rsplit("/mcp", 1)[0] or resource_url,
            resource_server_url=resource_url,
            required_scopes=[MEMORY_SCOPE],
            validate_token_resource=False,
        ),
    )
    _register(mcp, service, HttpIdentity())
    return mcp


def build_stdio_mcp_server(service: MemoryService, principal: Principal, user_id: str) -> MCPServer:
    """The MCP server for stdio, acting as `principal` for `user_id` only."""
    mcp = MCPServer(name="agent-memory", version="0.1.0", instructions=INSTRUCTIONS)
    _register(mcp, service, StdioIdentity(principal, user_id))
    return mcp
