"""Browser fixtures: Debian's Chromium driven by Playwright, and the app to point it at.

``stack`` is the integration suite's session fixture (the real Rasa + app), loaded from
tests/integration/conftest.py; it is started once per session whichever suite asks first.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.run import Stack, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _integration_fixtures() -> object:
    path = Path(__file__).resolve().parents[1] / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("tthc_integration_fixtures", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stack = _integration_fixtures().stack  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed; run `make browser-deps`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def app_without_rasa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The app alone (uvicorn subprocess), its Rasa URL pointing at a port where nothing listens."""
    running = Stack(
        app_port=free_port(),
        rasa_port=free_port(),
        state_dir=tmp_path_factory.mktemp("browser-app"),
        with_rasa=False,
        app_env={"TTHC_WARM_UP": "0"},
    )
    running.start()
    try:
        assert running.wait_app(60), running.app_log_file.read_text(errors="replace")
        yield running
    finally:
        running.stop()
