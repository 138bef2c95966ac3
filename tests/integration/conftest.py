"""Fixtures that start real servers on loopback, and the app's database on SQLite and PostgreSQL.

``stack`` (session scope) is the whole product as `make run` starts it, through
``connectors.run.Stack``: under supervisord, Rasa (the trained model
``var/rasa-models/tthc.tar.gz``, its API behind ``stack.rasa_token``), the action server
(``stack.actions_url``, behind ``stack.actions_secret``) and the FastAPI app, all on free loopback
ports (``TTHC_TEST_RASA_PORT`` forces Rasa's). ``stack.kill(name)`` sends a signal to one
of the processes; supervisord starts it again. The tracker SQLite file, the connectors state DB
and the logs live in a session temp dir (``stack.state_dir``; logs in ``stack.logs_dir``). The
fixture waits until ``/healthz`` reports Rasa, the actions and the search index ready
(``TTHC_TEST_READY_TIMEOUT``, 900 s by default: on a first start the action server may have to build
a stale search index) and fails with the log tails otherwise; without a trained model it skips.

Use ``stack.app_url`` for HTTP calls (the ``talk`` fixture posts one turn to ``/api/chat``),
``stack.rasa_url`` to talk to Rasa directly and ``stack.restart_rasa()`` to restart Rasa alone
mid-conversation (the tracker file is kept, so the conversation survives). Use a fresh sender id per
test (``sender_id`` fixture): the stack is shared by every test of the session.

``database_url`` is parametrised over the app's two databases: a fresh SQLite file, or a schema of its
own in the local PostgreSQL database ``test`` (``TTHC_TEST_POSTGRES_URL``, default
postgresql://postgres@127.0.0.1:5432/test), dropped afterwards; without PostgreSQL that half skips.

To iterate quickly against a stack that is already running (e.g. `make run`), set
``TTHC_TEST_APP_URL`` (and ``TTHC_TEST_RASA_URL``); the fixture then neither starts nor stops anything,
and ``restart_rasa()`` is not available.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from bot.rasa_server import DEFAULT_MODEL, RASA_VENV
from connectors.run import Stack, free_port


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _rasa_port() -> int:
    # Never 5005: on a shared machine another stack may take it while this one's Rasa restarts.
    forced = os.environ.get("TTHC_TEST_RASA_PORT")
    return int(forced) if forced else free_port()


def _external_stack(app_url: str, rasa_url: str) -> Stack:
    app, rasa = urlsplit(app_url), urlsplit(rasa_url)
    running = Stack(app_port=app.port or 80, rasa_port=rasa.port or 5005, host=app.hostname or "127.0.0.1")
    running.restart_rasa = _no_restart  # type: ignore[method-assign]
    if running.health() is None:
        pytest.fail(f"TTHC_TEST_APP_URL={app_url} does not answer /healthz")
    return running


def _no_restart(timeout: float = 0) -> bool:
    pytest.skip("restart_rasa() needs the stack started by the fixture (unset TTHC_TEST_APP_URL)")


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    # One stack per pytest session, even when another conftest (tests/browser) re-exports this
    # fixture: the running stack is kept on the session's config and stopped at its end.
    running: Stack | None = getattr(request.config, "_tthc_stack", None)
    if running is not None:
        return running
    external = os.environ.get("TTHC_TEST_APP_URL")
    if external:
        return _external_stack(external, os.environ.get("TTHC_TEST_RASA_URL", "http://127.0.0.1:5005"))
    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"no trained Rasa model at {DEFAULT_MODEL}; run `make train`")
    if not (RASA_VENV / "bin" / "rasa").exists():
        pytest.skip("Rasa is not installed; run `make setup-rasa`")
    state_dir = tmp_path_factory.mktemp("stack")
    running = Stack(
        app_port=free_port(),
        rasa_port=_rasa_port(),
        state_dir=state_dir,
        tracker_db=state_dir / "tracker.db",
        # The conversation tests send many messages from one process; keep the limit out of their way.
        # Volunteers are on duty around the clock here: the outside-hours answer has unit tests.
        app_env={
            "TTHC_RATE_LIMIT_MESSAGES": "1000",
            "TTHC_RATE_LIMIT_IP_MESSAGES": "100000",
            "TTHC_CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE": "1000",
            "TTHC_SUPPORT_DAYS": "1-7",
            "TTHC_SUPPORT_HOURS": "00:00-24:00",
        },
    )
    request.config.add_cleanup(running.stop)
    running.start()
    timeout = float(os.environ.get("TTHC_TEST_READY_TIMEOUT", "900"))
    if not running.wait_ready(timeout):
        pytest.fail(
            f"the stack did not become ready; /healthz: {running.health()}\n"
            f"--- app log ---\n{_tail(running.app_log_file)}\n"
            f"--- rasa log ---\n{_tail(running.logs_dir / 'rasa.log')}"
        )
    request.config._tthc_stack = running  # type: ignore[attr-defined]
    return running


@pytest.fixture
def sender_id() -> str:
    return f"test-{uuid.uuid4().hex[:16]}"


def chat(stack: Stack, sender: str, text: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """One turn through ``POST /api/chat``; returns the bot messages (asserts HTTP 200)."""
    response = httpx.post(
        f"{stack.app_url}/api/chat", json={"sender_id": sender, "text": text}, timeout=timeout
    )
    assert response.status_code == 200, response.text
    return response.json()["messages"]


@pytest.fixture
def talk(stack: Stack) -> Callable[[str, str], list[dict[str, Any]]]:
    """``talk(sender_id, text)`` -> the bot messages of one turn on the shared stack."""
    return lambda sender, text: chat(stack, sender, text)


# ---- the app's database on SQLite and on the local PostgreSQL -------------------------------------

POSTGRES_URL = os.environ.get("TTHC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_schema() -> Iterator[str]:
    import psycopg

    schema = f"tthc_test_{uuid.uuid4().hex[:12]}"
    try:
        connection = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {error}")
    with connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        finally:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def database_url_for(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'tthc.db'}"
    else:
        yield from _postgres_schema()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url_for(request.param, tmp_path)


@pytest.fixture
def app_db(database_url: str) -> Iterator[Any]:
    """The app's database, migrated, on each of SQLite and PostgreSQL."""
    from connectors.db import Database

    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()
