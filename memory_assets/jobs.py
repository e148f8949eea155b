"""Asset jobs the sensors and schedules launch (partitioning is inferred from the selected assets)."""

import dagster as dg

from memory_assets.consolidation import memory_timeline, procedural_strategies, semantic_memory, user_profiles
from memory_assets.episodic import conversation_turns, episodic_graph
from memory_assets.lifecycle import archived_memories, salience_decay
from memory_assets.reflections import reflections

STAGE_TAG = "memory/stage"

consolidation_job = dg.define_asset_job(
    "consolidation_job",
    selection=[episodic_graph, semantic_memory, memory_timeline],
    tags={STAGE_TAG: "consolidation"},
    description="New turns of a day: repair the graph, extract semantic memory, update the timeline.",
)

nightly_consolidation_job = dg.define_asset_job(
    "nightly_consolidation_job",
    selection=[
        conversation_turns,
        episodic_graph,
        semantic_memory,
        procedural_strategies,
        memory_timeline,
        user_profiles,
    ],
    tags={STAGE_TAG: "consolidation"},
    description="Re-consolidate a whole day (yesterday, nightly): everything derived from its turns.",
)

pattern_detection_job = dg.define_asset_job(
    "pattern_detection_job",
    selection=[procedural_strategies],
    tags={STAGE_TAG: "patterns"},
    description="Mine strategies from the tool use of a day.",
)

lifecycle_job = dg.define_asset_job(
    "lifecycle_job",
    selection=[salience_decay, archived_memories],
    tags={STAGE_TAG: "lifecycle"},
    description="Decay salience through the end of a day, then archive what fell out of retention.",
)

reflections_job = dg.define_asset_job(
    "reflections_job",
    selection=[reflections],
    tags={STAGE_TAG: "reflection"},
    description="Consume queued reflection jobs.",
)

ALL_JOBS = [
    consolidation_job,
    nightly_consolidation_job,
    pattern_detection_job,
    lifecycle_job,
    reflections_job,
]
