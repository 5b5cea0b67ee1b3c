"""The neutral memory core: records, contracts, retrieval, hooks, strategies and the facade."""
