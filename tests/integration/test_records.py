"""The analytics recorder and the coordinators' reports, through the real app (uvicorn on loopback) on
SQLite and PostgreSQL: Rasa's records are given as Rasa's REST channel would send them (the chat core's
seam, ``create_app(chat=...)``), on the chat API and on the Zalo webhook (the fake Zalo API)."""

from __future__ import annotations

import csv
import io
import itertools
import logging
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine

from connectors.chat import BotMessage, messages_from_rasa
from connectors.db import Database
from connectors.db.models import (
    ChatTurn,
    ConversationMessage,
    ExtraPaperReport,
    Feedback,
    Handoff,
    Satisfaction,
    utcnow,
)
from tests.integration.console_client import ConsoleClient, add_volunteer
from tests.integration.test_zalo import fake_zalo, start_app, text_event, wait_for  # noqa: F401

pytestmark = pytest.mark.integration

ANSWER_TEXT = (
    "Đăng ký tạm trú (1.004194): tờ khai CT01, giấy tờ chứng minh chỗ ở hợp pháp. Lệ phí 15.000 đồng."
)


def answer(procedure: str | None = "1.004194", outcome: str = "answered", confidence: float = 0.91) -> dict:
    return {"custom": {"record": {"kind": "answer", "outcome": outcome, "procedure": procedure,
                                  "confidence": confidence}}}  # fmt: skip


def record(**fields: Any) -> dict:
    return {"recipient_id": "x", "custom": {"record": fields}}


class CannedRasa:
    """The chat core answering with Rasa REST channel output chosen per text, parsed like RasaChat's."""

    def __init__(self, script: dict[str, list[dict[str, Any]]]) -> None:
        self.script = script

    async def send(self, sender_id: str, text: str) -> list[BotMessage]:
        return messages_from_rasa(
            self.script.get(text, [{"recipient_id": sender_id, "text": "Bạn hỏi gì ạ?"}])
        )

    async def status(self) -> dict[str, Any]:
        return {"ready": True}

    async def aclose(self) -> None:
        pass


HANDOFF = "Cho tôi gặp người thật"
QUESTION = "Đăng ký tạm trú cần giấy tờ gì? Tôi sđt 0912 345 678, CCCD 001099012345"
SCRIPT: dict[str, list[dict[str, Any]]] = {
    QUESTION: [
        {
            "recipient_id": "x",
            "text": ANSWER_TEXT,
            "buttons": [
                {"title": "Hữu ích", "payload": "/feedback_up"},
                {"title": "Chưa đúng", "payload": "/feedback_down"},
            ],
        },
        answer(),
    ],
    "/feedback_up": [record(kind="feedback", rating="up", procedure="1.004194"), {"text": "Cảm ơn bạn!"}],
    "/feedback_down": [
        {"text": "Chưa đúng ở điểm nào?"},
        record(kind="feedback", rating="down", procedure="1.004194", reason=None, comment=None),
    ],
    '/feedback_reason{"feedback_reason":"other"}': [
        record(kind="feedback", rating="down", procedure="1.004194", reason="other"),
        {"text": "Bạn ghi giúp điều chưa đúng nhé."},
    ],
    "Phường bảo phải có sổ hộ khẩu, gọi tôi 0987654321": [
        record(
            kind="feedback",
            rating="down",
            procedure="1.004194",
            reason="other",
            comment="Phường bảo phải có sổ hộ khẩu, gọi tôi 0987654321",
        ),
        {"text": "Cảm ơn bạn đã góp ý."},
    ],
    '/rate_satisfaction{"satisfaction_level":"4"}': [
        record(kind="satisfaction", level="4", context="end"),
        {"text": "Cảm ơn bạn đã đánh giá."},
    ],
    "báo cáo": [
        record(
            kind="report",
            reference="PA-251201-K7M2Q",
            procedure="1.004194",
            procedure_name="Đăng ký tạm trú",
            province="Thành phố Hà Nội",
            commune="Phường Hoàn Kiếm",
            place_text="P. Hàng Trống, Q. Hoàn Kiếm",
            asked="bản sao sổ hộ khẩu; cán bộ Lan 0912345678",
        ),
        {"text": "Mã phản ánh của bạn: PA-251201-K7M2Q."},
    ],
    "báo cáo lần nữa": [
        record(
            kind="report",
            reference="PA-251201-K7M2Q",
            procedure="1.001193",
            procedure_name="Đăng ký khai sinh",
            province="Tỉnh Ninh Bình",
            commune=None,
            place_text='=HYPERLINK("http://x")',
            asked="+giấy xác nhận độc thân",
        ),
        {"text": "Mã phản ánh của bạn: PA-251201-K7M2Q."},
    ],
    HANDOFF: [
        {"recipient_id": "x", "custom": {"handoff": {"topic": None, "in_hours": True}}},
        {"text": "Đã chuyển bạn tới tình nguyện viên."},
    ],
    "hỏng": [record(kind="satisfaction", level=9), record(kind="nonsense"), {"text": "Vâng."}],
}


def chat(url: str, sender: str, message: str) -> list[dict[str, Any]]:
    response = httpx.post(f"{url}/api/chat", json={"sender_id": sender, "text": message}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def rows(database_url: str, model: Any, conversation_id: str | None = None) -> list[Any]:
    database = Database(database_url)
    try:
        with database.session() as session:
            query = select(model).order_by(model.id)
            if conversation_id is not None:
                query = query.where(model.conversation_id == conversation_id)
            return list(session.scalars(query))
    finally:
        database.dispose()


@pytest.fixture
def app(fake_zalo, start_app, database_url: str):  # noqa: F811
    _, api_base = fake_zalo
    return start_app(api_base, chat=CannedRasa(SCRIPT), database_url=database_url)


def test_turns_and_feedback_are_recorded_masked_and_records_never_reach_the_citizen(
    app, database_url
) -> None:
    sender = f"web-{uuid.uuid4().hex[:8]}"
    replies = chat(app.url, sender, QUESTION)
    assert replies == [
        {"text": ANSWER_TEXT, "buttons": [{"title": "Hữu ích", "payload": "/feedback_up"},
                                          {"title": "Chưa đúng", "payload": "/feedback_down"}]}
    ]  # fmt: skip
    assert chat(app.url, sender, "/feedback_up") == [{"text": "Cảm ơn bạn!", "buttons": []}]
    assert chat(app.url, sender, "/feedback_down") == [{"text": "Chưa đúng ở điểm nào?", "buttons": []}]
    chat(app.url, sender, '/feedback_reason{"feedback_reason":"other"}')
    chat(app.url, sender, "Phường bảo phải có sổ hộ khẩu, gọi tôi 0987654321")

    turns = rows(database_url, ChatTurn, sender)
    assert len(turns) == 5 and {turn.channel for turn in turns} == {"web"}
    first = turns[0]
    assert first.text_masked == "Đăng ký tạm trú cần giấy tờ gì? Tôi sđt [SĐT], CCCD [SỐ CCCD]"
    assert (first.outcome, first.procedure_code, first.confidence) == ("answered", "1.004194", 0.91)
    assert first.answer_text == ANSWER_TEXT  # 1.004194 and 15.000 đồng survive the masking
    assert [turn.outcome for turn in turns[1:]] == ["other"] * 4
    assert turns[4].text_masked == "Phường bảo phải có sổ hộ khẩu, gọi tôi [SĐT]"

    up, down = rows(database_url, Feedback, sender)  # the reason and the comment completed the down row
    assert (up.rating, up.procedure_code, up.channel) == ("up", "1.004194", "web")
    assert up.answer_text == ANSWER_TEXT and up.question_masked == first.text_masked
    assert (down.rating, down.reason) == ("down", "other")
    assert down.comment_masked == "Phường bảo phải có sổ hộ khẩu, gọi tôi [SĐT]"
    assert down.answer_text == ANSWER_TEXT and down.question_masked == first.text_masked


def test_satisfaction_reports_and_bad_records(app, database_url, caplog) -> None:
    sender = f"web-{uuid.uuid4().hex[:8]}"
    chat(app.url, sender, '/rate_satisfaction{"satisfaction_level":"4"}')
    [rating] = rows(database_url, Satisfaction, sender)
    assert (rating.level, rating.context, rating.channel) == (4, "end", "web")

    assert chat(app.url, sender, "báo cáo") == [
        {"text": "Mã phản ánh của bạn: PA-251201-K7M2Q.", "buttons": []}
    ]
    chat(app.url, sender, "báo cáo lần nữa")  # the same reference: kept under a suffixed one
    first, second = rows(database_url, ExtraPaperReport, sender)
    assert (first.reference, second.reference) == ("PA-251201-K7M2Q", "PA-251201-K7M2Q-2")
    assert (first.procedure_code, first.province, first.commune) == (
        "1.004194",
        "Thành phố Hà Nội",
        "Phường Hoàn Kiếm",
    )
    assert first.place_text_masked == "P. Hàng Trống, Q. Hoàn Kiếm"
    assert first.asked_masked == "bản sao sổ hộ khẩu; cán bộ Lan [SĐT]"
    assert second.commune is None and second.channel == "web"

    with caplog.at_level(logging.WARNING):
        assert chat(app.url, sender, "hỏng") == [{"text": "Vâng.", "buttons": []}]
    assert len(rows(database_url, Satisfaction, sender)) == 1
    assert rows(database_url, ChatTurn, sender)[-1].text_masked == "hỏng"


def test_a_database_failure_never_costs_the_reply(app, database_url, caplog) -> None:
    database = Database(database_url)
    with database.session() as session:
        session.execute(text("DROP TABLE chat_turns"))
    database.dispose()
    with caplog.at_level(logging.ERROR):
        replies = chat(app.url, "web-broken", QUESTION)
    assert replies[0]["text"] == ANSWER_TEXT
    assert "not recorded" in caplog.text and "0912" not in caplog.text and "001099012345" not in caplog.text


def test_a_recording_failure_costs_neither_the_reply_nor_the_handoff(app, database_url, caplog) -> None:
    """When the desk wrote (a handoff queued), the recording fails under a savepoint of its own."""
    database = Database(database_url)
    with database.session() as session:
        session.execute(text("DROP TABLE chat_turns"))
    database.dispose()
    sender = f"web-{uuid.uuid4().hex[:8]}"
    with caplog.at_level(logging.ERROR):
        response = httpx.post(f"{app.url}/api/chat", json={"sender_id": sender, "text": HANDOFF}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {"messages": [{"text": "Đã chuyển bạn tới tình nguyện viên.", "buttons": []}],
                               "live": True}  # fmt: skip
    assert "not recorded" in caplog.text
    [handoff] = rows(database_url, Handoff, sender)
    assert handoff.status == "waiting"
    messages = rows(database_url, ConversationMessage, sender)
    assert [(message.role, message.text) for message in messages] == [
        ("citizen", HANDOFF),
        ("bot", "Đã chuyển bạn tới tình nguyện viên."),
    ]


def test_a_turn_is_one_transaction_for_the_desk_and_the_recorder(app, database_url) -> None:
    """The desk's handoff check and the analytics row of a turn share one transaction (one connection
    checkout, BEGIN and COMMIT), not one each."""
    sender = f"web-{uuid.uuid4().hex[:8]}"
    transactions = itertools.count(1)
    statements: list[tuple[int, str]] = []

    def begun(connection: Any) -> None:
        connection.info["test_transaction"] = next(transactions)

    def executed(connection: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if sender in repr(parameters):
            statements.append((connection.info.get("test_transaction", 0), " ".join(statement.split()[:4])))

    event.listen(Engine, "begin", begun)
    event.listen(Engine, "before_cursor_execute", executed)
    try:
        assert chat(app.url, sender, QUESTION)[0]["text"] == ANSWER_TEXT
    finally:
        event.remove(Engine, "before_cursor_execute", executed)
        event.remove(Engine, "begin", begun)
    assert any("handoffs" in statement for _, statement in statements), statements
    assert any("INSERT INTO chat_turns" in statement for _, statement in statements), statements
    assert len({transaction for transaction, _ in statements}) == 1, statements
    assert len(rows(database_url, ChatTurn, sender)) == 1


def test_zalo_turns_and_ratings_are_recorded_and_records_are_not_sent(fake_zalo, app, database_url) -> None:  # noqa: F811
    fake, _ = fake_zalo
    user = f"u{uuid.uuid4().hex[:10]}"
    app.post_event(text_event(QUESTION, user_id=user))
    wait_for(lambda: fake.delivered, timeout=20)
    app.post_event(text_event('/rate_satisfaction{"satisfaction_level":"4"}', user_id=user))
    wait_for(lambda: len(fake.delivered) >= 2, timeout=20)
    assert wait_for(lambda: rows(database_url, Satisfaction, f"zalo:{user}"), timeout=20)
    texts = [item["message"]["text"] for item in fake.delivered]
    assert texts[0] == ANSWER_TEXT and texts[-1] == "Cảm ơn bạn đã đánh giá."
    assert all(item["message"]["text"].strip() for item in fake.delivered)
    turns = rows(database_url, ChatTurn, f"zalo:{user}")
    assert [(turn.channel, turn.outcome) for turn in turns] == [("zalo", "answered"), ("zalo", "other")]
    assert "[SĐT]" in turns[0].text_masked and "0912" not in turns[0].text_masked
    [rating] = rows(database_url, Satisfaction, f"zalo:{user}")
    assert (rating.channel, rating.level) == ("zalo", 4)


# ---- the coordinators' reports ------------------------------------------------------------------


def _add_reports(database_url: str) -> None:
    database = Database(database_url)
    now = utcnow()
    places = [
        ("Thành phố Hà Nội", "Phường Hoàn Kiếm", "1.004194", 1),
        ("Thành phố Hà Nội", "Phường Cửa Nam", "1.001193", 3),
        ("Tỉnh Ninh Bình", None, "1.004194", 40),
        ("Tỉnh Đồng Nai", "Phường Trấn Biên", "2.000748", 50),
    ]
    with database.session() as session:
        for index, (province, commune, code, days) in enumerate(places):
            session.add(
                ExtraPaperReport(
                    reference=f"PA-TEST-{index}", conversation_id=f"web-{index}", channel="web",
                    at=now - timedelta(days=days), procedure_code=code, procedure_name="Thủ tục",
                    province=province, commune=commune, place_text_masked=f"nơi {index}",
                    asked_masked="=1+1" if index == 0 else "bản sao sổ hộ khẩu",
                )
            )  # fmt: skip
    database.dispose()


def test_reports_for_coordinators_only_filtered_paginated_and_exported(app, database_url) -> None:
    _add_reports(database_url)
    coordinator, volunteer, nobody = ConsoleClient(app.url), ConsoleClient(app.url), ConsoleClient(app.url)
    coordinator.login(add_volunteer(database_url, role="coordinator"))
    volunteer.login(add_volunteer(database_url))
    assert nobody.get("reports").status_code == 401
    assert volunteer.get("reports").status_code == 403
    assert volunteer.get("reports.csv").status_code == 403

    everything = coordinator.get("reports")
    assert everything.status_code == 200 and everything.headers["x-total-count"] == "4"
    assert [item["reference"] for item in everything.json()] == [
        "PA-TEST-0",
        "PA-TEST-1",
        "PA-TEST-2",
        "PA-TEST-3",
    ]
    assert "conversation_id" not in everything.json()[0]
    hanoi = coordinator.get("reports?province=thành phố hà nội&limit=1&offset=1")
    assert hanoi.headers["x-total-count"] == "2" and [i["reference"] for i in hanoi.json()] == ["PA-TEST-1"]
    dong_nai = coordinator.get("reports?province=TỈNH ĐỒNG  NAI").json()
    assert [item["reference"] for item in dong_nai] == ["PA-TEST-3"]
    assert coordinator.get("reports?province=Tỉnh Hà Giang").json() == []
    by_code = coordinator.get("reports?procedure=1.004194").json()
    assert [item["reference"] for item in by_code] == ["PA-TEST-0", "PA-TEST-2"]
    since = (utcnow() - timedelta(days=10)).date().isoformat()
    until = (utcnow() - timedelta(days=2)).date().isoformat()
    assert [i["reference"] for i in coordinator.get(f"reports?since={since}&until={until}").json()] == [
        "PA-TEST-1"
    ]
    assert coordinator.get("reports?since=hôm qua").status_code == 422
    assert coordinator.get("reports?limit=100000").status_code == 422

    exported = coordinator.get("reports.csv?procedure=1.004194")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert table[0][0] == "Mã phản ánh" and len(table) == 3
    assert table[1][0] == "PA-TEST-0" and table[1][-1] == "'=1+1"  # never run as a formula
    assert table[2][5:8] == ["Tỉnh Ninh Bình", "", "nơi 2"]
