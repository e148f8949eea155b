"""An asset run is one span with its partition, run id and counts, its stores' spans beneath
(tests/test_tracing.py has the runtime's spans and the exporters)."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from dagster_helpers import DAY, DAY_START, make_resource, materialize, store_conversation
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tracing_helpers import Tree, collected_spans, store_calls

from memory_assets.episodic import conversation_turns


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with collected_spans() as exporter:
        yield exporter


def test_an_asset_run_is_a_span_with_its_partition_run_id_and_counts(stores, settings, spans, instance):
    store_conversation(stores, "u1", "c1", DAY_START + timedelta(hours=2), ["hi", "hello", "bye"])
    spans.clear()
    result = materialize([conversation_turns], make_resource(settings, tracing="console"), instance)

    assert result.success
    tree = Tree(spans.get_finished_spans(), "asset conversation_turns")
    attributes = tree.root.attributes
    assert attributes["dagster.asset"] == "conversation_turns"
    assert attributes["dagster.partition_key"] == DAY
    assert attributes["dagster.run_id"] == result.run_id
    assert attributes["memory.count.turns"] == 3 and attributes["memory.count.conversations"] == 1
    assert store_calls(tree.below(tree.root), "postgresql"), "the batch function's statements are its children"
