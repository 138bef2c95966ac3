"""The volunteer console's API on the real stack (Rasa + app): security, and the whole handoff round trip
of a web conversation (queue, take, the bot paused, the volunteer's messages live, hand-back, the bot
answering on the same topic)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from console_client import ConsoleClient, EventStream, add_volunteer

from connectors.db import Database
from connectors.run import Stack

pytestmark = pytest.mark.integration

TEMPORARY_RESIDENCE = "1.004194"


def chat(stack: Stack, sender: str, text: str) -> dict[str, Any]:
    response = httpx.post(f"{stack.app_url}/api/chat", json={"sender_id": sender, "text": text}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def joined(body: dict[str, Any]) -> str:
    return "\n".join(message["text"] for message in body["messages"])


@pytest.fixture
def volunteer(stack: Stack) -> ConsoleClient:
    client = ConsoleClient(stack.app_url)
    assert client.login(add_volunteer(stack.database_url)).status_code == 200
    return client


def test_console_refuses_everything_without_a_session(stack: Stack, sender_id: str) -> None:
    anonymous = ConsoleClient(stack.app_url)
    for path in ("queue", "me", "events", f"conversations/{sender_id}", "procedures?q=tam+tru", "guides"):
        response = anonymous.get(path)
        assert response.status_code == 401, path
        assert "đăng nhập" in response.json()["detail"]
    for path in ("take", "messages", "release", "close", "checklist"):
        assert anonymous.post(f"conversations/{sender_id}/{path}", {"text": "x"}).status_code == 401
    forged = ConsoleClient(stack.app_url)
    forged.token, forged.csrf = "forged-token", "forged"
    assert forged.get("queue").status_code == 401
    page = httpx.get(f"{stack.app_url}/console", timeout=10)
    assert page.status_code == 200 and "Đăng nhập" in page.text  # the page itself shows the login form


def test_login_sets_a_safe_cookie_and_every_post_needs_the_csrf_token(stack: Stack, sender_id: str) -> None:
    username = add_volunteer(stack.database_url)
    client = ConsoleClient(stack.app_url)
    wrong = client.login(username, "khong-dung-mat-khau")
    assert wrong.status_code == 401 and wrong.json()["detail"] == "Sai tên đăng nhập hoặc mật khẩu."
    assert client.login(username).status_code == 200
    flags = client.set_cookie.lower()
    assert "httponly" in flags and "samesite=strict" in flags and "secure" in flags
    assert client.get("me").json()["volunteer"]["username"] == username
    for csrf in (None, "wrong-token"):
        refused = client.post(f"conversations/{sender_id}/take", {}, csrf=csrf)
        assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    assert client.post("logout", {}, csrf=None).status_code == 403
    assert client.post("logout", {}).status_code == 200
    assert client.get("queue").status_code == 401  # the session is gone from the database


def test_repeated_wrong_passwords_lock_the_account_with_a_clear_message(stack: Stack) -> None:
    username = add_volunteer(stack.database_url)
    client = ConsoleClient(stack.app_url)
    statuses = [client.login(username, "sai-mat-khau-lan-nua").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 423]
    locked = client.login(username)  # the right password, too late
    assert locked.status_code == 423 and "tạm khóa" in locked.json()["detail"]
    assert not client.token


def test_bad_console_requests_get_clear_errors(
    stack: Stack, volunteer: ConsoleClient, sender_id: str
) -> None:
    assert volunteer.post(f"conversations/{sender_id}/take", {}).status_code == 404
    assert volunteer.post(f"conversations/{sender_id}/messages", {"txt": "x"}).status_code == 422
    assert volunteer.post(f"conversations/{sender_id}/messages", {"text": "x" * 2001}).status_code == 422
    assert volunteer.get("conversations/bad%20id").status_code in (400, 404, 422)
    assert volunteer.get("procedures/9.999999").status_code == 404


def test_handoff_round_trip_in_a_web_conversation(stack: Stack, sender_id: str) -> None:
    answer = chat(stack, sender_id, "Đăng ký tạm trú cần giấy tờ gì?")
    assert "tạm trú" in joined(answer).lower() and not answer["live"]
    asked = chat(stack, sender_id, "Cho tôi gặp người thật")
    assert asked["live"], asked
    assert "tình nguyện viên" in joined(asked) and "giờ hỗ trợ" in joined(asked).lower()

    lan = ConsoleClient(stack.app_url)
    assert lan.login(add_volunteer(stack.database_url, name="Nguyễn Thị Lan")).status_code == 200
    minh = ConsoleClient(stack.app_url)
    assert minh.login(add_volunteer(stack.database_url, name="Trần Văn Minh")).status_code == 200
    boss = ConsoleClient(stack.app_url)
    assert boss.login(add_volunteer(stack.database_url, role="coordinator")).status_code == 200

    item = lan.queued(sender_id)
    assert item is not None, "the conversation is in the queue"
    assert item["channel"] == "web" and item["topic"] == TEMPORARY_RESIDENCE and item["status"] == "waiting"
    assert item["last_message"] == "Cho tôi gặp người thật" and item["waiting_since"]
    queue_events = EventStream(f"{stack.app_url}/console/api/events", lan.headers)
    widget = EventStream(f"{stack.app_url}/api/chat/{sender_id}/stream")
    try:
        queue_events.wait_for(
            lambda events: any(
                i["conversation_id"] == sender_id for name, data in events for i in data["queue"]
            )
        )
        assert minh.post(f"conversations/{sender_id}/messages", {"text": "chưa nhận"}).status_code == 409

        taken = lan.ok(f"conversations/{sender_id}/take", {})
        assert taken["status"] == "assigned" and taken["holder"]["name"] == "Nguyễn Thị Lan"
        widget.wait_for(
            lambda events: ("status", {"status": "assigned", "volunteer": "Nguyễn Thị Lan"}) in events
        )
        widget.wait_for(
            lambda events: any(n == "message" and "Nguyễn Thị Lan" in d["text"] for n, d in events)
        )

        # While a volunteer holds it the bot does not answer; the citizen's turn still reaches the tracker.
        held = chat(stack, sender_id, "Tôi ở trọ thì cần giấy gì thêm?")
        assert held["messages"] == [] and held["live"]

        # Another volunteer can neither act nor take it silently; a coordinator can act.
        refused = minh.post(f"conversations/{sender_id}/messages", {"text": "Tôi trả lời thay"})
        assert refused.status_code == 403 and "Nguyễn Thị Lan" in refused.json()["detail"]
        assert minh.post(f"conversations/{sender_id}/take", {}).status_code == 409
        assert minh.post(f"conversations/{sender_id}/release").status_code == 403

        lan.ok(
            f"conversations/{sender_id}/messages",
            {"text": "Chào bạn, mình là Lan. Bạn ở trọ thì cần hợp đồng thuê."},
        )
        widget.wait_for(lambda events: any(n == "message" and d["role"] == "volunteer" for n, d in events))
        boss.ok(
            f"conversations/{sender_id}/messages", {"text": "Điều phối viên bổ sung: mang theo căn cước."}
        )
        lan.ok(f"conversations/{sender_id}/checklist", {})

        view = lan.get(f"conversations/{sender_id}").json()
        assert view["paused"] and view["current_procedure"] == TEMPORARY_RESIDENCE
        roles = [turn["role"] for turn in view["history"]]
        assert roles.count("volunteer") == 3 and "citizen" in roles and "bot" in roles
        texts = [turn["text"] for turn in view["history"]]
        assert "Tôi ở trọ thì cần giấy gì thêm?" in texts
        assert any(
            turn["author"] == "Nguyễn Thị Lan" for turn in view["history"] if turn["role"] == "volunteer"
        )
        volunteer_texts = [t["text"] for t in view["history"] if t["role"] == "volunteer"]
        assert any("Hồ sơ" in text and TEMPORARY_RESIDENCE in text for text in volunteer_texts)

        released = lan.ok(f"conversations/{sender_id}/release")
        assert released["status"] == "released"
        widget.wait_for(lambda events: any(n == "status" and d["status"] == "released" for n, d in events))
        # The hand-back asks the satisfaction question once, with its five buttons on the widget too.
        widget.wait_for(
            lambda events: any(
                n == "message"
                and len([b for b in d["buttons"] if b["payload"].startswith("/rate_satisfaction")]) == 5
                for n, d in events
            )
        )
        assert lan.queued(sender_id) is None
    finally:
        queue_events.close()
        widget.close()

    # Back with the bot, on the topic it had.
    after = chat(stack, sender_id, "Lệ phí bao nhiêu?")
    assert after["messages"] and not after["live"]
    assert "tạm trú" in joined(after).lower() or TEMPORARY_RESIDENCE in joined(after), joined(after)

    database = Database(stack.database_url)
    try:
        with database.session() as session:
            from sqlalchemy import select

            from connectors.db.models import AuditEntry

            entries = session.scalars(select(AuditEntry).where(AuditEntry.conversation_id == sender_id)).all()
            actions = [(entry.actor, entry.action) for entry in entries]
    finally:
        database.dispose()
    assert [action for _, action in actions] == ["take", "message", "message", "export", "release"]


def test_desk_helper_searches_shows_the_missing_papers_and_records_the_export(
    stack: Stack, volunteer: ConsoleClient
) -> None:
    hits = volunteer.get("procedures?q=" + "đăng ký tạm trú").json()
    assert any(hit["code"] == TEMPORARY_RESIDENCE for hit in hits)
    card = volunteer.get(f"procedures/{TEMPORARY_RESIDENCE}").json()
    assert card["documents"] and "Nguồn" in card["source"]
    first = card["documents"][0]
    exported = volunteer.ok(
        f"procedures/{TEMPORARY_RESIDENCE}/export", {"have": [first["id"]], "kind": "print"}
    )
    assert "Giấy tờ còn thiếu" in exported["text"] or "Đã đủ" in exported["text"]
    assert first["line"] not in exported["text"].split("Giấy tờ còn thiếu", 1)[-1]
    guides = volunteer.get("guides").json()
    level2 = next(guide for guide in guides if guide["key"] == "vneid_level2")
    assert level2["code"] == "3.000228" and level2["steps"]
    assert any(guide["key"] == "portal_account" for guide in guides)


def test_logins_from_one_address_are_rate_limited(tmp_path, database_url: str) -> None:
    from test_zalo import serve

    from connectors.app import create_app
    from connectors.settings import AppSettings, ConsoleSettings

    settings = AppSettings(
        database_url=database_url,
        state_db=tmp_path / "connectors.db",
        rasa_url="http://127.0.0.1:9",
        console=ConsoleSettings(login_attempts_per_minute=3),
    )
    server, thread, url = serve(create_app(settings))
    try:
        username = add_volunteer(database_url)
        client = ConsoleClient(url)
        assert [client.login(username, "sai-mat-khau-day").status_code for _ in range(3)] == [401] * 3
        limited = client.login(username)
        assert limited.status_code == 429 and "chờ" in limited.json()["detail"]
        assert int(limited.headers["Retry-After"]) >= 1
    finally:
        server.should_exit = True
        thread.join(15)


def test_two_turns_the_bot_cannot_help_with_offer_a_volunteer(stack: Stack, sender_id: str) -> None:
    first = chat(stack, sender_id, "thời tiết Hà Nội mai thế nào")
    assert not any(b["title"] == "Gặp tình nguyện viên" for m in first["messages"] for b in m["buttons"])
    second = chat(stack, sender_id, "zzqx vbnm rtyu")  # out of scope, or nothing found
    offer = [b for m in second["messages"] for b in m["buttons"] if b["title"] == "Gặp tình nguyện viên"]
    assert offer, second
    accepted = chat(stack, sender_id, offer[0]["payload"])
    assert accepted["live"] and "tình nguyện viên" in joined(accepted)
    client = ConsoleClient(stack.app_url)
    assert client.login(add_volunteer(stack.database_url)).status_code == 200
    item = client.queued(sender_id)
    assert item is not None and item["topic"] is None
    client.ok(f"conversations/{sender_id}/close")
    assert client.queued(sender_id) is None
