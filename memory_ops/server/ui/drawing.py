"""Geometry of the two drawings, computed on the server and drawn by the templates as plain SVG (no script):
facts as validity intervals over time, and an entity's neighbourhood as rings around it."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

TIMELINE_WIDTH = 900
ROW_HEIGHT = 18
GRAPH_SIZE = 520


@dataclass(frozen=True)
class Bar:
    """One fact as a bar from valid_at to invalid_at (open-ended bars reach the right edge)."""

    fact: dict[str, Any]
    x: float
    width: float
    y: float
    open_ended: bool
    believed: bool


@dataclass(frozen=True)
class Timeline:
    """The bars of a page of facts on one time axis, the as_of marker and the axis ticks."""

    bars: list[Bar]
    width: int
    height: int
    start: datetime
    end: datetime
    as_of_x: float | None
    ticks: list[tuple[float, str]]


def _valid_at(as_of: datetime, fact: dict[str, Any]) -> bool:
    start, end = fact.get("valid_at"), fact.get("invalid_at")
    return start is not None and start <= as_of and (end is None or end > as_of)


def timeline(
    facts: list[dict[str, Any]], start: datetime | None, end: datetime | None, as_of: datetime | None
) -> Timeline | None:
    """The intervals of `facts` between `start` and `end` (widened to show `as_of`); None without facts."""
    if not facts or start is None or end is None:
        return None
    if as_of is not None:
        start, end = min(start, as_of), max(end, as_of)
    pad = max((end - start) * 0.03, timedelta(hours=1))
    start, end = start - pad, end + pad
    span = (end - start).total_seconds()

    def x(t: datetime) -> float:
        return round((t - start).total_seconds() / span * TIMELINE_WIDTH, 1)

    bars = []
    for i, fact in enumerate(facts):
        left = x(fact["valid_at"]) if fact.get("valid_at") else 0.0
        right = x(fact["invalid_at"]) if fact.get("invalid_at") else float(TIMELINE_WIDTH)
        believed = as_of is not None and _valid_at(as_of, fact)
        bars.append(
            Bar(fact, left, max(right - left, 2.0), 24 + i * ROW_HEIGHT, fact.get("invalid_at") is None, believed)
        )
    ticks = [(x(start + (end - start) * k / 4), (start + (end - start) * k / 4).strftime("%Y-%m-%d")) for k in range(5)]
    height = 24 + len(facts) * ROW_HEIGHT + 8
    return Timeline(bars, TIMELINE_WIDTH, height, start, end, None if as_of is None else x(as_of), ticks)


@dataclass(frozen=True)
class Node:
    """An entity placed in the drawing."""

    id: str
    name: str
    type: str
    distance: int
    x: float
    y: float


@dataclass(frozen=True)
class Edge:
    """A relation drawn between two placed entities."""

    x1: float
    y1: float
    x2: float
    y2: float
    type: str


def neighbourhood(center: dict[str, Any], neighbours: list[dict[str, Any]], edges: list[dict[str, str]]) -> dict:
    """The entity in the middle, neighbours at distance 1 on an inner ring and at distance 2 on an outer one."""
    mid = GRAPH_SIZE / 2
    nodes = {center["id"]: Node(center["id"], center["name"], center["type"], 0, mid, mid)}
    for ring, radius in ((1, GRAPH_SIZE * 0.22), (2, GRAPH_SIZE * 0.42)):
        members = [n for n in neighbours if int(n["distance"]) == ring]
        for i, n in enumerate(members):
            angle = 2 * math.pi * i / len(members) + (0.0 if ring == 1 else math.pi / max(len(members), 1))
            nodes[n["id"]] = Node(
                n["id"],
                n["name"],
                n["type"],
                ring,
                round(mid + radius * math.cos(angle), 1),
                round(mid + radius * math.sin(angle), 1),
            )
    lines = [
        Edge(nodes[e["source"]].x, nodes[e["source"]].y, nodes[e["target"]].x, nodes[e["target"]].y, e["type"])
        for e in edges
        if e["source"] in nodes and e["target"] in nodes
    ]
    return {"size": GRAPH_SIZE, "nodes": list(nodes.values()), "edges": lines}
