"""Operations on top of the runtime: the CLI, embedded stores, dev server, demo, import and backfill."""
