"""Ratings, the satisfaction question and reports of extra papers end to end: the real Rasa dialogue
(the ``stack`` fixture) through ``/api/chat`` and through the Zalo webhook (the fake Zalo API), down to
the rows of the app's database."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.chat import RasaChat
from connectors.db import Database
from connectors.db.models import ChatTurn, ExtraPaperReport, Feedback, Satisfaction
from connectors.run import Stack
from tests.integration.test_zalo import fake_zalo, start_app, text_event, wait_for  # noqa: F401

pytestmark = pytest.mark.integration

REFERENCE = re.compile(r"PA-\d{6}-[A-Z0-9]{5}")


def rows(database_url: str, model: Any, conversation_id: str) -> list[Any]:
    database = Database(database_url)
    try:
        with database.session() as session:
            query = sa.select(model).where(model.conversation_id == conversation_id).order_by(model.id)
            return list(session.scalars(query))
    finally:
        database.dispose()


def payloads(messages: list[dict[str, Any]]) -> list[str]:
    return [button["payload"] for message in messages for button in message.get("buttons") or []]


def test_rating_down_with_a_comment_then_satisfaction_through_the_chat_api(
    stack: Stack, talk, sender_id: str
) -> None:
    answer = talk(sender_id, "đăng ký tạm trú cần giấy tờ gì")
    assert {"/feedback_up", "/feedback_down"} <= set(payloads(answer))
    assert all(message["text"] or message["buttons"] for message in answer)  # no record reached the widget
    reasons = talk(sender_id, "/feedback_down")
    assert '/feedback_reason{"feedback_reason":"other"}' in payloads(reasons)
    talk(sender_id, '/feedback_reason{"feedback_reason":"other"}')
    talk(sender_id, "phường bảo cần thêm giấy xác nhận, gọi tôi 0912345678")
    asked = talk(sender_id, "cảm ơn nhé")
    assert '/rate_satisfaction{"satisfaction_level":"4"}' in payloads(asked)
    talk(sender_id, '/rate_satisfaction{"satisfaction_level":"4"}')

    turns = rows(stack.database_url, ChatTurn, sender_id)
    assert len(turns) == 6 and {turn.channel for turn in turns} == {"web"}
    assert (turns[0].outcome, turns[0].procedure_code) == ("answered", "1.004194")
    assert turns[0].confidence is not None and turns[0].answer_text
    assert "0912345678" not in turns[3].text_masked and "[SĐT]" in turns[3].text_masked
    [down] = rows(stack.database_url, Feedback, sender_id)
    assert (down.rating, down.reason, down.procedure_code, down.channel) == (
        "down",
        "other",
        "1.004194",
        "web",
    )
    assert down.comment_masked == "phường bảo cần thêm giấy xác nhận, gọi tôi [SĐT]"
    assert down.question_masked == "đăng ký tạm trú cần giấy tờ gì"
    assert "1.004194" in (down.answer_text or "")
    assert down.answer_text == turns[0].answer_text
    [satisfied] = rows(stack.database_url, Satisfaction, sender_id)
    assert (satisfied.level, satisfied.context, satisfied.channel) == (4, "end", "web")


def test_rating_up_through_the_chat_api(stack: Stack, talk, sender_id: str) -> None:
    talk(sender_id, "đổi bằng lái xe hết hạn cần giấy tờ gì")
    talk(sender_id, "/feedback_up")
    [up] = rows(stack.database_url, Feedback, sender_id)
    assert (up.rating, up.reason, up.procedure_code) == ("up", None, "3.000347")
    assert up.question_masked == "đổi bằng lái xe hết hạn cần giấy tờ gì"
    assert up.answer_text and "3.000347" in up.answer_text


def test_an_extra_papers_report_in_an_old_district_is_stored_with_todays_commune(
    stack: Stack, talk, sender_id: str
) -> None:
    replies = talk(sender_id, "cán bộ phường bắt nộp thêm bản sao sổ hộ khẩu khi đăng ký tạm trú ở Hoàn Kiếm")
    shown = " ".join(message["text"] for message in replies)
    reference = REFERENCE.search(shown)
    assert reference, shown
    [report] = rows(stack.database_url, ExtraPaperReport, sender_id)
    assert report.reference == reference.group(0) and report.channel == "web"
    assert report.procedure_code == "1.004194"
    assert report.province == "Thành phố Hà Nội" and report.commune == "Phường Hoàn Kiếm"
    assert "Hoàn Kiếm" in (report.place_text_masked or "")
    assert "hộ khẩu" in report.asked_masked
    [turn] = rows(stack.database_url, ChatTurn, sender_id)
    assert turn.procedure_code in (None, "1.004194")


def test_ratings_and_satisfaction_through_zalo(fake_zalo, start_app, stack: Stack) -> None:  # noqa: F811
    fake, api_base = fake_zalo
    app = start_app(api_base, chat=RasaChat(stack.rasa_url, token=stack.rasa_token))
    database_url = app.settings.database_url
    user = f"u{uuid.uuid4().hex[:10]}"
    conversation = f"zalo:{user}"

    def say(text: str, replies_before: int) -> list[dict[str, Any]]:
        app.post_event(text_event(text, user_id=user))
        assert wait_for(lambda: len(fake.delivered) > replies_before, timeout=60), text
        time.sleep(1.5)  # the rest of the same answer
        return [item["message"] for item in fake.delivered[replies_before:]]

    answer = say("đăng ký tạm trú cần giấy tờ gì", 0)
    buttons = [
        b["payload"]
        for m in answer
        for b in (m.get("attachment") or {}).get("payload", {}).get("buttons", [])
    ]
    assert {"/feedback_up", "/feedback_down"} <= set(buttons) and len(answer) <= 2
    assert all(message["text"].strip() for message in answer)
    say("/feedback_up", len(fake.delivered))
    say("cảm ơn nhé", len(fake.delivered))
    say('/rate_satisfaction{"satisfaction_level":"5"}', len(fake.delivered))

    turns = wait_for(lambda: len(rows(database_url, ChatTurn, conversation)) >= 4 and rows(
        database_url, ChatTurn, conversation), timeout=20)  # fmt: skip
    assert {turn.channel for turn in turns} == {"zalo"}
    assert (turns[0].outcome, turns[0].procedure_code) == ("answered", "1.004194")
    [up] = rows(database_url, Feedback, conversation)
    assert (up.rating, up.channel, up.procedure_code) == ("up", "zalo", "1.004194")
    [satisfied] = rows(database_url, Satisfaction, conversation)
    assert (satisfied.level, satisfied.channel, satisfied.context) == (5, "zalo", "end")
