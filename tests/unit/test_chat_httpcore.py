"""connectors.chat.spare_httpcore_the_sniffio_search: httpcore's asyncio check without a sys.path search."""

from __future__ import annotations

import asyncio
import importlib.machinery
import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from httpcore._synchronization import current_async_library

from connectors.chat import spare_httpcore_the_sniffio_search


def _searches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    searched: list[str] = []
    find_spec = importlib.machinery.PathFinder.find_spec

    def recorded(name: str, *args: object, **kwargs: object) -> object:
        searched.append(name)
        return find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", recorded)
    return searched


async def _library() -> str:
    return current_async_library()


def test_httpcore_still_finds_asyncio_without_searching_for_a_missing_sniffio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if importlib.util.find_spec("sniffio") is not None and "sniffio" not in sys.modules:
        pytest.skip("sniffio is installed here: nothing to spare")
    monkeypatch.delitem(sys.modules, "sniffio", raising=False)
    spare_httpcore_the_sniffio_search()
    searched = _searches(monkeypatch)
    # a thread of its own: an earlier test of the suite may leave an event loop set in this one
    with ThreadPoolExecutor(max_workers=1) as thread:
        assert thread.submit(asyncio.run, _library()).result() == "asyncio"
    assert "sniffio" not in searched
    with pytest.raises(ImportError):
        import sniffio  # noqa: F401


def test_an_installed_sniffio_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sniffio", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: importlib.machinery.ModuleSpec(name, None))
    spare_httpcore_the_sniffio_search()
    assert "sniffio" not in sys.modules
