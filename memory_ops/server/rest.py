"""The REST API: versioned routes under `/v1`, one per operation of `MemoryService`, for the user in the path.

Every route needs a tenant key (see `auth`); the user is `{user_id}` of that key's tenant (see `tenancy`). Every
route documents its error responses (the `ErrorResponse` model of `errors`), and request bodies are parsed as strict
JSON: NaN, Infinity and numbers too large for a float are malformed JSON (400), not values.
"""

import json
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.routing import APIRoute

from memory_ops.server import schemas
from memory_ops.server.auth import require_principal
from memory_ops.server.errors import openapi_responses
from memory_ops.server.keys import Principal
from memory_ops.server.service import MemoryService
from memory_ops.server.tenancy import MAX_PUBLIC_ID_CHARS
from memory_runtime.domain.models import Entity, Fact, Goal, Neighbour, StrategyMatch, ToolStats, Turn, UserContext


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} does not fit a float")
    return value


def strict_json(body: bytes) -> Any:
    """JSON as RFC 8259 defines it: no NaN or Infinity, no number that overflows to infinity."""
    try:
        return json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise
        raise json.JSONDecodeError(str(exc), body.decode("utf-8", "replace"), 0) from None


class StrictJSONRequest(Request):
    """A request whose `json()` is `strict_json`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_json(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """An APIRoute that parses its body with `strict_json`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler


def _service(request: Request) -> MemoryService:
    return request.app.state.service


Caller = Annotated[Principal, Depends(require_principal)]
Service = Annotated[MemoryService, Depends(_service)]
UserId = Annotated[str, Path(min_length=1, max_length=MAX_PUBLIC_ID_CHARS, description="The tenant's user.")]
ItemId = Annotated[str, Path(min_length=1, max_length=256)]
Limit = Annotated[int, Query(ge=1, le=10_000)]

_COMMON = (400, 401, 413, 422, 429, 503)


def _errors(*extra: int) -> dict[int | str, dict[str, Any]]:
    return openapi_responses(*sorted({*_COMMON, *extra}))


router = APIRouter(prefix="/v1", route_class=StrictJSONRoute, tags=["memory"])
USER = "/users/{user_id}"


@router.get("/whoami", response_model=schemas.Whoami, responses=openapi_responses(401, 503))
def whoami(principal: Caller) -> schemas.Whoami:
    """The tenant and key this request authenticated as."""
    return schemas.Whoami(tenant=principal.tenant, key_id=principal.key_id, admin=principal.admin)


# ---- turns ---------------------------------------------------------------------------------------------
@router.post(USER + "/turns", status_code=201, responses=_errors(409))
def store_turn(user_id: UserId, turn: Turn, principal: Caller, service: Service) -> schemas.WriteResultOut:
    """Store one turn durably. Idempotent on (conversation_id, index): the same content again is a duplicate,
    different content is 409 turn_conflict."""
    return service.store_turns(principal, user_id, [turn])


@router.post(USER + "/turns/batch", status_code=201, responses=_errors(409))
def store_turns(
    user_id: UserId, batch: schemas.TurnBatch, principal: Caller, service: Service
) -> schemas.WriteResultOut:
    """Store up to 1000 turns, all or nothing."""
    return service.store_turns(principal, user_id, batch.turns)


@router.get(USER + "/turns", responses=_errors())
def recent_turns(
    user_id: UserId,
    principal: Caller,
    service: Service,
    conversation_id: Annotated[str | None, Query(min_length=1, max_length=MAX_PUBLIC_ID_CHARS)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 20,
) -> schemas.RecentTurns:
    """The latest stored turns of a conversation (or of all the user's conversations), oldest first."""
    return service.recent_turns(principal, user_id, conversation_id, limit)


# ---- recall --------------------------------------------------------------------------------------------
@router.post(USER + "/remember", responses=_errors())
def remember(
    user_id: UserId, request: schemas.RememberRequest, principal: Caller, service: Service
) -> schemas.RememberResponse:
    """Hybrid recall over the user's turns, facts, entities, strategies and goals (optionally as_of a time),
    with the bundle packed into a context string of max_tokens when asked."""
    return service.remember(principal, user_id, request)


# ---- facts ---------------------------------------------------------------------------------------------
@router.post(USER + "/facts", status_code=201, responses=_errors(404))
def learn_fact(user_id: UserId, request: schemas.LearnFactRequest, principal: Caller, service: Service) -> Fact:
    """Learn a fact; a newer object of a single-valued predicate supersedes the old fact (kept, invalidated)."""
    return service.learn_fact(principal, user_id, request)


@router.get(USER + "/facts", responses=_errors())
def list_facts(
    user_id: UserId,
    principal: Caller,
    service: Service,
    include_invalid: bool = False,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    limit: Limit = 100,
) -> schemas.FactList:
    """The user's facts with provenance and validity: current ones, all (include_invalid), or those valid at
    `as_of` (as known at `known_at`)."""
    return service.list_facts(
        principal, user_id, include_invalid=include_invalid, as_of=as_of, known_at=known_at, limit=limit
    )


@router.get(USER + "/facts/{fact_id}", responses=_errors(404))
def get_fact(user_id: UserId, fact_id: ItemId, principal: Caller, service: Service) -> Fact:
    """One fact with its source turns, extractor version and validity window."""
    return service.get_fact(principal, user_id, fact_id)


@router.post(USER + "/facts/{fact_id}/invalidate", responses=_errors(404))
def invalidate_fact(
    user_id: UserId, fact_id: ItemId, request: schemas.InvalidateFactRequest, principal: Caller, service: Service
) -> Fact:
    """Mark a fact no longer true from `at` (default now); it stays for as-of recall."""
    return service.invalidate_fact(principal, user_id, fact_id, request.at)


# ---- entities ------------------------------------------------------------------------------------------
@router.post(USER + "/entities", responses=_errors())
def upsert_entity(user_id: UserId, entity: Entity, principal: Caller, service: Service) -> Entity:
    """Create or merge an entity (same normalised name and type); returns it as stored."""
    return service.upsert_entity(principal, user_id, entity)


@router.get(USER + "/entities/{entity_id}", responses=_errors(404))
def get_entity(user_id: UserId, entity_id: ItemId, principal: Caller, service: Service) -> Entity:
    """One entity as stored."""
    return service.get_entity(principal, user_id, entity_id)


@router.get(USER + "/entities/{entity_id}/neighbours", responses=_errors(404))
def neighbours(
    user_id: UserId,
    entity_id: ItemId,
    principal: Caller,
    service: Service,
    depth: Annotated[int, Query(ge=1, le=2)] = 1,
) -> list[Neighbour]:
    """Entities within `depth` relations of an entity."""
    return service.neighbours(principal, user_id, entity_id, depth)


@router.post(USER + "/relations", status_code=204, responses=_errors(404))
def relate(user_id: UserId, request: schemas.RelationRequest, principal: Caller, service: Service) -> None:
    """Relate two of the user's entities with a whitelisted relationship type."""
    service.relate(principal, user_id, request)


# ---- goals ---------------------------------------------------------------------------------------------
@router.post(USER + "/goals", status_code=201, responses=_errors(404))
def add_goal(user_id: UserId, goal: Goal, principal: Caller, service: Service) -> Goal:
    """Add a goal; with parent_id, a sub-goal of one of the user's goals."""
    return service.add_goal(principal, user_id, goal)


@router.get(USER + "/goals", responses=_errors())
def active_goals(user_id: UserId, principal: Caller, service: Service) -> schemas.GoalList:
    """Active goals, highest priority first."""
    return service.active_goals(principal, user_id)


@router.get(USER + "/goals/{goal_id}", responses=_errors(404))
def get_goal(user_id: UserId, goal_id: ItemId, principal: Caller, service: Service) -> Goal:
    """One goal."""
    return service.get_goal(principal, user_id, goal_id)


@router.get(USER + "/goals/{goal_id}/subgoals", responses=_errors(404))
def subgoals(user_id: UserId, goal_id: ItemId, principal: Caller, service: Service) -> schemas.GoalList:
    """The sub-goals of a goal."""
    return service.subgoals(principal, user_id, goal_id)


@router.patch(USER + "/goals/{goal_id}", responses=_errors(404))
def set_goal_status(
    user_id: UserId, goal_id: ItemId, request: schemas.GoalStatusUpdate, principal: Caller, service: Service
) -> Goal:
    """Set a goal's status (active, completed, abandoned, blocked)."""
    return service.set_goal_status(principal, user_id, goal_id, request.status)


@router.post(USER + "/goals/{goal_id}/blockers", responses=_errors(404))
def add_blocker(
    user_id: UserId, goal_id: ItemId, request: schemas.BlockerRequest, principal: Caller, service: Service
) -> Goal:
    """Record that a goal is blocked by another of the user's goals."""
    return service.add_blocker(principal, user_id, goal_id, request.blocked_by_goal_id)


# ---- tools and strategies ------------------------------------------------------------------------------
@router.post(USER + "/tool-usage", status_code=201, responses=_errors(404))
def record_tool_usage(
    user_id: UserId, request: schemas.ToolUsageRequest, principal: Caller, service: Service
) -> schemas.IdResponse:
    """Audit one tool call and update the tool's statistics; returns the invocation id."""
    return schemas.IdResponse(id=service.record_tool_usage(principal, user_id, request))


@router.get(USER + "/tools", responses=_errors())
def tool_stats(
    user_id: UserId,
    principal: Caller,
    service: Service,
    tool_name: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
) -> list[ToolStats]:
    """Usage, success rate and mean latency per tool."""
    return service.tool_stats(principal, user_id, tool_name)


@router.post(USER + "/strategies", status_code=201, responses=_errors())
def learn_strategy(
    user_id: UserId, request: schemas.StrategyRequest, principal: Caller, service: Service
) -> schemas.IdResponse:
    """Record a strategy for a task type; returns its id."""
    return schemas.IdResponse(id=service.learn_strategy(principal, user_id, request))


@router.get(USER + "/strategies", responses=_errors())
def what_worked_for(
    user_id: UserId,
    principal: Caller,
    service: Service,
    task: Annotated[str, Query(min_length=1, max_length=4000)],
    top_k: Annotated[int, Query(ge=1, le=200)] = 5,
) -> list[StrategyMatch]:
    """Strategies for a task, ranked by similarity × success rate."""
    return service.what_worked_for(principal, user_id, task, top_k)


@router.post(USER + "/strategies/{strategy_id}/outcomes", responses=_errors(404))
def reinforce_strategy(
    user_id: UserId, strategy_id: ItemId, request: schemas.OutcomeRequest, principal: Caller, service: Service
) -> StrategyMatch:
    """Count one more success or failure of a strategy."""
    return service.reinforce_strategy(principal, user_id, strategy_id, request.success)


# ---- the user ------------------------------------------------------------------------------------------
@router.get(USER + "/context", responses=_errors())
def user_context(user_id: UserId, principal: Caller, service: Service) -> UserContext:
    """Preferences, expertise and interests of the user."""
    return service.user_context(principal, user_id)


@router.put(USER + "/preferences/{key}", status_code=204, responses=_errors())
def set_preference(
    user_id: UserId,
    key: Annotated[str, Path(min_length=1, max_length=256)],
    request: schemas.PreferenceRequest,
    principal: Caller,
    service: Service,
) -> None:
    """Record a user preference."""
    service.set_preference(principal, user_id, key, request)


@router.get(USER + "/timeline", responses=_errors())
def timeline(
    user_id: UserId,
    principal: Caller,
    service: Service,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = 100,
) -> schemas.Timeline:
    """The user's consolidated timeline (episodes, facts, entities, ...), newest first."""
    return service.timeline(principal, user_id, since, until, limit)


@router.delete(USER, responses=_errors(403))
def forget_user(user_id: UserId, principal: Caller, service: Service) -> schemas.ForgetResult:
    """Erase the user from every store (admin keys only, within their tenant). Safe to repeat."""
    return service.forget_user(principal, user_id)
