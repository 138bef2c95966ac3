"""The custom actions, run with rasa-sdk's own Tracker and dispatcher over the real catalogue and search.

These cover what NLU can get wrong: a question taken for yes/no or for a choice among buttons, a place
name tagged as a procedure, an extra paper searched instead of the procedure.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.procedures import (
    ActionAnswerProcedure,
    ActionChooseOption,
    ActionExtraPapers,
    ActionShortReply,
)

pytestmark = pytest.mark.slow

DISABILITY = "1.001699"
BIRTH = "1.001193"


@pytest.fixture(scope="module", autouse=True)
def searcher():
    from knowledge.search import get_searcher

    return get_searcher()


def entity(text: str, name: str, mention: str, value: str | None = None) -> dict[str, Any]:
    start = text.index(mention)
    return {"entity": name, "start": start, "end": start + len(mention), "value": value or mention}


def run(
    action: Action,
    text: str,
    intent: str,
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The messages the action sends and the slots it sets."""
    message = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []}
    tracker = Tracker("unit-test", dict(slots or {}), message, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    # In a thread of its own: other tests (Playwright) may leave an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        events = pool.submit(asyncio.run, action.run(dispatcher, tracker, {})).result()
    set_slots = {event["name"]: event["value"] for event in events if event.get("event") == "slot"}
    return dispatcher.messages, set_slots


def joined(messages: list[dict[str, Any]]) -> str:
    return "\n".join(message.get("text") or "" for message in messages)


def test_a_procedure_question_taken_for_no_is_answered() -> None:
    messages, slots = run(ActionShortReply(), "xác nhận khuyết tật cho con", "deny")
    assert slots.get("current_procedure") == DISABILITY
    assert "Hồ sơ cần chuẩn bị" in joined(messages)


@pytest.mark.parametrize(
    ("text", "intent", "response"),
    [
        ("không phải", "deny", "utter_deny"),
        ("đúng rồi", "affirm", "utter_affirm"),
        ("ok luôn", "affirm", "utter_affirm"),
    ],
)
def test_a_real_yes_or_no_gets_the_short_reply(text: str, intent: str, response: str) -> None:
    messages, slots = run(ActionShortReply(), text, intent, slots={"current_procedure": BIRTH})
    assert [message.get("response") for message in messages] == [response]
    assert slots == {}


def test_a_question_taken_for_a_button_choice_is_answered() -> None:
    text = "làm căn cước cho con 14 tuổi"
    messages, slots = run(
        ActionChooseOption(), text, "choose_option", [entity(text, "procedure", "căn cước")]
    )
    assert slots.get("current_procedure", "").startswith("1.0140")  # cấp thẻ căn cước, by age
    assert "căn cước" in joined(messages).lower()


def test_a_typed_choice_still_picks_the_offered_option() -> None:
    offered = ["1.004222", "1.003197"]
    _, slots = run(ActionChooseOption(), "cái thứ hai", "choose_option", slots={"offered_options": offered})
    assert slots.get("current_procedure") == "1.003197"


@pytest.mark.parametrize("tag", ["place", "procedure"])
def test_a_place_is_not_searched_as_a_procedure(tag: str) -> None:
    text = "ở quận Hoàn Kiếm nộp ở đâu"
    messages, slots = run(ActionAnswerProcedure(), text, "ask_place", [entity(text, tag, "Hoàn Kiếm")])
    assert "cho thủ tục nào" in joined(messages)
    assert not any(message.get("buttons") for message in messages)
    assert slots == {"pending_aspect": "place"}


def test_a_place_with_a_current_topic_answers_where_for_that_topic() -> None:
    text = "tôi ở Hà Nội thì nộp ở đâu"
    messages, slots = run(
        ActionAnswerProcedure(),
        text,
        "ask_place",
        [entity(text, "place", "Hà Nội")],
        slots={"current_procedure": BIRTH},
    )
    assert slots.get("current_procedure") == BIRTH
    assert "Cách nộp:" in joined(messages)


def test_extra_papers_shows_the_list_of_the_procedure_named_not_of_the_paper() -> None:
    text = "làm khai sinh cho con mà phường đòi thêm giấy xác nhận cư trú"
    messages, slots = run(
        ActionExtraPapers(), text, "report_extra_papers", [entity(text, "procedure", "khai sinh cho con")]
    )
    assert slots.get("current_procedure") == BIRTH
    assert "giấy chứng sinh" in joined(messages).lower()
    assert "pakn" in joined(messages)


def test_extra_papers_without_a_procedure_asks_which_and_explains_the_abolished_book() -> None:
    messages, slots = run(ActionExtraPapers(), "cán bộ bắt nộp sổ hộ khẩu giấy", "report_extra_papers")
    text = joined(messages)
    assert slots == {}
    assert "104/2022/NĐ-CP" in text
    assert "thủ tục nào" in text


@pytest.mark.parametrize("text", ["asdkjh qwe", "hjhj", "....."])
def test_gibberish_taken_for_yes_is_not_acknowledged(text: str) -> None:
    messages, slots = run(ActionShortReply(), text, "affirm", slots={"current_procedure": BIRTH})
    assert "chưa hiểu" in joined(messages)
    assert slots == {}


def test_linked_procedures_shown_as_buttons_can_be_chosen_by_typing() -> None:
    messages, slots = run(ActionAnswerProcedure(), "làm giấy khai sinh cho con", "ask_documents")
    buttons = [button for message in messages for button in message.get("buttons") or []]
    assert slots["current_procedure"] == BIRTH
    assert len(buttons) == len(slots["offered_options"]) >= 2
    _, chosen = run(
        ActionChooseOption(), "cái đầu tiên", "choose_option",
        slots={"current_procedure": BIRTH, "offered_options": slots["offered_options"]},
    )  # fmt: skip
    assert chosen["current_procedure"] == slots["offered_options"][0]


def test_an_online_follow_up_naming_vneid_keeps_the_topic() -> None:
    messages, slots = run(
        ActionAnswerProcedure(), "có làm trên vneid được không", "ask_online",
        slots={"current_procedure": BIRTH},
    )  # fmt: skip
    assert slots.get("current_procedure") == BIRTH
    assert "Nộp trực tuyến" in joined(messages)


def test_a_first_answer_gives_the_checklist_with_time_and_fee_per_channel() -> None:
    messages, slots = run(ActionAnswerProcedure(), "đăng ký tạm trú cần giấy tờ gì", "ask_documents")
    card = messages[0]["text"]
    assert slots["current_procedure"] == "1.004194"
    assert "Hồ sơ cần chuẩn bị" in card and "Cách nộp – thời hạn – lệ phí" in card
    assert "• Trực tiếp" in card and "• Trực tuyến" in card and " đ" in card
    again, _ = run(
        ActionAnswerProcedure(), "cần giấy tờ gì", "ask_documents", slots={"current_procedure": "1.004194"}
    )
    assert "Cách nộp – thời hạn – lệ phí" not in again[0]["text"]  # a follow-up answers what was asked
