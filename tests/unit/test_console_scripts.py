"""The console's pages share their helpers through one script (connectors/console/static/common.js)
that each page loads before its own: no page script defines one of them again."""

from __future__ import annotations

import re
from importlib import resources

import pytest

STATIC = resources.files("connectors.console.static")
PAGES = {
    "console.html": "/console/static/console.js",
    "analytics.html": "/console/analytics/static/analytics.js",
}
FUNCTION = re.compile(r"^\s*function\s+([\w$]+)\s*\(", re.MULTILINE)


def _text(name: str) -> str:
    return STATIC.joinpath(name).read_text(encoding="utf-8")


def test_the_shared_script_defines_the_helpers() -> None:
    assert {"$", "el", "request"} <= set(FUNCTION.findall(_text("common.js")))


@pytest.mark.parametrize("script", ["console.js", "analytics.js"])
def test_no_page_script_defines_a_shared_helper_again(script: str) -> None:
    shared = set(FUNCTION.findall(_text("common.js")))
    assert shared & set(FUNCTION.findall(_text(script))) == set()
    assert "fetch(" not in _text(script), "calls to the API go through TTHC.request"


@pytest.mark.parametrize(("page", "script"), PAGES.items())
def test_each_page_loads_the_shared_script_before_its_own(page: str, script: str) -> None:
    sources = re.findall(r'<script src="([^"]+)"', _text(page))
    assert "/console/static/common.js" in sources and script in sources
    assert sources.index("/console/static/common.js") < sources.index(script)
