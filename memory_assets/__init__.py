"""The Dagster code location of the memory platform: assets, checks and jobs over memory_runtime.

`memory_assets.definitions` holds the one `dg.Definitions` object (see workspace.yaml). Assets are thin
orchestration: each one reads its partition's time window, calls one `memory_runtime.batch` function with
the resource's `Stores`, and turns its report into metadata; every materialisation is idempotent for its
window. No SQL or Cypher lives here (tests/test_layering.py).
"""

import warnings as _warnings

# BackfillPolicy.single_run() is Beta in Dagster 1.13 and warns once per asset at import; we use it on
# purpose (docs/notes/dagster_style.md §0.7), so that one warning is silenced. Every other warning still shows.
_warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy` of function `asset`")
