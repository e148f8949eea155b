"""The slow work the Dagster assets run: plain functions over the stores, testable without Dagster."""
