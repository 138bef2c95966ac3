"""The Zalo OA channel end to end: signed webhooks into the app (a real uvicorn server on loopback),
replies out to a fake of the Zalo API (a real HTTP server on loopback that records what it gets).

Most tests inject a small recording chat core through ``create_app(chat=...)``; the last one goes
through the real Rasa stack.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import uvicorn

from connectors.app import create_app
from connectors.chat import BotMessage, Button, RasaChat
from connectors.run import Stack, free_port
from connectors.settings import AppSettings, ZaloSettings

pytestmark = pytest.mark.integration

APP_ID = "1234567890123456789"
APP_SECRET = "app-secret-for-tests"
OA_SECRET_KEY = "oa-secret-key-for-tests"
FIRST_REFRESH_TOKEN = "refresh-0"


# ---- the fake Zalo API ---------------------------------------------------------------------------


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class FakeZalo:
    """The two Zalo endpoints the app uses, with Zalo's token rules: a refresh token works once."""

    requests: list[Recorded] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refresh_token: str = FIRST_REFRESH_TOKEN
    access_token: str | None = None
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append(Recorded(path, headers, body))
            if path == "/v4/oa/access_token":
                form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
                if headers.get("secret_key") != APP_SECRET or form.get("app_id") != APP_ID:
                    return 200, {"error": -14002, "error_name": "Invalid app"}
                if (
                    form.get("grant_type") != "refresh_token"
                    or form.get("refresh_token") != self.refresh_token
                ):
                    return 200, {"error": -14014, "error_name": "Invalid refresh token"}
                self.issued += 1
                self.access_token = f"access-{self.issued}"
                self.refresh_token = f"refresh-{self.issued}"
                return 200, {
                    "access_token": self.access_token,
                    "refresh_token": self.refresh_token,
                    "expires_in": "90000",
                }
            if path == "/v3.0/oa/message/cs":
                if self.access_token is None or headers.get("access_token") != self.access_token:
                    return 200, {"error": -216, "message": "Access token is invalid"}
                self.accepted.append(json.loads(body))
                return 200, {"error": 0, "message": "Success", "data": {"message_id": uuid.uuid4().hex}}
            return 404, {"error": -1, "message": "unknown endpoint"}

    def expire_access_token(self) -> None:
        with self.lock:
            self.access_token = "expired-on-the-server"

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """Message bodies Zalo accepted, in order."""
        with self.lock:
            return list(self.accepted)

    def calls(self, path: str) -> list[Recorded]:
        with self.lock:
            return [item for item in self.requests if item.path == path]


@pytest.fixture
def fake_zalo() -> Iterator[tuple[FakeZalo, str]]:
    fake = FakeZalo()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, payload = fake.handle(self.path, headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ---- a recording chat core and the app under test --------------------------------------------------


class RecordingChat:
    """Injected through ``create_app(chat=...)``: records what it is asked, answers per keyword."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []

    async def send(self, sender_id: str, text: str) -> list[BotMessage]:
        self.received.append((sender_id, text))
        if "chậm" in text:
            await asyncio.sleep(3.0)
            return [BotMessage(text="Trả lời chậm.")]
        if "đoạn văn" in text:
            return [BotMessage(text=LONG_PARAGRAPH)]
        if "dài" in text:
            return [BotMessage(text=LONG_TEXT)]
        if "chọn" in text:
            return [BotMessage(text="Bạn hỏi thủ tục nào?", buttons=MANY_BUTTONS)]
        return [BotMessage(text=f"Bạn vừa hỏi: {text}")]

    async def status(self) -> dict[str, Any]:
        return {"ready": True}

    async def aclose(self) -> None:
        pass


LONG_TEXT = "\n".join(
    f"{index}. Giấy tờ số {index}: bản sao có chứng thực hoặc bản chính để đối chiếu, nộp tại Trung tâm "
    f"phục vụ hành chính công. Thời hạn giải quyết theo quy định."
    for index in range(1, 41)
)
LONG_PARAGRAPH = " ".join(
    f"Câu thứ {index} nói rằng hồ sơ được nộp trực tuyến trên Cổng Dịch vụ công quốc gia hoặc trực tiếp."
    for index in range(1, 61)
)
MANY_BUTTONS = [
    Button(
        title=f"Lựa chọn {index}: " + "khai sinh có yếu tố nước ngoài " * 5, payload=f'/chon{{"i":{index}}}'
    )
    for index in range(1, 8)
]


@dataclass
class RunningApp:
    url: str
    settings: AppSettings
    chat: Any

    def post_event(self, event: dict[str, Any], signature: str | None = "auto") -> httpx.Response:
        body = json.dumps(event, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "auto":
            headers["X-ZEvent-Signature"] = sign(body, str(event.get("timestamp", "")))
        elif signature is not None:
            headers["X-ZEvent-Signature"] = signature
        return httpx.post(f"{self.url}/zalo/webhook", content=body, headers=headers, timeout=10)


def zalo_env(api_base: str) -> dict[str, str]:
    """The Zalo channel's settings for a supervised app that talks to the fake Zalo API."""
    return {
        "ZALO_APP_ID": APP_ID,
        "ZALO_APP_SECRET": APP_SECRET,
        "ZALO_OA_SECRET_KEY": OA_SECRET_KEY,
        "ZALO_REFRESH_TOKEN": FIRST_REFRESH_TOKEN,
        "ZALO_OA_API_BASE": api_base,
        "ZALO_OAUTH_BASE": api_base,
    }


def sign(body: bytes, timestamp: str, key: str = OA_SECRET_KEY) -> str:
    return "mac=" + hashlib.sha256(APP_ID.encode() + body + timestamp.encode() + key.encode()).hexdigest()


def text_event(text: str, user_id: str = "8412345678901234567", msg_id: str | None = None) -> dict[str, Any]:
    return {
        "app_id": APP_ID,
        "user_id_by_app": "552177279717587730",
        "event_name": "user_send_text",
        "timestamp": str(int(time.time() * 1000)),
        "sender": {"id": user_id},
        "recipient": {"id": "579745863508352884"},
        "message": {"text": text, "msg_id": msg_id or uuid.uuid4().hex},
    }


def serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[Callable[..., RunningApp]]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(api_base: str, chat: Any = None, state_db: Path | None = None, **overrides: Any) -> RunningApp:
        zalo = ZaloSettings(
            app_id=APP_ID,
            app_secret=APP_SECRET,
            oa_secret_key=OA_SECRET_KEY,
            refresh_token=FIRST_REFRESH_TOKEN,
            oa_api_base=api_base,
            oauth_base=api_base,
            backoff_seconds=0.05,
            timeout_seconds=2.0,
        )
        # The channel's state lives in the app's database: ``state_db`` names that SQLite file.
        overrides.setdefault("database_url", f"sqlite:///{state_db or tmp_path / 'tthc.db'}")
        settings = AppSettings(state_db=state_db or tmp_path / "connectors.db", zalo=zalo, **overrides)
        chat = chat if chat is not None else RecordingChat()
        server, thread, url = serve(create_app(settings, chat=chat))
        servers.append((server, thread))
        return RunningApp(url, settings, chat)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(15)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    return condition()


def stored_refresh_token(db: Path) -> str:
    with sqlite3.connect(db) as connection:
        row = connection.execute("SELECT value FROM zalo_tokens WHERE name = 'refresh_token'").fetchone()
    return row[0]


# ---- tests -----------------------------------------------------------------------------------


def test_signed_text_is_acknowledged_within_2s_and_answered_in_the_background(fake_zalo, start_app) -> None:
    fake, api_base = fake_zalo
    app = start_app(api_base)
    started = time.monotonic()
    response = app.post_event(text_event("hỏi chậm thôi", user_id="111"))
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 2.0
    assert not fake.delivered  # the chat core takes 3 s: the webhook did not wait for it

    delivered = wait_for(lambda: fake.delivered)
    assert delivered == [{"recipient": {"user_id": "111"}, "message": {"text": "Trả lời chậm."}}]
    refresh = fake.calls("/v4/oa/access_token")[0]
    assert refresh.headers["secret_key"] == APP_SECRET
    assert refresh.form() == {"app_id": APP_ID, "grant_type": "refresh_token", "refresh_token": "refresh-0"}
    assert app.chat.received == [("zalo:111", "hỏi chậm thôi")]


@pytest.mark.parametrize(
    "tamper",
    ["missing", "garbage", "wrong_key", "body_changed", "timestamp_changed", "hmac_instead_of_hash"],
)
def test_bad_signature_gets_401_and_has_no_effect(fake_zalo, start_app, tamper: str) -> None:
    fake, api_base = fake_zalo
    app = start_app(api_base)
    event = text_event("lệ phí bao nhiêu")
    body = json.dumps(event, ensure_ascii=False).encode()
    timestamp = event["timestamp"]
    headers = {"Content-Type": "application/json"}
    if tamper == "garbage":
        headers["X-ZEvent-Signature"] = "mac=deadbeef"
    elif tamper == "wrong_key":
        headers["X-ZEvent-Signature"] = sign(body, timestamp, key="another-key")
    elif tamper == "body_changed":
        headers["X-ZEvent-Signature"] = sign(body, timestamp)
        body = body.replace("lệ phí".encode(), "xóa hồ sơ".encode())
    elif tamper == "timestamp_changed":
        headers["X-ZEvent-Signature"] = sign(body, str(int(timestamp) + 1))
    elif tamper == "hmac_instead_of_hash":
        import hmac

        mac = hmac.new(OA_SECRET_KEY.encode(), APP_ID.encode() + body + timestamp.encode(), hashlib.sha256)
        headers["X-ZEvent-Signature"] = "mac=" + mac.hexdigest()
    response = httpx.post(f"{app.url}/zalo/webhook", content=body, headers=headers, timeout=10)
    assert response.status_code == 401
    time.sleep(0.5)
    assert fake.requests == []
    assert app.chat.received == []
    # The message id was not consumed: the genuine delivery is still answered.
    assert app.post_event(event).status_code == 200
    assert wait_for(lambda: fake.delivered)


def test_duplicate_msg_id_is_answered_once_even_after_a_restart(fake_zalo, start_app, tmp_path) -> None:
    fake, api_base = fake_zalo
    db = tmp_path / "state.db"
    app = start_app(api_base, state_db=db)
    event = text_event("nộp ở đâu", msg_id="msg-dup-1")
    assert app.post_event(event).json()["handled"] is True
    assert app.post_event(event).json() == {"ok": True, "handled": False, "duplicate": True}
    assert wait_for(lambda: fake.delivered)
    time.sleep(0.5)
    assert len(fake.delivered) == 1

    restarted = start_app(api_base, state_db=db)
    assert restarted.post_event(event).status_code == 200
    time.sleep(0.5)
    assert len(fake.delivered) == 1
    assert restarted.chat.received == []


class HangingChat(RecordingChat):
    """A chat core that never answers: the process 'dies' between the webhook and the reply."""

    async def send(self, sender_id: str, text: str) -> list[BotMessage]:
        self.received.append((sender_id, text))
        await asyncio.Event().wait()
        return []


def stored_messages(db: Path) -> dict[str, tuple[str | None, float | None]]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT msg_id, text, answered_at FROM zalo_messages").fetchall()
    return {msg_id: (text, answered_at) for msg_id, text, answered_at in rows}


def crash_after_receiving(
    start_app: Callable[..., RunningApp], api_base: str, db: Path, text: str, msg_id: str
) -> None:
    """An app that acknowledges a message and then never answers it, as if it crashed: its lease on
    the message runs out (a dead process renews nothing)."""
    crashed = start_app(api_base, chat=HangingChat(), state_db=db)
    assert crashed.post_event(text_event(text, msg_id=msg_id)).status_code == 200
    assert wait_for(lambda: crashed.chat.received)
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE zalo_messages SET lease_until = 0 WHERE msg_id = ?", (msg_id,))


def test_a_message_left_unanswered_by_a_crash_is_answered_at_the_next_start(
    fake_zalo, start_app, tmp_path
) -> None:
    fake, api_base = fake_zalo
    db = tmp_path / "state.db"
    crash_after_receiving(start_app, api_base, db, "lệ phí bao nhiêu", "msg-crash-1")
    text, answered_at = stored_messages(db)["msg-crash-1"]
    assert text == "lệ phí bao nhiêu" and answered_at is None

    restarted = start_app(api_base, state_db=db)
    assert wait_for(lambda: fake.delivered)
    assert fake.delivered[0]["message"]["text"] == "Bạn vừa hỏi: lệ phí bao nhiêu"
    # Once answered, the citizen's text is no longer stored, and Zalo's retry is still a duplicate.
    assert wait_for(lambda: stored_messages(db)["msg-crash-1"][1] is not None)
    assert stored_messages(db)["msg-crash-1"][0] is None
    retry = restarted.post_event(text_event("lệ phí bao nhiêu", msg_id="msg-crash-1"))
    assert retry.json()["duplicate"] is True

    start_app(api_base, state_db=db)
    time.sleep(0.5)
    assert len(fake.delivered) == 1


def test_a_running_replica_takes_over_a_message_whose_replica_died(fake_zalo, start_app, tmp_path) -> None:
    fake, api_base = fake_zalo
    db = tmp_path / "state.db"
    survivor = start_app(api_base, state_db=db)
    survivor.settings.zalo.lease_seconds = 0.6  # its next look for expired leases comes sooner
    crash_after_receiving(start_app, api_base, db, "mất bao lâu", "msg-other-replica-1")
    delivered = wait_for(lambda: fake.delivered, timeout=20)  # the first look comes after 10 s
    assert [item["message"]["text"] for item in delivered] == ["Bạn vừa hỏi: mất bao lâu"]
    assert survivor.chat.received == [("zalo:8412345678901234567", "mất bao lâu")]
    time.sleep(1.5)
    assert len(fake.delivered) == 1  # taken over once


def test_unanswered_messages_older_than_the_resume_window_are_not_answered(
    fake_zalo, start_app, tmp_path
) -> None:
    fake, api_base = fake_zalo
    db = tmp_path / "state.db"
    crash_after_receiving(start_app, api_base, db, "nộp ở đâu", "msg-stale-1")
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE zalo_messages SET received_at = received_at - 7200")

    restarted = start_app(api_base, state_db=db)
    time.sleep(0.5)
    assert fake.delivered == []
    assert restarted.chat.received == []


def test_long_text_is_two_messages_cut_at_line_boundaries(fake_zalo, start_app) -> None:
    fake, api_base = fake_zalo
    app = start_app(api_base)
    assert len(LONG_TEXT) > 4000
    app.post_event(text_event("cho tôi danh sách dài"))

    def texts() -> list[str]:
        return [item["message"]["text"] for item in fake.delivered]

    assert wait_for(lambda: len(texts()) == 2), texts()
    time.sleep(0.3)
    assert len(texts()) == 2  # one answer is at most two messages
    assert all(len(text) <= 2000 for text in texts())
    assert LONG_TEXT.startswith(texts()[0]) and texts()[0].endswith("quy định.")
    assert texts()[1].endswith("…") and texts()[1][0].isdigit()


def test_long_paragraph_is_cut_at_sentence_ends(fake_zalo, start_app) -> None:
    fake, api_base = fake_zalo
    app = start_app(api_base)
    assert len(LONG_PARAGRAPH) > 4000 and "\n" not in LONG_PARAGRAPH
    app.post_event(text_event("một đoạn văn"))

    def texts() -> list[str]:
        return [item["message"]["text"] for item in fake.delivered]

    assert wait_for(lambda: len(texts()) == 2), texts()
    assert all(len(text) <= 2000 and text.startswith("Câu thứ") for text in texts())
    assert texts()[0].endswith("trực tiếp.") and LONG_PARAGRAPH.startswith(texts()[0])


def test_buttons_become_at_most_five_query_show_actions(fake_zalo, start_app) -> None:
    fake, api_base = fake_zalo
    app = start_app(api_base)
    app.post_event(text_event("cho tôi chọn", user_id="222"))
    message = wait_for(lambda: fake.delivered)[0]["message"]
    assert message["text"] == "Bạn hỏi thủ tục nào?"
    attachment = message["attachment"]
    assert attachment["type"] == "template"
    buttons = attachment["payload"]["buttons"]
    assert len(buttons) == 5
    assert all(button["type"] == "oa.query.show" for button in buttons)
    assert all(len(button["title"]) <= 100 for button in buttons)
    assert [button["payload"] for button in buttons] == [button.payload for button in MANY_BUTTONS[:5]]

    # A click comes back as the user's text carrying the payload; it goes to the chat core as is.
    app.post_event(text_event(buttons[1]["payload"], user_id="222"))
    assert wait_for(lambda: len(app.chat.received) == 2)
    assert app.chat.received[1] == ("zalo:222", '/chon{"i":2}')


def test_expired_token_is_refreshed_once_and_the_new_refresh_token_stored(
    fake_zalo, start_app, tmp_path
) -> None:
    fake, api_base = fake_zalo
    db = tmp_path / "tokens.db"
    app = start_app(api_base, state_db=db)
    app.post_event(text_event("xin chào"))
    assert wait_for(lambda: len(fake.delivered) == 1)
    assert stored_refresh_token(db) == "refresh-1"

    fake.expire_access_token()
    app.post_event(text_event("lệ phí bao nhiêu"))
    assert wait_for(lambda: len(fake.delivered) == 2)
    sends = fake.calls("/v3.0/oa/message/cs")
    assert [call.headers["access_token"] for call in sends] == ["access-1", "access-1", "access-2"]
    refreshes = fake.calls("/v4/oa/access_token")
    assert [call.form()["refresh_token"] for call in refreshes] == ["refresh-0", "refresh-1"]
    assert stored_refresh_token(db) == "refresh-2"
    assert fake.delivered[1]["message"]["text"] == "Bạn vừa hỏi: lệ phí bao nhiêu"


def test_zalo_api_down_is_retried_then_postponed_without_citizen_data_in_logs(start_app, caplog) -> None:
    caplog.set_level(logging.INFO)
    closed = f"http://127.0.0.1:{free_port()}"
    app = start_app(closed)
    citizen_text, user_id = "con tôi tên Nguyễn Văn An sinh ngày 1/2", "999888777"
    started = time.monotonic()
    assert app.post_event(text_event(citizen_text, user_id=user_id)).status_code == 200
    assert time.monotonic() - started < 2.0
    assert wait_for(lambda: any("postponed" in record.getMessage() for record in caplog.records))
    retries = [record for record in caplog.records if "retrying" in record.getMessage()]
    assert len(retries) == 2  # three attempts in all
    for record in caplog.records:
        message = record.getMessage()
        assert user_id not in message and "Nguyễn" not in message and citizen_text not in message


def test_other_events_are_acknowledged_without_acting(fake_zalo, start_app) -> None:
    fake, api_base = fake_zalo
    app = start_app(api_base)
    follow = {
        "app_id": APP_ID,
        "event_name": "follow",
        "timestamp": str(int(time.time() * 1000)),
        "follower": {"id": "333"},
        "oa_id": "579745863508352884",
    }
    response = app.post_event(follow)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "handled": False}
    time.sleep(0.3)
    assert fake.requests == [] and app.chat.received == []


def test_healthz_says_the_channel_is_on(fake_zalo, start_app) -> None:
    _, api_base = fake_zalo
    app = start_app(api_base)
    assert httpx.get(f"{app.url}/healthz", timeout=10).json()["zalo"] == {"enabled": True}


def test_a_question_through_the_real_rasa_stack_reaches_zalo(fake_zalo, start_app, stack: Stack) -> None:
    fake, api_base = fake_zalo
    app = start_app(api_base, chat=RasaChat(stack.rasa_url, token=stack.rasa_token))
    started = time.monotonic()
    response = app.post_event(
        text_event("Đăng ký tạm trú cần giấy tờ gì?", user_id=f"u{uuid.uuid4().hex[:8]}")
    )
    assert response.status_code == 200 and time.monotonic() - started < 2.0
    delivered = wait_for(lambda: fake.delivered, timeout=60)
    assert delivered, "no reply reached the fake Zalo API"
    assert "tạm trú" in " ".join(item["message"]["text"] for item in delivered).lower()


def test_a_first_answer_through_rasa_is_at_most_two_zalo_messages(fake_zalo, start_app, stack: Stack) -> None:
    fake, api_base = fake_zalo
    app = start_app(api_base, chat=RasaChat(stack.rasa_url, token=stack.rasa_token))
    app.post_event(text_event("dang ky tam tru can giay to gi", user_id=f"u{uuid.uuid4().hex[:8]}"))
    wait_for(lambda: fake.delivered, timeout=60)
    time.sleep(1.5)  # anything more of the same answer would arrive by now
    messages = [item["message"] for item in fake.delivered]
    assert 1 <= len(messages) <= 2, messages
    assert "1.004194" in messages[0]["text"] and len(messages[0]["text"]) <= 1200
    buttons = messages[-1]["attachment"]["payload"]["buttons"]
    assert 1 <= len(buttons) <= 5 and all(b["payload"].startswith("/") for b in buttons)
    # The rating pair under the answer is never the part Zalo's five buttons drop.
    assert {"/feedback_up", "/feedback_down"} <= {b["payload"] for b in buttons}


def test_rate_limit_sends_one_polite_notice_then_stays_quiet(fake_zalo, start_app) -> None:
    fake, api_base = fake_zalo
    app = start_app(api_base, rate_limit_messages=2)
    for index in range(4):
        assert app.post_event(text_event(f"câu hỏi {index}", user_id="444")).status_code == 200
        time.sleep(0.3)  # keep the order of arrival
    assert wait_for(lambda: len(fake.delivered) >= 3)
    time.sleep(0.5)
    texts = [item["message"]["text"] for item in fake.delivered]
    assert texts[:2] == ["Bạn vừa hỏi: câu hỏi 0", "Bạn vừa hỏi: câu hỏi 1"]
    assert len(texts) == 3 and "chờ một chút" in texts[2]
    assert len(app.chat.received) == 2
    # Another citizen is not affected.
    app.post_event(text_event("xin chào", user_id="555"))
    assert wait_for(lambda: len(fake.delivered) == 4)


def test_oversized_webhook_body_is_refused(fake_zalo, start_app) -> None:
    fake, api_base = fake_zalo
    app = start_app(api_base)
    response = app.post_event(text_event("x" * 70_000))
    assert response.status_code == 413
    time.sleep(0.3)
    assert fake.requests == [] and app.chat.received == []


def test_a_volunteer_answers_on_zalo_within_the_reply_window(
    fake_zalo, start_app, stack: Stack, database_url: str
) -> None:
    """The handoff round trip on Zalo, on SQLite and PostgreSQL: real Rasa, the fake Zalo API."""
    from datetime import timedelta

    from console_client import ConsoleClient, add_volunteer

    from connectors.db import Database
    from connectors.db.models import Handoff, utcnow

    fake, api_base = fake_zalo
    app = start_app(
        api_base,
        chat=RasaChat(stack.rasa_url, token=stack.rasa_token),
        rasa_url=stack.rasa_url,
        rasa_token=stack.rasa_token,
        database_url=database_url,
    )
    user = f"u{uuid.uuid4().hex[:10]}"
    conversation = f"zalo:{user}"

    def texts() -> list[str]:
        return [item["message"]["text"] for item in fake.delivered if item["recipient"]["user_id"] == user]

    def settled() -> int:
        """The number of messages delivered, once nothing more arrived for a second."""
        count = -1
        while count != len(texts()):
            count = len(texts())
            time.sleep(1.0)
        return count

    def citizen(text: str, replies: int) -> list[str]:
        before = settled()
        assert app.post_event(text_event(text, user_id=user)).status_code == 200
        assert wait_for(lambda: len(texts()) >= before + replies, timeout=60), texts()
        return texts()[before : settled()]

    assert "tạm trú" in " ".join(citizen("Đăng ký tạm trú cần giấy tờ gì?", 1)).lower()
    assert "tình nguyện viên" in " ".join(citizen("Cho tôi gặp người thật", 1))

    lan = ConsoleClient(app.url)
    assert lan.login(add_volunteer(database_url, name="Phạm Thu Hà")).status_code == 200
    item = lan.queued(conversation)
    assert (
        item and item["channel"] == "zalo" and item["topic"] == "1.004194" and not item["past_reply_window"]
    )
    before = len(texts())
    lan.ok(f"conversations/{conversation}/take", {})
    assert wait_for(lambda: any("Phạm Thu Hà" in text for text in texts()[before:]))

    # Held: the bot stays quiet on Zalo, the console shows the citizen's turn.
    assert app.post_event(text_event("Tôi ở trọ thì cần thêm gì?", user_id=user)).status_code == 200
    assert wait_for(
        lambda: any(
            t["text"] == "Tôi ở trọ thì cần thêm gì?"
            for t in lan.get(f"conversations/{conversation}").json()["history"]
        )
    )
    count = settled()
    lan.ok(f"conversations/{conversation}/messages", {"text": "Bạn cần thêm hợp đồng thuê nhà nhé."})
    assert texts()[count:] == ["Bạn cần thêm hợp đồng thuê nhà nhé."]

    # Past Zalo's reply window the console marks the conversation and sends nothing.
    database = Database(database_url)
    try:
        with database.session() as session:
            handoff = session.query(Handoff).filter_by(conversation_id=conversation, status="assigned").one()
            handoff.last_citizen_at = utcnow() - timedelta(hours=49)
    finally:
        database.dispose()
    assert lan.queued(conversation)["past_reply_window"]
    late = lan.post(f"conversations/{conversation}/messages", {"text": "Bạn còn đó không?"})
    assert late.status_code == 409 and "Zalo" in late.json()["detail"]
    assert len(texts()) == count + 1
    assert app.post_event(text_event("Tôi vẫn đây", user_id=user)).status_code == 200
    assert wait_for(lambda: not lan.queued(conversation)["past_reply_window"])

    before = len(texts())
    lan.ok(f"conversations/{conversation}/release")
    assert wait_for(lambda: any("tiếp tục" in text for text in texts()[before:]))
    # Handed back: the SIPAS question follows once, its five levels as Zalo buttons.
    assert wait_for(lambda: any("hài lòng" in text for text in texts()[before:]))
    asked = [item["message"] for item in fake.delivered if item["recipient"]["user_id"] == user][before:]
    templates = [(m.get("attachment") or {}).get("payload") or {} for m in asked]
    levels = [b["payload"] for template in templates for b in template.get("buttons", [])]
    assert len(levels) == 5 and all(p.startswith("/rate_satisfaction") for p in levels), asked
    assert "Cảm ơn bạn đã đánh giá" in " ".join(citizen(levels[0], 1))
    assert "tạm trú" in " ".join(citizen("Lệ phí bao nhiêu?", 1)).lower()
    assert lan.queued(conversation) is None


class RasaDownThenUp(RecordingChat):
    """Rasa unavailable (down or loading) for its first ``down_checks`` status checks, then answering."""

    def __init__(self, down_checks: int) -> None:
        super().__init__()
        self.down_checks = down_checks
        self.checks = 0

    async def status(self) -> dict[str, Any]:
        self.checks += 1
        return {"ready": self.checks > self.down_checks}


def test_a_message_is_held_while_rasa_is_unavailable_and_then_really_answered(
    fake_zalo, start_app, tmp_path
) -> None:
    fake, api_base = fake_zalo
    db = tmp_path / "state.db"
    app = start_app(api_base, chat=RasaDownThenUp(down_checks=3), state_db=db)
    app.settings.zalo.hold_poll_seconds = 0.2
    assert app.post_event(text_event("lệ phí bao nhiêu", msg_id="msg-held-1")).status_code == 200
    time.sleep(0.3)
    assert fake.delivered == [] and stored_messages(db)["msg-held-1"][1] is None  # held, not answered
    delivered = wait_for(lambda: fake.delivered)
    assert [item["message"]["text"] for item in delivered] == ["Bạn vừa hỏi: lệ phí bao nhiêu"]
    assert wait_for(lambda: stored_messages(db)["msg-held-1"][1] is not None)


class FlakyZalo(FakeZalo):
    """Accepts ``accept`` messages, then answers 500 (a crash of the reply half-way, seen from the app)."""

    accept: int = 1_000_000

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        if path == "/v3.0/oa/message/cs" and len(self.accepted) >= self.accept:
            with self.lock:
                self.requests.append(Recorded("refused", headers, body))
            return 500, {"error": -1}
        return super().handle(path, headers, body)


def test_an_interrupted_reply_resends_only_the_parts_not_sent_without_asking_rasa_again(
    fake_zalo, start_app, tmp_path
) -> None:
    fake, api_base = fake_zalo
    fake.__class__ = FlakyZalo
    fake.accept = 1
    db = tmp_path / "state.db"
    first = start_app(api_base, state_db=db)
    first.post_event(text_event("cho tôi danh sách dài", msg_id="msg-long-1"))
    assert wait_for(lambda: len(fake.calls("refused")) == 3)  # every attempt at the second part
    time.sleep(0.3)
    assert len(fake.delivered) == 1
    with sqlite3.connect(db) as connection:
        answer, parts_sent, answered_at = connection.execute(
            "SELECT answer, parts_sent, answered_at FROM zalo_messages WHERE msg_id = 'msg-long-1'"
        ).fetchone()
    parts = json.loads(answer)
    assert len(parts) == 2 and parts_sent == 1 and answered_at is None  # one answer: two messages at most

    fake.accept = 1_000_000
    restarted = start_app(api_base, state_db=db)
    assert wait_for(lambda: len(fake.delivered) == len(parts))
    time.sleep(0.5)
    assert [item["message"] for item in fake.delivered] == parts  # each part once, in order
    assert restarted.chat.received == []  # the saved answer was sent, Rasa was not asked again
    assert wait_for(lambda: stored_messages(db)["msg-long-1"][1] is not None)


def test_tokens_are_encrypted_and_the_database_is_private_on_disk(fake_zalo, start_app, tmp_path) -> None:
    from cryptography.fernet import Fernet

    fake, api_base = fake_zalo
    db = tmp_path / "sealed.db"
    key = Fernet.generate_key().decode()
    app = start_app(api_base, state_db=db, secret_key=key)
    app.post_event(text_event("xin chào"))
    assert wait_for(lambda: fake.delivered)
    raw = db.read_bytes() + b"".join(path.read_bytes() for path in tmp_path.glob("sealed.db-*"))
    assert b"refresh-1" not in raw and b"access-1" not in raw
    with sqlite3.connect(db) as connection:
        values = dict(connection.execute("SELECT name, value FROM zalo_tokens").fetchall())
    sealed = values["refresh_token"].removeprefix("fernet:").encode()
    assert Fernet(key.encode()).decrypt(sealed) == b"refresh-1"
    for path in [db, *tmp_path.glob("sealed.db-*")]:
        assert path.stat().st_mode & 0o777 == 0o600, path

    # The next start reads the sealed refresh token and keeps the channel working.
    fake.expire_access_token()
    restarted = start_app(api_base, state_db=db, secret_key=key)
    restarted.post_event(text_event("lệ phí bao nhiêu"))
    assert wait_for(lambda: len(fake.delivered) == 2)


class HoldingZalo(FakeZalo):
    """Accepts ``accept`` messages, then holds the next one open until ``release`` is set; it is then
    accepted if the app is still there to hear it (``accept_when_released``)."""

    accept: int = 1_000_000
    accept_when_released: bool = False
    release: threading.Event

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        if path == "/v3.0/oa/message/cs" and len(self.accepted) >= self.accept:
            with self.lock:
                self.requests.append(Recorded("held", headers, body))
            self.release.wait(120)
            if not self.accept_when_released:
                return 500, {"error": -1}
        return super().handle(path, headers, body)


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
def test_the_app_stopped_mid_reply_the_citizen_gets_the_real_answer_once(
    fake_zalo, stack: Stack, tmp_path, stop: str
) -> None:
    """SIGKILL: the next start sends the parts not sent. SIGTERM: the reply in flight finishes first."""
    fake, api_base = fake_zalo
    fake.__class__ = HoldingZalo
    fake.accept, fake.release = 1, threading.Event()
    fake.accept_when_released = stop == "SIGTERM"
    app = Stack(
        app_port=free_port(),
        rasa_port=stack.rasa_port,
        actions_port=stack.actions_port,
        state_dir=tmp_path,
        with_rasa=False,
        rasa_token=stack.rasa_token,
        actions_secret=stack.actions_secret,
        app_env={
            **zalo_env(api_base),
            "ZALO_TIMEOUT_SECONDS": "300",
            # The killed app's lease on the message runs out soon, and the new process takes it over.
            "ZALO_LEASE_SECONDS": "3",
        },
    )
    db = tmp_path / "tthc.db"  # the app's database in the state dir
    with app:
        assert app.wait_app(60), app.app_log_file.read_text(errors="replace")
        event = text_event("Con tôi mới sinh, làm giấy khai sinh cần gì?", user_id=f"u{uuid.uuid4().hex[:8]}")
        body = json.dumps(event, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "X-ZEvent-Signature": sign(body, event["timestamp"])}
        assert httpx.post(f"{app.app_url}/zalo/webhook", content=body, headers=headers).status_code == 200
        assert wait_for(lambda: fake.calls("held"), timeout=90), "the reply never reached its second part"
        with sqlite3.connect(db) as connection:
            answer, parts_sent = connection.execute("SELECT answer, parts_sent FROM zalo_messages").fetchone()
        parts = json.loads(answer)
        assert len(parts) >= 2 and parts_sent == 1
        assert "1.001193" in " ".join(part["text"] for part in parts)  # the real answer

        fake.accept = 1_000_000
        killed = app.kill("app", getattr(signal, stop))
        time.sleep(1.0)
        fake.release.set()
        # supervisord starts the app again; it sends what the citizen did not get yet.
        assert wait_for(lambda: len(fake.delivered) >= len(parts), timeout=120)
        time.sleep(2.0)
        assert app.pids["app"] not in {None, killed}
        assert [item["message"] for item in fake.delivered] == parts  # each part once, in order
        assert all("gián đoạn" not in item["message"]["text"] for item in fake.delivered)
        assert wait_for(lambda: next(iter(stored_messages(db).values()))[1] is not None)


@pytest.mark.parametrize("when", ["2019-01-01", "2099-01-01", "20 minutes ago", "20 minutes ahead"])
def test_signed_webhooks_with_a_timestamp_outside_the_window_are_refused(
    fake_zalo, start_app, when: str
) -> None:
    fake, api_base = fake_zalo
    app = start_app(api_base)
    offsets = {"20 minutes ago": -1200, "20 minutes ahead": 1200}
    moment = time.time() + offsets[when] if when in offsets else time.mktime(time.strptime(when, "%Y-%m-%d"))
    event = dict(text_event("lệ phí bao nhiêu"), timestamp=str(int(moment * 1000)))
    assert app.post_event(event).status_code == 401
    time.sleep(0.3)
    assert fake.requests == [] and app.chat.received == []
    assert app.post_event(text_event("lệ phí bao nhiêu")).status_code == 200  # now is within ±15 min


@pytest.mark.parametrize(
    "body",
    [
        b'{"timestamp": "TS", "event_name": "user_send_text", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"timestamp": "TS", "event_name": "user_send_text", "sender": {"id": "1"}, '
        b'"message": {"msg_id": "m-sur", "text": "\\ud800"}}',
        b'{"timestamp": "TS", "event_name": "user_send_text", "message": ',
    ],
    ids=["deep-nesting", "lone-surrogate", "truncated"],
)
def test_signed_but_unusable_bodies_get_a_4xx(fake_zalo, start_app, body: bytes) -> None:
    _, api_base = fake_zalo
    app = start_app(api_base)
    timestamp = str(int(time.time() * 1000))
    body = body.replace(b"TS", timestamp.encode())
    headers = {"Content-Type": "application/json", "X-ZEvent-Signature": sign(body, timestamp)}
    response = httpx.post(f"{app.url}/zalo/webhook", content=body, headers=headers, timeout=10)
    assert response.status_code == 400, response.text
    # Unsigned, the same body never reaches the parser.
    headers["X-ZEvent-Signature"] = "mac=" + "0" * 64
    assert httpx.post(f"{app.url}/zalo/webhook", content=body, headers=headers).status_code == 401
    assert app.chat.received == []
