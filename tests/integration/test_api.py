"""The HTTP API of the app: validation, limits, CORS, health, and behaviour with Rasa down or up."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from connectors.run import Stack, free_port
from connectors.terminal_chat import run_chat

pytestmark = pytest.mark.integration

PORTAL = "https://dichvucong.tinh-mau.gov.vn"
SITE_VERIFICATION = "zalo-verify-abc123"


@pytest.fixture(scope="module")
def app_alone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The app as a real uvicorn process, pointed at a Rasa port where nothing listens."""
    running = Stack(
        app_port=free_port(),
        rasa_port=free_port(),
        state_dir=tmp_path_factory.mktemp("app-alone"),
        with_rasa=False,
        app_env={
            "TTHC_ALLOWED_ORIGINS": PORTAL,
            "TTHC_RATE_LIMIT_MESSAGES": "4",
            "TTHC_RATE_LIMIT_WINDOW": "60",
            "ZALO_SITE_VERIFICATION": SITE_VERIFICATION,
            "TTHC_WARM_UP": "0",
        },
    )
    running.start()
    try:
        assert running.wait_app(60), Path(running.app_log_file).read_text(errors="replace")
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(app_alone: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app_alone.app_url, timeout=10.0) as http:
        yield http


def test_rasa_down_gives_503_with_a_friendly_vietnamese_message(client: httpx.Client) -> None:
    response = client.post("/api/chat", json={"sender_id": "down-1", "text": "đăng ký tạm trú"})
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "assistant_unavailable"
    assert "thử lại" in body["detail"]
    assert response.headers["retry-after"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "empty_body"),
        (b"   \n", 400, "empty_body"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", 400, "not_text"),
        (b'{"sender_id": "a", "text": ', 400, "malformed_json"),
        (b"sender_id=a&text=hello", 400, "malformed_json"),
        (b'["sender_id", "text"]', 422, "invalid_request"),
        (b'"just a string"', 422, "invalid_request"),
        (b'{"sender_id": "a"}', 422, "invalid_request"),
        (b'{"text": "hello"}', 422, "invalid_request"),
        (b'{"sender_id": "a", "text": 42}', 422, "invalid_request"),
        (b'{"sender_id": 7, "text": "hello"}', 422, "invalid_request"),
        (b'{"sender_id": "a", "text": ["hello"]}', 422, "invalid_request"),
        (b'{"sender_id": "a", "text": null}', 422, "invalid_request"),
        (b'{"sender_id": "", "text": "hello"}', 422, "invalid_request"),
        (b'{"sender_id": "a/../b", "text": "hello"}', 422, "invalid_request"),
        (b'{"sender_id": "a", "text": "hello", "admin": true}', 422, "invalid_request"),
        (b'{"sender_id": "a", "text": "   "}', 422, "empty_text"),
        (b'{"sender_id": "a", "text": "\\u0000\\u0007"}', 422, "empty_text"),
        (json.dumps({"sender_id": "a", "text": "x" * 2001}).encode(), 422, "text_too_long"),
        (b'{"sender_id": "a", "text": "\\ud800"}', 422, "invalid_text"),
        (b'{"sender_id": "a", "text": "ok \\udfff"}', 422, "invalid_text"),
        (b"[" * 5000 + b"]" * 5000, 400, "too_deep"),
        (b'{"sender_id": "a", "text": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "too_deep"),
    ],
)
def test_bad_input_gets_a_clear_4xx(client: httpx.Client, body: bytes, status: int, code: str) -> None:
    response = client.post("/api/chat", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["code"] == code
    assert isinstance(payload["detail"], str) and len(payload["detail"]) > 10


def test_text_of_exactly_2000_characters_is_accepted(client: httpx.Client) -> None:
    # Accepted by validation, so it reaches the (absent) Rasa and gets the 503, not a 422.
    response = client.post("/api/chat", json={"sender_id": "long-ok", "text": "ả" * 2000})
    assert response.status_code == 503


def test_oversized_body_is_refused_whether_declared_or_streamed(client: httpx.Client) -> None:
    big = json.dumps({"sender_id": "a", "text": "x" * 40_000}).encode()
    declared = client.post("/api/chat", content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["code"] == "body_too_large"

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    streamed = client.post("/api/chat", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413


def test_wrong_method_and_unknown_path_get_clean_json_errors(client: httpx.Client) -> None:
    assert client.get("/api/chat").status_code == 405
    missing = client.get("/khong-co")
    assert missing.status_code == 404
    assert missing.json()["code"] == "http_error"


def test_healthz_reports_each_part_and_the_zalo_channel_off(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["rasa"]["ready"] is False
    assert set(body) >= {"rasa", "actions", "search", "zalo"}
    assert body["zalo"] == {"enabled": False}
    assert client.post("/zalo/webhook", content=b"{}").status_code == 404


def test_cors_allows_only_the_configured_portal(client: httpx.Client) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = client.options("/api/chat", headers={"Origin": PORTAL, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == PORTAL

    foreign = client.options("/api/chat", headers={"Origin": "https://evil.example", **preflight})
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers

    simple = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_rate_limit_is_per_sender_and_polite(client: httpx.Client) -> None:
    statuses = [
        client.post("/api/chat", json={"sender_id": "busy-sender", "text": f"câu {i}"}).status_code
        for i in range(4)
    ]
    assert statuses == [503] * 4
    limited = client.post("/api/chat", json={"sender_id": "busy-sender", "text": "câu nữa"})
    assert limited.status_code == 429
    assert "chờ một chút" in limited.json()["detail"]
    assert int(limited.headers["retry-after"]) >= 1
    other = client.post("/api/chat", json={"sender_id": "calm-sender", "text": "xin chào"})
    assert other.status_code == 503


def test_demo_page_embeds_the_widget_and_the_zalo_verification_tag(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<script src="/widget.js"' in page.text
    assert f'<meta name="zalo-platform-site-verification" content="{SITE_VERIFICATION}">' in page.text
    script = client.get("/widget.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("application/javascript")
    for external in (
        "cdn.",
        "googleapis",
        'createelement("script")',
        "@import",
        "url(http",
        "url('",
        "import(",
    ):
        assert external not in script.text.lower()


def test_real_stack_is_healthy(stack: Stack) -> None:
    body = httpx.get(f"{stack.app_url}/healthz", timeout=10).json()
    assert body["status"] == "ok", body
    assert body["rasa"]["ready"] and body["actions"]["ready"] and body["search"]["ready"]


def test_real_stack_answers_a_question(stack: Stack, sender_id: str) -> None:
    response = httpx.post(
        f"{stack.app_url}/api/chat",
        json={"sender_id": sender_id, "text": "Đăng ký tạm trú cần giấy tờ gì?"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    messages = response.json()["messages"]
    assert messages and all(set(message) == {"text", "buttons"} for message in messages)
    shown = [message["text"] for message in messages] + [b["title"] for m in messages for b in m["buttons"]]
    assert "tạm trú" in " ".join(shown).lower()  # the answer, or a choice among tạm trú procedures


def scripted(lines: list[str]) -> Callable[[str], str]:
    answers = iter(lines)

    def read(prompt: str) -> str:
        try:
            return next(answers)
        except StopIteration:
            raise EOFError from None

    return read


def test_terminal_chat_explains_when_the_assistant_is_down(app_alone: Stack) -> None:
    output: list[str] = []
    assert run_chat(app_alone.app_url, read=scripted(["xin chào", "/thoat"]), write=output.append) == 0
    assert any(line.startswith("Lỗi: Xin lỗi, trợ lý đang tạm thời gián đoạn") for line in output), output
    output.clear()
    run_chat(f"http://127.0.0.1:{free_port()}", read=scripted(["xin chào"]), write=output.append)
    assert any("Không kết nối được" in line for line in output), output


def test_terminal_chat_numbers_pick_buttons_on_the_real_stack(stack: Stack) -> None:
    output: list[str] = []
    run_chat(stack.app_url, read=scripted(["Đăng ký tạm trú cần giấy tờ gì?", "1"]), write=output.append)
    transcript = "\n".join(output)
    numbered = re.findall(r"^  \[(\d)\] (.+)$", transcript, flags=re.MULTILINE)
    assert numbered and numbered[0][0] == "1", transcript
    first_title = numbered[0][1]
    assert f"  → {first_title}" in transcript, transcript
    after_choice = transcript.split(f"  → {first_title}", 1)[1]
    assert "Trợ lý:" in after_choice and "/choose" not in after_choice


class BrokenChat:
    """A chat core with a bug: the app must still answer with a clean error, never a 500."""

    async def send(self, sender_id: str, text: str) -> list:
        raise RuntimeError("a bug in the chat core")

    async def status(self) -> dict:
        raise RuntimeError("a bug in the status probe")

    async def aclose(self) -> None:
        pass


def test_unexpected_errors_never_give_a_500() -> None:
    from fastapi.testclient import TestClient

    from connectors.app import create_app
    from connectors.settings import AppSettings

    app = create_app(AppSettings(), chat=BrokenChat())
    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.post("/api/chat", json={"sender_id": "bug-1", "text": "xin chào"})
        assert response.status_code == 503
        assert response.json() == {
            "detail": "Đã có lỗi ngoài ý muốn. Bạn vui lòng thử lại sau ít phút.",
            "code": "unexpected_error",
        }
        assert "a bug" not in response.text
        assert http.get("/healthz").status_code == 503
