"""Abuse and slow clients against the app as a real process (supervised uvicorn, no Rasa behind it):
rate limits per client address, proxy headers believed only from configured proxies, requests that
trickle in are cut, an aborted request is one log line, and logs rotate."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connectors.run import Stack, free_port

pytestmark = pytest.mark.integration

REQUEST_TIMEOUT = 2


def _app(tmp_path: Path, **env: str) -> Stack:
    running = Stack(
        app_port=free_port(),
        rasa_port=free_port(),
        state_dir=tmp_path,
        with_rasa=False,
        app_env={"TTHC_REQUEST_TIMEOUT_SECONDS": str(REQUEST_TIMEOUT), **env},
        log_max_bytes="2KB",
    )
    running.start()
    assert running.wait_app(60), running.app_log_file.read_text(errors="replace")
    return running


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = _app(tmp_path_factory.mktemp("abuse"), TTHC_RATE_LIMIT_IP_MESSAGES="5")
    yield running
    running.stop()


def _ask(stack: Stack, sender: str, **headers: str) -> int:
    response = httpx.post(
        f"{stack.app_url}/api/chat", json={"sender_id": sender, "text": "xin chào"}, headers=headers
    )
    return response.status_code


def test_rotating_sender_ids_from_one_address_are_rate_limited(app: Stack) -> None:
    # Rasa is absent: a request within the limits gets the friendly 503.
    statuses = [_ask(app, f"rotating-{index}") for index in range(5)]
    assert statuses == [503] * 5
    assert _ask(app, "rotating-new") == 429
    # A forged X-Forwarded-For does not buy a new budget: no proxy is trusted.
    assert _ask(app, "rotating-forged", **{"X-Forwarded-For": "198.51.100.7"}) == 429


def test_forwarded_for_is_believed_from_a_configured_proxy(tmp_path: Path) -> None:
    behind_proxy = _app(tmp_path, TTHC_RATE_LIMIT_IP_MESSAGES="2", TTHC_TRUSTED_PROXIES="127.0.0.1")
    try:
        first = {"X-Forwarded-For": "203.0.113.1"}
        assert [_ask(behind_proxy, f"p-{index}", **first) for index in range(3)] == [503, 503, 429]
        assert _ask(behind_proxy, "p-other", **{"X-Forwarded-For": "203.0.113.2"}) == 503
    finally:
        behind_proxy.stop()


def _closed(sock: socket.socket, wait: float = 0.5) -> bool:
    sock.settimeout(wait)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_requests_that_trickle_in_are_cut_at_the_timeout(app: Stack) -> None:
    sockets = []
    for index in range(60):
        sock = socket.create_connection(("127.0.0.1", app.app_port))
        if index % 2:
            sock.sendall(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: appl")  # headers unfinished
        else:
            sock.sendall(b'POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"sender')
        sockets.append(sock)
    time.sleep(REQUEST_TIMEOUT / 2)
    assert not any(_closed(sock, wait=0.01) for sock in sockets)  # not cut before the timeout
    time.sleep(REQUEST_TIMEOUT + 1)
    try:
        assert all(_closed(sock) for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()
    assert httpx.get(f"{app.app_url}/healthz").status_code == 503  # the app serves on


def _log_lines(stack: Stack) -> list[str]:
    """Every line of the app's log and its rotated backups."""
    files = sorted(stack.logs_dir.glob("app.log*"))
    return [line for path in files for line in path.read_text(errors="replace").splitlines()]


def test_an_aborted_request_writes_one_log_line_and_logs_rotate(app: Stack) -> None:
    before = len(_log_lines(app))
    with socket.create_connection(("127.0.0.1", app.app_port)) as sock:
        sock.sendall(b'POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"sender_id"')
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while len(_log_lines(app)) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    lines = _log_lines(app)
    assert len(lines) == before + 1, lines[before:]
    assert "Client went away" in "".join(lines) and all(len(line) < 200 for line in lines)

    for _ in range(40):
        with socket.create_connection(("127.0.0.1", app.app_port)) as sock:
            sock.sendall(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
            time.sleep(0.05)
    time.sleep(1.0)
    assert Path(f"{app.app_log_file}.1").is_file()  # supervisord rotated the 2 KB log
    assert app.app_log_file.stat().st_size <= 4096
