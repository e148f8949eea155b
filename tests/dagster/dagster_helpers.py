"""Helpers for the Dagster tests (constants, turn storage, running assets); fixtures are in conftest.py."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from memory_runtime.config import Settings
from memory_runtime.domain.models import Turn
from memory_runtime.memory.episodic import EpisodicMemory
from memory_runtime.stores.bundle import Stores
from resources import MemoryStoreResource

ASSETS = {  # every asset of the code location
    "conversation_turns",
    "episodic_graph",
    "semantic_memory",
    "procedural_strategies",
    "memory_timeline",
    "user_profiles",
    "reflections",
    "salience_decay",
    "archived_memories",
}
DAY = "2024-03-01"
DAY_START = datetime(2024, 3, 1, tzinfo=UTC)


def make_resource(settings: Settings, **overrides: object) -> MemoryStoreResource:
    """A resource reproducing `settings`, with Settings fields overridden."""
    base = MemoryStoreResource.from_settings(settings)
    return MemoryStoreResource(**{**base.model_dump(), **overrides})


def store_conversation(
    stores: Stores, user: str, conversation: str, start: datetime, contents: list[str], first_index: int = 0
) -> list[str]:
    """Store turns (user/assistant alternating, one minute apart) through the runtime; returns their ids."""
    turns = [
        Turn(
            conversation_id=conversation,
            index=first_index + i,
            role="user" if (first_index + i) % 2 == 0 else "assistant",
            content=text,
            timestamp=start + timedelta(minutes=i),
        )
        for i, text in enumerate(contents)
    ]
    return EpisodicMemory(stores, user, None).store_turns(turns).turn_ids


def age_turns(stores: Stores, seconds: int = 3600) -> None:
    """Pretend every turn was ingested `seconds` ago (for the sensor's commit-lag guard)."""
    stores.pg.fetch("UPDATE conversation_logs SET ingested_at = now() - make_interval(secs => %s)", (seconds,))


def move_tool_calls(stores: Stores, start: datetime) -> None:
    """Shift every recorded tool call to `start`, keeping their order (they are recorded at 'now')."""
    stores.pg.fetch(
        "UPDATE tool_invocations SET created_at = %s + (created_at - (SELECT min(created_at) FROM tool_invocations))",
        (start,),
    )


def materialize(assets: list, memory: MemoryStoreResource, instance: dg.DagsterInstance, **kwargs: object):
    """dg.materialize with the memory resource; the partition defaults to DAY."""
    kwargs.setdefault("partition_key", DAY)
    return dg.materialize(assets, resources={"memory": memory}, instance=instance, **kwargs)


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    """The metadata values of the (single) materialisation of `asset` in a run."""
    [event] = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in event.metadata.items()}
