"""The kinds of memory of one user: episodic, semantic, procedural, goals, working memory, the user model,
the reflection queue, rate limits and erasure. Each works over the stores; `memory_runtime.api` wires them."""
