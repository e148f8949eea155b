"""Every asset of the memory platform, in lineage order (group `memory`)."""

from memory_assets.consolidation import memory_timeline, procedural_strategies, semantic_memory, user_profiles
from memory_assets.episodic import conversation_turns, episodic_graph
from memory_assets.lifecycle import archived_memories, salience_decay
from memory_assets.reflections import reflections

ALL_ASSETS = [
    conversation_turns,
    episodic_graph,
    semantic_memory,
    procedural_strategies,
    memory_timeline,
    user_profiles,
    reflections,
    salience_decay,
    archived_memories,
]

__all__ = [
    "ALL_ASSETS",
    "archived_memories",
    "conversation_turns",
    "episodic_graph",
    "memory_timeline",
    "procedural_strategies",
    "reflections",
    "salience_decay",
    "semantic_memory",
    "user_profiles",
]
