"""The feedback, satisfaction and extra-papers actions, run with rasa-sdk's own Tracker and dispatcher.

They send the domain's responses and the `record` signals of the issue 14 contract; the place of a
report is resolved offline with vietnamadminunits (old district names too).
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.feedback import (
    REFERENCE_ALPHABET,
    ActionAskSatisfaction,
    ActionExtraPapers,
    ActionRecordRating,
    ActionRecordReason,
    ActionRecordSatisfaction,
    new_reference,
)
from bot.places import resolve_address

TEMPORARY_RESIDENCE = "1.004194"


def run(
    action: Action,
    text: str = "",
    intent: str = "",
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    message = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": entities or []}
    tracker = Tracker("unit-test", dict(slots or {}), message, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    with ThreadPoolExecutor(max_workers=1) as pool:
        events = pool.submit(asyncio.run, action.run(dispatcher, tracker, {})).result()
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def records(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["custom"]["record"] for m in messages if "record" in (m.get("custom") or {})]


def responses(messages: list[dict[str, Any]]) -> list[str]:
    return [m["response"] for m in messages if m.get("response")]


def entity(text: str, name: str, mention: str, value: str | None = None) -> dict[str, Any]:
    start = text.index(mention)
    return {"entity": name, "start": start, "end": start + len(mention), "value": value or mention}


def test_a_rating_records_the_current_procedure_and_clears_an_old_comment() -> None:
    messages, slots = run(
        ActionRecordRating(),
        "/feedback_up",
        "feedback_up",
        {"feedback_rating": "up", "current_procedure": "1.001193", "feedback_comment": "cũ"},
    )
    assert records(messages) == [
        {"kind": "feedback", "rating": "up", "procedure": "1.001193", "reason": None, "comment": None}
    ]
    assert [m for m in messages if m.get("text")] == [] and slots == {"feedback_comment": None}


def test_a_reason_is_recorded_for_the_down_rating_and_a_comment_only_for_other() -> None:
    slots = {"feedback_rating": "down", "current_procedure": "3.000347", "feedback_reason": "outdated"}
    messages, _ = run(ActionRecordReason(), "", "feedback_reason", {**slots, "feedback_comment": "x"})
    assert records(messages) == [
        {"kind": "feedback", "rating": "down", "procedure": "3.000347", "reason": "outdated", "comment": None}
    ]
    typed = "  lệ phí   ghi sai\n so với phường  "
    messages, set_slots = run(
        ActionRecordReason(),
        typed,
        "ask_fee",
        {**slots, "feedback_reason": "other", "feedback_comment": typed},
    )
    [signal] = records(messages)
    assert signal["reason"] == "other" and signal["comment"] == "lệ phí ghi sai so với phường"
    assert set_slots == {"feedback_comment": None}  # a later "Khác" asks for new words
    long = "a" * 5000
    messages, _ = run(
        ActionRecordReason(), long, "x", {**slots, "feedback_reason": "other", "feedback_comment": long}
    )
    assert len(records(messages)[0]["comment"]) == 500


@pytest.mark.parametrize(
    ("intent", "context"), [("goodbye", "end"), ("thank", "end"), ("EXTERNAL_handback", "handoff")]
)
def test_the_satisfaction_question_remembers_where_it_was_asked(intent: str, context: str) -> None:
    messages, slots = run(ActionAskSatisfaction(), "", intent)
    assert responses(messages) == ["utter_ask_satisfaction"] and slots == {"satisfaction_context": context}
    assert records(messages) == []


def test_a_satisfaction_level_is_recorded_as_a_number_with_its_context() -> None:
    messages, _ = run(
        ActionRecordSatisfaction(),
        "",
        "rate_satisfaction",
        {"satisfaction_level": "2", "satisfaction_context": "handoff"},
    )
    assert records(messages) == [{"kind": "satisfaction", "level": 2, "context": "handoff"}]
    assert responses(messages) == ["utter_satisfaction_thanks"]
    messages, _ = run(ActionRecordSatisfaction(), "", "rate_satisfaction", {"satisfaction_level": "5"})
    assert records(messages) == [{"kind": "satisfaction", "level": 5, "context": "end"}]
    messages, _ = run(ActionRecordSatisfaction(), "", "rate_satisfaction", {"satisfaction_level": "9"})
    assert records(messages) == []


def test_references_follow_the_contract_and_differ() -> None:
    moment = datetime(2026, 7, 1, 20, 0, tzinfo=UTC)  # already 2 July in Vietnam
    reference = new_reference(moment)
    assert re.fullmatch(rf"PA-260702-[{REFERENCE_ALPHABET}]{{5}}", reference), reference
    assert not set(reference[-5:]) & set("01OIL")
    assert len({new_reference() for _ in range(200)}) == 200


@pytest.mark.parametrize(
    ("written", "commune", "province"),
    [
        ("Hoàn Kiếm", "Phường Hoàn Kiếm", "Thành phố Hà Nội"),
        ("quận Hoàn Kiếm", "Phường Hoàn Kiếm", "Thành phố Hà Nội"),
        ("Hoan Kiem", "Phường Hoàn Kiếm", "Thành phố Hà Nội"),
        # An old ward and district, abbreviated: the package's online geocoder is never needed.
        ("P. Hàng Trống, Q. Hoàn Kiếm", "Phường Hoàn Kiếm", "Thành phố Hà Nội"),
        ("huyện Củ Chi", "Xã Củ Chi", "Thành phố Hồ Chí Minh"),
        ("quận 1", None, "Thành phố Hồ Chí Minh"),
        ("Hà Giang", None, "Tỉnh Tuyên Quang"),
    ],
)
def test_places_resolve_to_todays_units(written: str, commune: str | None, province: str) -> None:
    place = resolve_address(written)
    assert place is not None and (place.commune, place.province) == (commune, province)


@pytest.mark.parametrize("written", ["", "   ", "asdf qwerty", "x" * 1000, "\x00\x01"])
def test_unknown_places_are_none(written: str) -> None:
    assert resolve_address(written) is None


@pytest.mark.slow
def test_a_report_shows_the_list_gives_a_reference_and_records_the_place_of_today() -> None:
    text = "cán bộ phường bắt nộp thêm bản sao sổ hộ khẩu khi đăng ký tạm trú ở Hoàn Kiếm"
    entities = [
        entity(text, "abolished_paper", "sổ hộ khẩu", "household_book"),
        entity(text, "procedure", "đăng ký tạm trú"),
        entity(text, "place", "Hoàn Kiếm"),
    ]
    messages, slots = run(
        ActionExtraPapers(), text, "report_extra_papers", {"abolished_paper": "household_book"}, entities
    )
    assert responses(messages) == [
        "utter_extra_papers_list",
        "utter_abolished_paper",
        "utter_extra_papers_rule",
    ]
    assert "CT01" in messages[0]["card"] and "Nguồn:" in messages[0]["card"]
    [report] = records(messages)
    assert report == {
        "kind": "report",
        "reference": slots["report_reference"],
        "procedure": TEMPORARY_RESIDENCE,
        "procedure_name": slots["report_procedure_name"],
        "province": "Thành phố Hà Nội",
        "commune": "Phường Hoàn Kiếm",
        "place_text": "Hoàn Kiếm",
        "asked": "sổ hộ khẩu",
    }
    assert slots["report_place"] == "Phường Hoàn Kiếm, Thành phố Hà Nội"
    assert (
        slots["report_details"] == "procedure_and_place" and slots["current_procedure"] == TEMPORARY_RESIDENCE
    )
    assert slots["abolished_paper"] is None  # said for this report only


@pytest.mark.slow
def test_a_report_without_procedure_nor_place_still_gets_a_reference() -> None:
    text = "cán bộ đòi giấy tờ ngoài quy định thì làm sao"
    messages, slots = run(ActionExtraPapers(), text, "report_extra_papers")
    [report] = records(messages)
    assert report["procedure"] is None and report["province"] is None and report["asked"] is None
    assert report["reference"] == slots["report_reference"] and slots["report_details"] == "none"
    assert responses(messages)[-1] == "utter_extra_papers_which_procedure"
