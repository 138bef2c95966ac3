"""The procedure catalogue and the search over it."""
