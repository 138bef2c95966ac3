"""Feedback, satisfaction and reports of extra papers with the real Rasa server and actions.

Rasa's REST output is read directly to check the `record` signals of the issue 14 contract (the app
hands them to its recorder and never shows them); `/api/chat` checks what a citizen sees and that a
typed payload the bot did not offer stays text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.run import Stack

pytestmark = pytest.mark.integration

TEMPORARY_RESIDENCE = "1.004194"
Rasa = Callable[[str, str], list[dict[str, Any]]]


@pytest.fixture
def rasa(stack: Stack) -> Rasa:
    """``rasa(sender, text)`` -> Rasa's REST channel output for one turn."""

    def send(sender: str, text: str) -> list[dict[str, Any]]:
        response = httpx.post(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            params={"token": stack.rasa_token},
            json={"sender": sender, "message": text},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return response.json()

    return send


def records(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    found = [m["custom"]["record"] for m in messages if "record" in (m.get("custom") or {})]
    assert all(set(m) <= {"recipient_id", "custom"} for m in messages if "record" in (m.get("custom") or {}))
    return [signal for signal in found if signal.get("kind") == kind]


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def payloads(messages: list[dict[str, Any]]) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons") or []]


def test_down_with_another_reason_records_the_rating_then_the_words(rasa: Rasa, sender_id: str) -> None:
    answer = rasa(sender_id, "đăng ký tạm trú cần giấy tờ gì")
    [signal] = records(answer, "answer")
    assert signal["outcome"] == "answered" and signal["procedure"] == TEMPORARY_RESIDENCE
    last = [m for m in answer if m.get("text")][-1]
    assert [b["payload"] for b in last["buttons"]] == ["/feedback_up", "/feedback_down"]
    assert [b["title"] for b in last["buttons"]] == ["Hữu ích", "Chưa đúng"]

    down = rasa(sender_id, "/feedback_down")
    assert records(down, "feedback") == [
        {
            "kind": "feedback",
            "rating": "down",
            "procedure": TEMPORARY_RESIDENCE,
            "reason": None,
            "comment": None,
        }
    ]
    reasons = payloads(down)
    assert len(reasons) == 4 and reasons[-1] == '/feedback_reason{"feedback_reason":"other"}'

    asked = rasa(sender_id, reasons[-1])
    assert records(asked, "feedback") == [] and "điều gì chưa đúng" in texts(asked)
    words = rasa(sender_id, "lệ phí ghi trên đó khác với ở phường")
    assert records(words, "feedback") == [
        {
            "kind": "feedback",
            "rating": "down",
            "procedure": TEMPORARY_RESIDENCE,
            "reason": "other",
            "comment": "lệ phí ghi trên đó khác với ở phường",
        }
    ]
    assert "/request_human" in payloads(words)  # then a volunteer is offered

    # The conversation goes on: the next question is answered, not taken as a comment.
    assert TEMPORARY_RESIDENCE in texts(rasa(sender_id, "lệ phí bao nhiêu"))


def test_down_with_a_reason_and_up(rasa: Rasa, sender_id: str) -> None:
    rasa(sender_id, "đổi bằng lái xe hết hạn cần giấy tờ gì")
    rasa(sender_id, "/feedback_down")
    reason = rasa(sender_id, '/feedback_reason{"feedback_reason":"outdated"}')
    [signal] = records(reason, "feedback")
    assert signal["rating"] == "down" and signal["reason"] == "outdated" and signal["comment"] is None
    assert "/request_human" in payloads(reason)

    up = rasa(sender_id, "/feedback_up")
    [signal] = records(up, "feedback")
    assert signal["rating"] == "up" and signal["reason"] is None and signal["procedure"] == "3.000347"
    assert "Cảm ơn bạn đã góp ý" in texts(up)


def test_the_satisfaction_question_is_asked_once(rasa: Rasa, sender_id: str) -> None:
    rasa(sender_id, "làm giấy khai sinh cần gì")
    thanks = rasa(sender_id, "cảm ơn nhé")
    levels = payloads(thanks)
    assert [b["title"] for m in thanks for b in m.get("buttons") or []] == [
        "Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng", "Rất không hài lòng",
    ]  # fmt: skip
    rated = rasa(sender_id, levels[1])
    assert records(rated, "satisfaction") == [{"kind": "satisfaction", "level": 4, "context": "end"}]
    again = rasa(sender_id, "cảm ơn bạn nhiều")
    bye = rasa(sender_id, "tạm biệt")
    assert not [p for p in payloads(again) + payloads(bye) if p.startswith("/rate_satisfaction")]
    assert texts(bye)


def test_a_report_in_an_old_district_is_recorded_with_todays_ward(rasa: Rasa, sender_id: str) -> None:
    text = "cán bộ phường bắt nộp thêm bản sao sổ hộ khẩu khi đăng ký tạm trú ở Hoàn Kiếm"
    reply = rasa(sender_id, text)
    [report] = records(reply, "report")
    assert re.fullmatch(r"PA-\d{6}-[2-9A-HJKMNP-Z]{5}", report["reference"]), report
    assert report["procedure"] == TEMPORARY_RESIDENCE and report["procedure_name"]
    assert (report["commune"], report["province"]) == ("Phường Hoàn Kiếm", "Thành phố Hà Nội")
    assert report["place_text"] == "Hoàn Kiếm" and "sổ hộ khẩu" in report["asked"]
    said = texts(reply)
    assert "CT01" in said and "Nguồn:" in said  # the legal list with its source
    assert "Nghị định 104/2022" in said  # the abolished book, said as a fixed response
    assert report["reference"] in said and "Phường Hoàn Kiếm, Thành phố Hà Nội" in said
    assert "dichvucong.gov.vn" in said and "Thành phố Hà Nội" in said
    assert not re.search(
        r"\d{4}[ .]?\d{3}[ .]?\d{3}", said.replace(report["reference"], "")
    )  # no invented number


def test_a_typed_feedback_payload_without_an_offer_is_text(stack: Stack, sender_id: str) -> None:
    def chat(text: str) -> list[dict[str, Any]]:
        response = httpx.post(
            f"{stack.app_url}/api/chat", json={"sender_id": sender_id, "text": text}, timeout=60
        )
        assert response.status_code == 200, response.text
        return response.json()["messages"]

    assert "Cảm ơn bạn đã góp ý" not in texts(chat("/feedback_up"))
    answer = chat("đăng ký tạm trú cần giấy tờ gì")
    assert "/feedback_up" in payloads(answer)
    assert all("record" not in m and "custom" not in m for m in answer)  # signals never reach a citizen
    assert "Cảm ơn bạn đã góp ý" in texts(chat("/feedback_up"))


def test_a_hand_back_asks_the_satisfaction_question_and_its_buttons_are_offered(
    stack: Stack, rasa: Rasa, sender_id: str
) -> None:
    import asyncio
    import concurrent.futures

    from connectors.chat import RasaChat, offered_payloads
    from connectors.console.rasa_api import RasaConversations

    rasa(sender_id, "cho tôi gặp người thật")

    async def hand_back() -> tuple[list[Any], set[str], str]:
        api = RasaConversations(stack.rasa_url, token=stack.rasa_token)
        chat = RasaChat(stack.rasa_url, token=stack.rasa_token)
        try:
            await api.pause(sender_id)
            await api.resume(sender_id)
            said = await api.trigger_intent(sender_id, "EXTERNAL_handback")
            offered = offered_payloads(await api.tracker(sender_id))
            guarded = await chat.guard(sender_id, '/rate_satisfaction{"satisfaction_level":"3"}')
            return said, offered, guarded
        finally:
            await api.aclose()
            await chat.aclose()

    # A loop of its own, in a thread: another test may have left one running in this thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        said, offered, guarded = pool.submit(asyncio.run, hand_back()).result()
    assert "kết thúc phần hỗ trợ" in said[0].text
    levels = [b.payload for m in said for b in m.buttons]
    assert len(levels) == 5 and set(levels) <= offered, (levels, offered)
    assert guarded == '/rate_satisfaction{"satisfaction_level":"3"}'
    rated = rasa(sender_id, guarded)
    assert records(rated, "satisfaction") == [{"kind": "satisfaction", "level": 3, "context": "handoff"}]


def parse(stack: Stack, text: str) -> str:
    response = httpx.post(
        f"{stack.rasa_url}/model/parse", params={"token": stack.rasa_token}, json={"text": text}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["intent"]["name"]


@pytest.mark.parametrize(
    "text",
    [
        "muốn đổi chứng minh thư cũ sang căn cước thì làm thế nào",
        "doi cmnd het han sang cccd o dau",
        "sổ hộ khẩu nhà tôi mất rồi, giờ làm thường trú cho con thế nào",
        "tach ho khau cho con trai da co gia dinh",
        "số cmnd cũ trên giấy tờ nhà đất có phải sửa không",
    ],
)
def test_a_procedure_question_naming_cmnd_or_the_household_book_is_not_a_report(
    stack: Stack, text: str
) -> None:
    assert parse(stack, text) != "report_extra_papers"


@pytest.mark.parametrize(
    "text",
    [
        "cán bộ xã bắt tôi photo sổ hộ khẩu khi làm khai sinh cho con",
        "công an phường đòi chứng minh nhân dân bản gốc khi đăng ký thường trú",
        "bo phan mot cua yeu cau nop them giay xac nhan doc than",
    ],
)
def test_an_office_asking_for_a_paper_is_a_report(stack: Stack, text: str) -> None:
    assert parse(stack, text) == "report_extra_papers"
