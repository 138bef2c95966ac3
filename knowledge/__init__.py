"""The procedure catalogue and the search over it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledge.search import SearchResponse

__all__ = ["search"]


def search(query: str, top_k: int = 5) -> SearchResponse:
    """Find the procedures that answer a citizen's question (see knowledge.search)."""
    from knowledge.search import search as _search

    return _search(query, top_k=top_k)
