"""The handoff actions through rasa-sdk's Tracker: support hours, the honest answer in and outside them,
the signal that queues the conversation, and the offer of a volunteer after two failed turns."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import handoff
from bot.actions.handoff import ActionOfferVolunteer, ActionRequestHuman, SupportHours

# 09:00 and 20:00 in Hà Nội on Tuesday 1 December 2026.
TUESDAY_MORNING = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
TUESDAY_EVENING = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
SATURDAY_NOON = datetime(2026, 12, 5, 5, 0, tzinfo=UTC)


@pytest.fixture
def office_hours(monkeypatch: pytest.MonkeyPatch) -> SupportHours:
    monkeypatch.setenv("TTHC_SUPPORT_DAYS", "1-5")
    monkeypatch.setenv("TTHC_SUPPORT_HOURS", "07:30-17:00")
    monkeypatch.setenv("TTHC_SUPPORT_TIMEZONE", "Asia/Ho_Chi_Minh")
    return SupportHours.from_env()


def test_support_hours_are_read_from_the_environment(office_hours: SupportHours) -> None:
    assert office_hours.describe() == "07:30–17:00, Thứ Hai đến Thứ Sáu"
    assert office_hours.is_open(TUESDAY_MORNING)
    assert not office_hours.is_open(TUESDAY_EVENING) and not office_hours.is_open(SATURDAY_NOON)
    assert handoff.describe_opening(office_hours.next_opening(TUESDAY_EVENING)) == "07:30 Thứ Tư 02/12"
    assert handoff.describe_opening(office_hours.next_opening(SATURDAY_NOON)) == "07:30 Thứ Hai 07/12"
    around_the_clock = SupportHours(frozenset(range(1, 8)), time(0, 0), time.max, office_hours.zone)
    assert around_the_clock.is_open(SATURDAY_NOON)
    assert around_the_clock.describe() == "00:00–24:00, Thứ Hai đến Chủ nhật"
    with pytest.raises(ValueError):
        handoff._parse_days("0-8")


def run(action: Action, events: list[dict[str, Any]] | None = None, slots: dict[str, Any] | None = None,
        entities: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    message = {
        "text": "cho tôi gặp người thật",
        "intent": {"name": "request_human"},
        "entities": entities or [],
    }
    tracker = Tracker("unit-test", dict(slots or {}), message, events or [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    with ThreadPoolExecutor(max_workers=1) as pool:  # a loop of its own, as in test_actions
        pool.submit(asyncio.run, action.run(dispatcher, tracker, {})).result()
    return dispatcher.messages


def test_in_hours_the_citizen_hears_a_volunteer_will_answer_soon(office_hours, monkeypatch) -> None:
    monkeypatch.setattr(handoff, "_now", lambda: TUESDAY_MORNING)
    said, signal = run(ActionRequestHuman(), slots={"current_procedure": "1.004194"})
    assert said["response"] == "utter_handoff_in_hours"
    assert said["support_hours"] == "07:30–17:00, Thứ Hai đến Thứ Sáu"
    assert "Trung tâm Phục vụ hành chính công" in said["service_centre"]
    assert signal["custom"] == {"handoff": {"topic": "1.004194", "in_hours": True}}


def test_outside_hours_the_request_stays_queued_and_the_service_centre_is_named(
    office_hours, monkeypatch
) -> None:
    monkeypatch.setattr(handoff, "_now", lambda: TUESDAY_EVENING)
    place = [{"entity": "place", "value": "Đà Nẵng", "start": 0, "end": 7}]
    said, signal = run(ActionRequestHuman(), entities=place)
    assert said["response"] == "utter_handoff_outside_hours"
    assert said["next_opening"] == "07:30 Thứ Tư 02/12"
    assert "Trung tâm Phục vụ hành chính công" in said["service_centre"]
    assert "Đà Nẵng" in said["service_centre"]
    assert signal["custom"] == {"handoff": {"topic": None, "in_hours": False}}
    general, _ = run(ActionRequestHuman())
    assert "tỉnh nơi bạn nộp hồ sơ" in general["service_centre"]


def turn(*actions: str, outcome: str | None = None, offered: bool = False) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"event": "user", "text": "…"},
        {"event": "action", "name": "action_listen"},
    ]
    for name in actions:
        events.append({"event": "action", "name": name})
        events.append({"event": "bot", "text": "…", "metadata": {}})
    if outcome:
        events.append({"event": "slot", "name": "answer_outcome", "value": outcome})
    if offered:
        events.append({"event": "bot", "text": "…", "metadata": {"utter_action": "utter_offer_volunteer"}})
    return events


def offers(*turns: list[dict[str, Any]]) -> bool:
    messages = run(ActionOfferVolunteer(), events=[event for one in turns for event in one])
    return [m.get("response") for m in messages] == ["utter_offer_volunteer"]


def test_a_volunteer_is_offered_after_two_failed_turns_in_a_row_once() -> None:
    failed = turn("action_answer_procedure", outcome="not_found")
    assert not offers(failed)
    assert offers(failed, failed)
    assert offers(turn("utter_out_of_scope"), failed)
    assert offers(failed, turn("action_answer_procedure", outcome="not_understood"))
    assert not offers(failed, turn("action_answer_procedure", outcome="answered"))  # it found an answer
    assert not offers(failed, turn("action_answer_procedure", outcome="asked"), failed)
    assert not offers(failed, turn("action_answer_procedure", outcome="not_found", offered=True), failed)
    assert offers(failed, failed, failed, failed)
