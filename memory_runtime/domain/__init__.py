"""The domain: pydantic models, typed errors, input validation, ids and text normalisation. Depends on nothing else."""
