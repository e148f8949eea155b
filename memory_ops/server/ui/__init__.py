"""The memory browser: server-rendered pages at /ui of `agent-memory serve` (and `agent-memory ui`).

`pages.create_ui_app` builds the sub-application `create_app` mounts; `sessions` signs people in with a tenant
API key; `drawing` lays out the timeline and the entity neighbourhood that the templates draw as SVG.
"""

from memory_ops.server.ui.pages import create_ui_app

__all__ = ["create_ui_app"]
