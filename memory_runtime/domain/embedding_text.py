"""The text each kind of node's embedding is computed from (one definition, used on write and on re-embed)."""

from collections.abc import Sequence


def entity_text(name: str, aliases: Sequence[str], description: str | None) -> str:
    """The text an entity's embedding is computed from."""
    text = name
    if aliases:
        text += ". Also known as: " + ", ".join(aliases)
    if description:
        text += ". " + description
    return text


def strategy_text(task_type: str, description: str) -> str:
    """The text a strategy's embedding is computed from."""
    return f"{task_type}: {description}"
