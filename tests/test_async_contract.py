"""AsyncAgentMemory passes the contract tests of AgentMemory, on both graph backends.

The tests below are the sync suite's own functions (imported, so pytest collects them here too), run against
`memory` = an AsyncAgentMemory seen through `SyncFacade`, which runs each coroutine to completion on one event
loop: the same assertions, word for word, hold for both APIs. `backend_stores` (sync stores on the same
namespace) is what those tests inspect the stores with.
"""

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any

import pytest

from memory_runtime.async_api import AsyncAgentMemory, AsyncView
from memory_runtime.stores.async_bundle import AsyncStores
from tests.test_design_examples import (  # noqa: F401 — collected here with this module's `memory`
    test_a_caller_id_reused_for_another_turn_is_a_typed_error,
    test_add_goal_refuses_a_goal_that_already_has_an_id,
    test_add_goal_returns_the_stored_goal_and_get_active_goals_lists_it,
    test_bundle_sections_are_typed_items_that_read_as_dicts,
    test_caller_ids_and_token_counts_come_back_on_every_read,
    test_episodic_memory_searches_and_lists_turns,
    test_learn_fact_in_the_structured_form_supersedes_the_old_fact,
    test_learn_fact_takes_the_callers_turn_id_as_its_source,
    test_learn_fact_with_the_design_arguments_returns_the_stored_fact,
    test_record_tool_usage_as_the_design_calls_it,
    test_record_tool_usage_takes_the_callers_turn_id,
    test_relate_two_entities_with_a_whitelisted_type,
    test_remember_returns_a_bundle_that_packs_into_a_token_budget,
    test_semantic_memory_searches_facts_and_entities_and_walks_the_graph,
    test_store_turn_and_store_turns,
    test_storing_the_same_turn_with_its_id_again_is_a_duplicate,
    test_strategies_are_learnt_found_and_reinforced,
    test_turn_accepts_a_caller_id_and_a_token_count,
    test_upsert_entity_refuses_an_id_it_would_not_land_on,
    test_upsert_entity_returns_the_stored_entity,
    test_user_context_working_context_and_reflect,
)
from tests.test_episodic import (  # noqa: F401
    test_a_batch_with_one_index_twice_and_different_content_is_rejected,
    test_a_wrong_dimension_embedding_is_a_typed_error,
    test_metadata_that_is_not_json_is_rejected,
    test_metadata_with_a_nul_character_is_rejected_before_postgres_sees_it,
    test_other_content_at_an_existing_index_is_a_conflict_and_writes_nothing,
    test_something_that_is_not_a_turn_is_a_typed_error_and_writes_nothing,
    test_store_turns_writes_postgres_graph_and_working_memory,
    test_storing_the_same_turn_again_is_a_no_op,
    test_turns_are_linked_in_order_and_keep_their_original_timestamps,
    test_unicode_and_metadata_round_trip_exactly,
)
from tests.test_retrieval import (  # noqa: F401
    test_a_100_kb_query_is_truncated_and_answered,
    test_a_session_covering_the_whole_query_lifts_its_turns,
    test_as_of_hides_turns_said_after_it,
    test_as_of_returns_the_fact_valid_at_that_time,
    test_empty_query_is_a_validation_error,
    test_every_item_says_how_it_was_found_and_scored,
    test_facts_about_the_best_entities_come_through_the_graph,
    test_remember_on_empty_memory_returns_an_empty_bundle,
    test_time_window_counts_from_when_turns_were_said_not_stored,
    test_when_every_query_word_is_frequent_turns_holding_all_of_them_come_first,
)

# The user and conversation each source module's own `memory` fixture opens.
_SCOPE = {"tests.test_retrieval": ("alice", None)}


class SyncFacade:
    """An async API object whose coroutine methods run to completion on `runner`'s loop when called."""

    def __init__(self, target: Any, runner: asyncio.Runner) -> None:
        self._target = target
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if inspect.iscoroutinefunction(attr):
            return lambda *args, **kwargs: self._runner.run(attr(*args, **kwargs))
        if isinstance(attr, AsyncView):  # a sub-memory (working, episodic, ...)
            return SyncFacade(attr, self._runner)
        return attr

    def __call__(self, *args: Any) -> "SyncFacade":
        return SyncFacade(self._target(*args), self._runner)


@pytest.fixture
def stores(backend_stores):
    """The sync stores of the namespace, for the tests that look into them."""
    return backend_stores


@pytest.fixture
def memory(request: pytest.FixtureRequest, backend_stores) -> Iterator[SyncFacade]:
    """The AsyncAgentMemory of the test's user, on its own AsyncStores over the migrated namespace."""
    user_id, conversation_id = _SCOPE.get(request.function.__module__, ("u1", "c1"))
    with asyncio.Runner() as runner:
        stores = runner.run(AsyncStores.aopen(backend_stores.settings))
        memory = AsyncAgentMemory(user_id, conversation_id, stores=stores)
        try:
            runner.run(memory.open())
            yield SyncFacade(memory, runner)
        finally:
            runner.run(memory.aclose())
            runner.run(stores.aclose())
