"""The typed errors under their public path, `memory_runtime.errors` (defined in `memory_runtime.domain.errors`)."""

from memory_runtime.domain.errors import *  # noqa: F403
