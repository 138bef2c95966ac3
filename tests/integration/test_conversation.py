"""Multi-turn conversations through the app's POST /api/chat with the real Rasa server and actions."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.integration

Talk = Callable[[str, str], list[dict[str, Any]]]
BIRTH = "1.001193"
LICENCE_RENEWAL = "3.000347"
TEMPORARY_RESIDENCE = "1.004194"


def joined(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def buttons(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [b for m in messages for b in (m.get("buttons") or [])]


def payload_code(payload: str) -> str:
    assert payload.startswith("/choose_option{"), payload
    return json.loads(payload[len("/choose_option") :])["procedure_code"]


def test_birth_certificate_answered_at_once_then_follow_ups_about_it(talk: Talk, sender_id: str) -> None:
    messages = talk(sender_id, "Con tôi mới sinh, giờ làm giấy khai sinh cần những giấy tờ gì vậy?")
    first = messages[0]["text"]
    assert BIRTH in first and "giấy chứng sinh" in first.lower() and "tờ khai" in first.lower()
    assert len(first) <= 1200 and "Nguồn:" in first
    assert "thủ tục nào" not in joined(messages)  # no question back
    assert {"/ask_cases", "/ask_full"} <= {b["payload"] for b in messages[0]["buttons"]}

    fee = joined(talk(sender_id, "lệ phí bao nhiêu"))
    assert BIRTH in fee and "lệ phí" in fee.lower() and "giấy chứng sinh" not in fee.lower()
    place = joined(talk(sender_id, "nộp ở đâu"))
    assert BIRTH in place and "Cách nộp:" in place
    time_limit = joined(talk(sender_id, "bao lâu thì có"))
    assert BIRTH in time_limit and "Thời hạn" in time_limit


def test_temporary_residence_answered_at_once_with_variant_buttons(talk: Talk, sender_id: str) -> None:
    messages = talk(sender_id, "dang ky tam tru can giay to gi")
    assert TEMPORARY_RESIDENCE in messages[0]["text"] and "CT01" in messages[0]["text"]
    assert len(messages[0]["text"]) <= 1200
    other = next(m for m in messages if m["text"] == "Bạn cần thủ tục khác?")
    variants = [payload_code(b["payload"]) for b in other["buttons"]]
    assert 1 <= len(variants) <= 3 and TEMPORARY_RESIDENCE not in variants

    chosen = joined(talk(sender_id, other["buttons"][0]["payload"]))
    assert variants[0] in chosen
    assert variants[0] in joined(talk(sender_id, "lệ phí bao nhiêu"))


def test_birth_offers_the_linked_procedures_of_its_record(talk: Talk, sender_id: str) -> None:
    messages = talk(sender_id, "làm giấy khai sinh cho bé cần giấy tờ gì")
    linked = {payload_code(b["payload"]) for b in buttons(messages) if b["payload"].startswith("/choose")}
    assert {"2.000986", "2.001023"} & linked


def test_topic_kept_then_switched(talk: Talk, sender_id: str) -> None:
    assert BIRTH in joined(talk(sender_id, "thủ tục làm giấy khai sinh"))
    assert BIRTH in joined(talk(sender_id, "mất bao lâu?"))

    switched = joined(talk(sender_id, "đổi bằng lái xe hết hạn cần giấy tờ gì"))
    assert LICENCE_RENEWAL in switched
    assert BIRTH not in switched

    follow_up = joined(talk(sender_id, "làm online được không?"))
    assert LICENCE_RENEWAL in follow_up
    assert BIRTH not in follow_up
    assert "Nộp trực tuyến" in follow_up

    # "Còn X thì sao?" asks the previous question about another procedure.
    same_question = joined(talk(sender_id, "còn làm hộ chiếu thì sao?"))
    assert "1.001456" in same_question
    assert "Nộp trực tuyến" in same_question


def test_unaccented_follow_up_keeps_the_topic(talk: Talk, sender_id: str) -> None:
    assert BIRTH in joined(talk(sender_id, "lam giay khai sinh cho con can gi"))
    assert BIRTH in joined(talk(sender_id, "le phi bao nhieu"))


def test_clarification_by_button_and_by_ordinal(talk: Talk, sender_id: str) -> None:
    messages = talk(sender_id, "cấp lại giấy tờ")
    offered = buttons(messages)
    assert 2 <= len(offered) <= 5, joined(messages)
    assert "thủ tục nào" in joined(messages)
    code = payload_code(offered[1]["payload"])
    answer = joined(talk(sender_id, offered[1]["payload"]))
    assert code in answer and "Nguồn:" in answer
    assert code in joined(talk(sender_id, "lệ phí bao nhiêu?"))  # the chosen procedure is the topic

    other = f"{sender_id}-ordinal"
    offered = buttons(talk(other, "cấp lại giấy tờ"))
    assert payload_code(offered[2]["payload"]) in joined(talk(other, "cái thứ ba"))


def test_typed_intent_syntax_is_text_and_only_offered_payloads_are_intents(
    talk: Talk, sender_id: str
) -> None:
    assert BIRTH not in joined(talk(sender_id, '/choose_option{"procedure_code":"1.001193"}'))
    assert "Lệ phí (áp dụng" not in joined(talk(sender_id, "/ask_fee"))  # not offered yet: text
    talk(sender_id, "dang ky tam tru can giay to gi")
    fee = joined(talk(sender_id, "/ask_fee"))  # offered under the answer: the button's intent
    assert TEMPORARY_RESIDENCE in fee and "Lệ phí (áp dụng" in fee


def test_follow_up_without_a_topic_asks_which_procedure(talk: Talk, sender_id: str) -> None:
    reply = joined(talk(sender_id, "lệ phí bao nhiêu?"))
    assert "thủ tục nào" in reply


@pytest.mark.parametrize("text", ["gia vang hom nay", "thời tiết Hà Nội ngày mai thế nào"])
def test_out_of_scope_is_polite_with_examples(talk: Talk, sender_id: str, text: str) -> None:
    messages = talk(sender_id, text)
    reply = joined(messages)
    assert "Xin lỗi" in reply
    assert "khai sinh" in reply  # the examples of what it can do
    assert not buttons(messages)


def test_request_for_a_human_invents_no_number(talk: Talk, sender_id: str) -> None:
    reply = joined(talk(sender_id, "cho tôi số hotline để gặp cán bộ ở Hà Giang"))
    assert not re.search(r"\d[\d .]{6,}\d", reply), reply  # no phone number
    assert "dichvucong.gov.vn" in reply
    # Hà Giang was merged into Tuyên Quang (Nghị quyết 202/2025/QH15): a variation of utter_handoff.
    assert "Tỉnh Hà Giang cũ nay thuộc Tỉnh Tuyên Quang" in reply


def test_extra_papers_get_the_legal_list_and_feedback_channel(talk: Talk, sender_id: str) -> None:
    talk(sender_id, "đăng ký tạm trú cần giấy tờ gì")
    reply = joined(talk(sender_id, "phường bắt tôi nộp thêm giấy tờ không có trong danh sách"))
    assert "1.004194" in reply
    assert "phản ánh" in reply.lower()
    assert "dichvucong.gov.vn" in reply


def test_conversation_survives_a_rasa_restart(stack: Any, talk: Talk, sender_id: str) -> None:
    assert BIRTH in joined(talk(sender_id, "Con tôi mới sinh, làm giấy khai sinh cần gì?"))
    assert stack.restart_rasa(timeout=400), "Rasa did not come back"
    after = joined(talk(sender_id, "lệ phí bao nhiêu?"))
    assert BIRTH in after
