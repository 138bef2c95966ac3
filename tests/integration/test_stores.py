"""Rasa with a PostgreSQL tracker store and a Redis lock store (servers on loopback).

These start Rasa alone (no app): greetings are answered by responses, so no action server is needed.
PostgreSQL: 127.0.0.1:5432, trust auth, database `test` (TTHC_TEST_POSTGRES_URL overrides).
Redis: 127.0.0.1:6379, database 3 (TTHC_TEST_REDIS_URL overrides). Skipped when they don't answer.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot.rasa_server import DEFAULT_MODEL, RasaServer, render_endpoints
from connectors.run import free_port

pytestmark = pytest.mark.integration

POSTGRES_URL = os.environ.get("TTHC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TTHC_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1):
            return True
    except OSError:
        return False


def start_rasa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> RasaServer:
    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"no trained Rasa model at {DEFAULT_MODEL}; run `make train`")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TTHC_TRACKER_DB", str(tmp_path / "tracker.db"))
    monkeypatch.setenv("TTHC_ACTION_ENDPOINT", f"http://127.0.0.1:{free_port()}/webhook")
    endpoints = render_endpoints(tmp_path / "endpoints.yml")
    server = RasaServer(port=free_port(), endpoints=endpoints, log_file=tmp_path / "rasa.log")
    server.start()
    if not server.wait_ready(timeout=240):
        server.stop()
        pytest.fail("Rasa did not start:\n" + (tmp_path / "rasa.log").read_text(errors="replace")[-3000:])
    return server


def say(server: RasaServer, sender: str, text: str) -> list[dict]:
    response = httpx.post(
        f"{server.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
    )
    response.raise_for_status()
    return response.json()


def user_texts(server: RasaServer, sender: str) -> list[str]:
    response = httpx.get(
        f"{server.url}/conversations/{sender}/tracker", params={"token": server.token}, timeout=30
    )
    response.raise_for_status()
    return [e.get("text") for e in response.json()["events"] if e.get("event") == "user"]


@pytest.fixture
def postgres_rasa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RasaServer]:
    if not reachable(POSTGRES_URL):
        pytest.skip(f"PostgreSQL does not answer at {POSTGRES_URL}")
    server = start_rasa(tmp_path, monkeypatch, TTHC_TRACKER_STORE_URL=POSTGRES_URL)
    try:
        yield server
    finally:
        server.stop()


def test_postgresql_tracker_store_keeps_the_conversation(postgres_rasa: RasaServer) -> None:
    sender = f"pg-{uuid.uuid4().hex[:12]}"
    assert "Xin chào" in say(postgres_rasa, sender, "xin chào")[0]["text"]
    say(postgres_rasa, sender, "cảm ơn nhé")

    # The events are rows of PostgreSQL, not of the SQLite fallback.
    if shutil.which("psql"):
        rows = subprocess.run(
            ["psql", POSTGRES_URL, "-tAc", f"select count(*) from events where sender_id = '{sender}'"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert int(rows.stdout.strip()) >= 4

    postgres_rasa.stop()
    postgres_rasa.start()
    assert postgres_rasa.wait_ready(timeout=240)
    assert user_texts(postgres_rasa, sender) == ["xin chào", "cảm ơn nhé"]


def test_redis_lock_store_serialises_concurrent_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not reachable(REDIS_URL) or not shutil.which("redis-cli"):
        pytest.skip(f"Redis does not answer at {REDIS_URL} (or redis-cli is missing)")
    server = start_rasa(tmp_path, monkeypatch, TTHC_LOCK_STORE_URL=REDIS_URL)
    parts = urlsplit(REDIS_URL)
    monitor = subprocess.Popen(
        ["redis-cli", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379), "monitor"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        time.sleep(0.5)
        sender = f"redis-{uuid.uuid4().hex[:12]}"
        # Greetings only: this Rasa has no action server, and a thank-you now runs a custom action.
        texts = ["xin chào", "chào bạn", "xin chào bạn", "chào ad"]
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(texts)) as pool:
            replies = list(pool.map(lambda text: say(server, sender, text), texts))
        assert all(reply and reply[0].get("text") for reply in replies), replies
        assert sorted(user_texts(server, sender)) == sorted(texts)
    finally:
        time.sleep(0.5)
        monitor.terminate()
        commands, _ = monitor.communicate(timeout=10)
        server.stop()
    # Rasa took and released its conversation locks in Redis (key prefix from render_endpoints).
    lock_commands = [line for line in commands.splitlines() if "tthc" in line and sender in line]
    assert lock_commands, "Rasa did not use the Redis lock store"
