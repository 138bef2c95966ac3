"""The custom actions, run with rasa-sdk's own Tracker and dispatcher over the real catalogue and search.

They send only the domain's responses (with the rendered card as a variable), and cover what NLU can get
wrong: a place name tagged as a procedure, an extra paper searched instead of the procedure.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.feedback import ActionExtraPapers
from bot.actions.procedures import ActionAnswerProcedure, ActionChooseOption
from bot.actions.slots import chosen_code

pytestmark = pytest.mark.slow

BIRTH = "1.001193"
TEMPORARY_RESIDENCE = "1.004194"


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
    return "\n".join(message.get("card") or message.get("text") or "" for message in messages)


def responses(messages: list[dict[str, Any]]) -> list[str]:
    return [message["response"] for message in messages if message.get("response")]


def records(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The signals for the app's recorder (json_message {"record": ...}), never shown to a citizen."""
    return [m["custom"]["record"] for m in messages if "record" in (m.get("custom") or {})]


def buttons(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [button for message in messages for button in message.get("buttons") or []]


def test_the_first_answer_is_the_short_card_with_variants_to_pick() -> None:
    text = "dang ky tam tru can giay to gi"
    messages, slots = run(
        ActionAnswerProcedure(), text, "ask_documents", [entity(text, "procedure", "dang ky tam tru")]
    )
    assert slots["current_procedure"] == TEMPORARY_RESIDENCE and slots["answer_outcome"] == "answered"
    assert responses(messages)[:2] == ["utter_first_answer", "utter_other_procedures"]
    # Last, the two feedback buttons (Zalo keeps the last message's buttons first), then the signal.
    assert responses(messages)[-1] == "utter_ask_feedback"
    [signal] = records(messages)
    assert signal["kind"] == "answer" and signal["outcome"] == "answered"
    assert signal["procedure"] == TEMPORARY_RESIDENCE and 0 < signal["confidence"] <= 1
    card = messages[0]["card"]
    assert len(card) <= 1000 and "Hồ sơ:" in card and "CT01" in card and "Lệ phí" in card and "Nguồn:" in card
    variants = messages[1]["buttons"]
    assert 1 <= len(variants) <= 3
    assert slots["offered_options"][: len(variants)] == [b["payload"].split('"')[3] for b in variants]
    assert not any(message.get("text") for message in messages)  # every text is a domain response


def test_a_follow_up_answers_only_the_aspect_of_the_current_procedure() -> None:
    messages, slots = run(
        ActionAnswerProcedure(),
        "lệ phí bao nhiêu",
        "ask_fee",
        slots={"current_procedure": BIRTH, "aspect": "fee"},
    )
    assert responses(messages) == ["utter_aspect_answer", "utter_ask_feedback"]
    assert "Lệ phí" in messages[0]["card"] and "Hồ sơ" not in messages[0]["card"]
    assert slots["current_procedure"] == BIRTH and "offered_options" not in slots


@pytest.mark.parametrize("tag", ["place", "procedure"])
def test_a_place_is_not_searched_as_a_procedure(tag: str) -> None:
    text = "ở quận Hoàn Kiếm nộp ở đâu"
    messages, slots = run(
        ActionAnswerProcedure(),
        text,
        "ask_place",
        [entity(text, tag, "Hoàn Kiếm")],
        slots={"aspect": "place"},
    )
    assert responses(messages) == ["utter_ask_which_procedure"]
    assert slots == {"answer_outcome": "no_topic"}


def test_a_place_with_a_current_topic_answers_where_for_that_topic() -> None:
    text = "tôi ở Hà Nội thì nộp ở đâu"
    messages, slots = run(
        ActionAnswerProcedure(), text, "ask_place", [entity(text, "place", "Hà Nội")],
        slots={"current_procedure": BIRTH, "aspect": "place"},
    )  # fmt: skip
    assert slots.get("current_procedure") == BIRTH
    assert "Cách nộp:" in joined(messages)


def test_really_different_candidates_are_offered_as_a_choice() -> None:
    text = "cấp lại giấy tờ"
    messages, slots = run(ActionAnswerProcedure(), text, "ask_procedure", [entity(text, "procedure", text)])
    assert responses(messages) == ["utter_which_procedure"]
    assert 2 <= len(buttons(messages)) <= 5 and slots["answer_outcome"] == "asked"
    assert len(slots["offered_options"]) == len(buttons(messages))


def test_gibberish_the_search_does_not_know_is_not_understood() -> None:
    messages, slots = run(ActionAnswerProcedure(), "asdkjh qwe zzz", "nlu_fallback")
    assert responses(messages) == ["utter_not_understood"] and slots == {"answer_outcome": "not_understood"}


def test_an_ordinal_picks_the_offered_option_and_a_code_never_offered_is_refused() -> None:
    offered = {"offered_options": ["1.004222", "1.003197"]}
    messages, slots = run(
        ActionChooseOption(), "cái thứ hai", "choose_option", slots={**offered, "ordinal": "2"}
    )
    assert responses(messages)[0] == "utter_first_answer"
    assert slots["current_procedure"] == "1.003197"
    assert slots["ordinal"] is None and slots["chosen_procedure"] is None
    # A button's code wins over an ordinal; a code never offered is refused.
    both = {**offered, "chosen_procedure": "1.004222", "ordinal": "2"}
    _, slots = run(ActionChooseOption(), "", "choose_option", slots=both)
    assert slots["current_procedure"] == "1.004222"
    messages, slots = run(
        ActionChooseOption(), "", "choose_option", slots={**offered, "chosen_procedure": BIRTH}
    )
    assert responses(messages) == ["utter_choice_unknown"]
    assert slots == {"answer_outcome": "choice_unknown", "chosen_procedure": None, "ordinal": None}


def test_a_code_offered_earlier_in_the_conversation_is_still_a_choice() -> None:
    tracker = Tracker(
        "t", {"offered_options": ["1.004222"], "chosen_procedure": "1.003197"}, {"text": ""},
        [{"event": "slot", "name": "offered_options", "value": ["1.003197", "1.001193"]}],
        False, None, {}, "",
    )  # fmt: skip
    assert chosen_code(tracker) == "1.003197"


def test_a_chosen_option_is_answered_and_becomes_the_topic() -> None:
    messages, slots = run(
        ActionChooseOption(), "", "choose_option",
        slots={"offered_options": ["1.003197"], "chosen_procedure": "1.003197"},
    )  # fmt: skip
    assert responses(messages)[0] == "utter_first_answer"
    assert slots["current_procedure"] == "1.003197" and slots["chosen_procedure"] is None
    ninth = {"offered_options": ["x"], "ordinal": "9"}
    messages, slots = run(ActionChooseOption(), "cái thứ chín", "choose_option", slots=ninth)
    assert responses(messages) == ["utter_choice_unknown"]


def test_extra_papers_shows_the_list_of_the_procedure_named_not_of_the_paper() -> None:
    text = "làm khai sinh cho con mà phường đòi thêm giấy xác nhận cư trú"
    messages, slots = run(
        ActionExtraPapers(), text, "report_extra_papers", [entity(text, "procedure", "khai sinh cho con")]
    )
    assert slots.get("current_procedure") == BIRTH
    assert "giấy chứng sinh" in joined(messages).lower()
    assert responses(messages) == [
        "utter_extra_papers_list", "utter_abolished_paper", "utter_extra_papers_rule",
    ]  # fmt: skip


def test_extra_papers_without_a_procedure_asks_which_and_explains_the_abolished_book() -> None:
    text = "cán bộ bắt nộp sổ hộ khẩu giấy"
    messages, slots = run(
        ActionExtraPapers(), text, "report_extra_papers", [entity(text, "abolished_paper", "sổ hộ khẩu giấy")]
    )
    assert "current_procedure" not in slots and slots["report_details"] == "none"
    assert responses(messages) == [
        "utter_abolished_paper", "utter_extra_papers_rule", "utter_extra_papers_which_procedure",
    ]  # fmt: skip

