"""The code location: one `dg.Definitions` with every asset, check, job, sensor, schedule and resource.

Loaded by workspace.yaml (`python_module: memory_assets.definitions`, `working_directory: .`), so the
sibling top-level packages `sensors`, `schedules` and `resources` import from the repository root. Store
URIs are `dg.EnvVar`s, resolved when a run, tick or check starts: loading (and `dagster definitions
validate`) needs no store and no secret.
"""

import dagster as dg

from memory_assets.assets import ALL_ASSETS
from memory_assets.backups import BACKUP_JOBS
from memory_assets.checks import ALL_CHECKS
from memory_assets.jobs import ALL_JOBS
from memory_assets.upkeep import UPKEEP_JOBS
from resources import MemoryStoreResource
from schedules import ALL_SCHEDULES
from sensors import ALL_SENSORS

memory_store = MemoryStoreResource(
    postgres_uri=dg.EnvVar("MEMORY_POSTGRES_URI"),
    graph_uri=dg.EnvVar("MEMORY_GRAPH_URI"),
    redis_uri=dg.EnvVar("MEMORY_REDIS_URI"),
)

defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    jobs=[*ALL_JOBS, *UPKEEP_JOBS, *BACKUP_JOBS],
    sensors=ALL_SENSORS,
    schedules=ALL_SCHEDULES,
    resources={"memory": memory_store},
)
