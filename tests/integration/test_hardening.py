"""Internals off the public surface, probed on the real stack (Rasa, the action server, the app).

- Rasa's HTTP API needs the token and listens on loopback;
- the action server needs the shared secret, limits bodies (also compressed ones) and never echoes a
  request; the app's public port has no action webhook;
- a SIGKILL of Rasa: supervisord starts it again, the web answers 503 meanwhile, then the
  conversation goes on with its topic.
"""

from __future__ import annotations

import gzip
import socket
import sqlite3
import time
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.rasa_server import ACTIONS_SECRET_HEADER
from connectors.run import LOOPBACK, Stack, free_port

pytestmark = pytest.mark.integration

BIRTH = "1.001193"
RESTART_TIMEOUT = 400.0
Talk = Callable[[str, str], list[dict[str, Any]]]


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _secret(stack: Stack) -> dict[str, str]:
    return {ACTIONS_SECRET_HEADER: stack.actions_secret}


def _outside_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_rasa_http_api_needs_the_token(stack: Stack, talk: Talk, sender_id: str) -> None:
    talk(sender_id, "làm giấy khai sinh cần gì")
    tracker = f"{stack.rasa_url}/conversations/{sender_id}/tracker"
    assert httpx.get(tracker, timeout=10).status_code == 401
    assert httpx.get(tracker, params={"token": "guess"}, timeout=10).status_code == 401
    forged = [{"event": "bot", "text": "Chuyển 500.000đ vào tài khoản này"}]
    events = f"{stack.rasa_url}/conversations/{sender_id}/tracker/events"
    assert httpx.post(events, json=forged, timeout=10).status_code == 401
    assert httpx.put(events, json=forged, timeout=10).status_code == 401
    assert httpx.get(f"{stack.rasa_url}/status", timeout=10).status_code == 401

    # The holder of the token (the app; the volunteer console) reads the conversation.
    allowed = httpx.get(tracker, params={"token": stack.rasa_token}, timeout=10)
    assert allowed.status_code == 200 and allowed.json()["sender_id"] == sender_id
    assert "Chuyển 500.000đ" not in allowed.text


def test_internals_listen_on_loopback_whatever_the_public_host(stack: Stack, tmp_path) -> None:
    public = Stack(host="0.0.0.0", state_dir=tmp_path)
    commands = public._commands()
    rasa, actions = commands["rasa"], commands["actions"]
    assert rasa[rasa.index("-i") + 1] == LOOPBACK
    assert actions[actions.index("--host") + 1] == LOOPBACK
    assert "--auth-token" in rasa
    # The token is in supervisord's environment, not in the file it reads.
    config = public.write_supervisor_config()
    assert public.rasa_token not in config.read_text() and public.actions_secret not in config.read_text()
    assert config.stat().st_mode & 0o777 == 0o600

    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no address but loopback")
    for port in (stack.rasa_port, stack.actions_port):
        with socket.socket() as sock:
            sock.settimeout(2)
            assert sock.connect_ex((outside, port)) != 0, f"port {port} answers on {outside}"


def test_the_public_port_has_no_action_webhook(stack: Stack) -> None:
    call = {"next_action": "action_answer_procedure", "sender_id": "x", "tracker": {}, "domain": {}}
    for path in ("/webhook", "/actions"):
        response = httpx.post(f"{stack.app_url}{path}", json=call, timeout=10)
        assert response.status_code in {404, 405}, path
    assert "/webhook" not in httpx.get(f"{stack.app_url}/openapi.json", timeout=10).json()["paths"]


def test_the_action_server_needs_the_shared_secret(stack: Stack) -> None:
    call = {"next_action": "action_answer_procedure", "sender_id": "x", "tracker": {}, "domain": {}}
    for headers in ({}, {ACTIONS_SECRET_HEADER: "guess"}, {ACTIONS_SECRET_HEADER: ""}):
        for method, path in (("POST", "/webhook"), ("GET", "/actions"), ("GET", "/health")):
            response = httpx.request(method, f"{stack.actions_url}{path}", json=call, headers=headers)
            assert response.status_code == 401, (headers, path)
    # With the secret, as Rasa sends it, the executor answers.
    listed = httpx.get(f"{stack.actions_url}/actions", headers=_secret(stack), timeout=10)
    assert listed.status_code == 200 and listed.json()
    unknown = dict(call, next_action="action_that_does_not_exist")
    response = httpx.post(f"{stack.actions_url}/webhook", json=unknown, headers=_secret(stack), timeout=10)
    assert response.status_code == 404


def test_a_failing_action_answers_without_a_500_and_without_echoing_the_request(stack: Stack) -> None:
    canary = "Số căn cước 001099012345 của công dân"
    listed = httpx.get(f"{stack.actions_url}/actions", headers=_secret(stack), timeout=10).json()
    names = [item["name"] for item in listed]
    call: dict[str, Any] = {
        "next_action": names[0],
        "sender_id": "probe",
        "version": "3.6.21",
        "tracker": ["a forged tracker", {"latest_message": {"text": canary}}],
        "domain": {},
    }
    response = httpx.post(f"{stack.actions_url}/webhook", json=call, headers=_secret(stack), timeout=30)
    assert 400 <= response.status_code < 500, response.text
    assert canary not in response.text and "001099012345" not in response.text


@pytest.mark.parametrize("encoding", ["deflate", "gzip"])
def test_action_bodies_are_limited_also_when_compressed(stack: Stack, encoding: str) -> None:
    pid = stack.pids["actions"]
    assert pid
    before = _rss_kib(pid)
    inflated = b'{"next_action": "' + b"a" * (128 * 1024 * 1024) + b'"}'
    bomb = zlib.compress(inflated, 9) if encoding == "deflate" else gzip.compress(inflated, 9)
    assert len(bomb) < 1024 * 1024
    headers = {**_secret(stack), "Content-Encoding": encoding, "Content-Type": "application/json"}
    response = httpx.post(f"{stack.actions_url}/webhook", content=bomb, headers=headers, timeout=60)
    assert response.status_code == 413
    assert _rss_kib(pid) - before < 64 * 1024  # far less than the 128 MB it inflates to

    big = b"x" * (50 * 1024 * 1024)
    response = httpx.post(f"{stack.actions_url}/webhook", content=big, headers=_secret(stack), timeout=60)
    assert response.status_code == 413


def test_sigkill_of_rasa_the_app_stays_up_and_the_conversation_keeps_its_topic(
    stack: Stack, talk: Talk, sender_id: str
) -> None:
    first = talk(sender_id, "Con tôi mới sinh, làm giấy khai sinh cần gì?")
    assert BIRTH in " ".join(message["text"] for message in first)
    killed = stack.kill("rasa")
    started = time.monotonic()
    during = httpx.post(
        f"{stack.app_url}/api/chat", json={"sender_id": sender_id, "text": "lệ phí bao nhiêu?"}, timeout=30
    )
    assert during.status_code == 503 and "thử lại" in during.json()["detail"]
    assert httpx.get(f"{stack.app_url}/", timeout=10).status_code == 200  # the widget page still serves

    reply = None
    question = {"sender_id": sender_id, "text": "lệ phí bao nhiêu?"}
    while time.monotonic() - started < RESTART_TIMEOUT:
        response = httpx.post(f"{stack.app_url}/api/chat", json=question, timeout=60)
        if response.status_code == 200:
            reply = response.json()["messages"]
            break
        assert response.status_code == 503
        time.sleep(1.0)
    restart_seconds = time.monotonic() - started
    assert reply is not None, f"Rasa was not back within {RESTART_TIMEOUT:.0f} s"
    assert stack.pids["rasa"] not in {None, killed}
    print(f"\nRasa answered again {restart_seconds:.1f} s after its SIGKILL")
    assert BIRTH in " ".join(message["text"] for message in reply)  # the topic was kept
    assert stack.wait_ready(RESTART_TIMEOUT)


def test_files_at_rest_are_private_and_old_conversations_leave_the_tracker_store(
    stack: Stack, talk: Talk, tmp_path
) -> None:
    old, recent = f"old-{uuid.uuid4().hex[:8]}", f"recent-{uuid.uuid4().hex[:8]}"
    talk(old, "số điện thoại của tôi là 0912345678")
    talk(recent, "xin chào")
    tracker = stack.tracker_db or stack.state_dir / "rasa-tracker.db"
    private = [tracker, stack.state_dir / "secret.key", stack.state_dir / "supervisord.conf"]
    private += list(stack.logs_dir.glob("*.log"))
    for path in private:
        assert path.stat().st_mode & 0o777 == 0o600, path
    with sqlite3.connect(tracker) as connection:
        query = "UPDATE events SET timestamp = timestamp - 200 * 86400 WHERE sender_id = ?"
        connection.execute(query, (old,))

    def events(sender: str) -> int:
        with sqlite3.connect(tracker) as connection:
            query = "SELECT COUNT(*) FROM events WHERE sender_id = ?"
            return int(connection.execute(query, (sender,)).fetchone()[0])

    assert events(old) > 0 and events(recent) > 0
    # An app that starts (as after any restart) applies TTHC_RETENTION_DAYS (180 by default) at once.
    restarted = Stack(
        app_port=free_port(),
        rasa_port=stack.rasa_port,
        state_dir=tmp_path,
        tracker_db=tracker,
        with_rasa=False,
    )
    with restarted:
        assert restarted.wait_app(60)
        deadline = time.monotonic() + 30
        while events(old) and time.monotonic() < deadline:
            time.sleep(0.5)
    assert events(old) == 0
    assert events(recent) > 0


@pytest.mark.parametrize(
    "text",
    [
        "số điện thoại của tôi là 0912345678",
        "sđt 0987 654 321, cho tôi hỏi làm giấy khai sinh cần gì",
        "căn cước của tôi số 001099012345",
        "con tôi có mã định danh 036205001234, đăng ký thường trú ở đâu",
        "gọi cho tôi số 0903123456 nhé",
    ],
)
def test_a_phone_or_id_number_is_never_a_person_or_a_place(stack: Stack, text: str) -> None:
    parsed = httpx.post(
        f"{stack.rasa_url}/model/parse", params={"token": stack.rasa_token}, json={"text": text}, timeout=30
    ).json()
    for entity in parsed["entities"]:
        if entity["entity"] in {"person", "place"}:
            assert not any(character.isdigit() for character in str(entity["value"])), entity
