"""The handoff actions through rasa-sdk's Tracker: support hours, the slots the honest answer in and
outside them is worded from (tests/rasa/test_handoff_wording.py renders it with Rasa), the signal that
queues the conversation, and the offer of a volunteer after two failed turns."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import support_hours
from bot.actions import handoff
from bot.actions.handoff import ActionOfferVolunteer, ActionRequestHuman
from bot.support_hours import SupportHours

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
    assert office_hours.days == frozenset(range(1, 6))
    assert office_hours.is_open(TUESDAY_MORNING)
    assert not office_hours.is_open(TUESDAY_EVENING) and not office_hours.is_open(SATURDAY_NOON)
    assert office_hours.next_opening(TUESDAY_EVENING) == datetime(2026, 12, 2, 0, 30, tzinfo=UTC)
    assert office_hours.next_opening(SATURDAY_NOON) == datetime(2026, 12, 7, 0, 30, tzinfo=UTC)
    around_the_clock = SupportHours(frozenset(range(1, 8)), time(0, 0), time.max, office_hours.zone)
    assert around_the_clock.is_open(SATURDAY_NOON)
    assert handoff.schedule_slots(around_the_clock, SATURDAY_NOON)["support_closes"] == "24:00"
    for days in ("0-8", "", " , "):
        with pytest.raises(ValueError):
            support_hours._parse_days(days)


def test_support_days_are_worded_from_the_data_file() -> None:
    wording = support_hours.wording()
    assert wording.days(frozenset(range(1, 6))) == "Thứ Hai đến Thứ Sáu"
    assert wording.days(frozenset(range(1, 8))) == "Thứ Hai đến Chủ nhật"
    assert wording.days(frozenset({1, 3, 5})) == "Thứ Hai, Thứ Tư, Thứ Sáu"
    assert wording.days(frozenset({6})) == "Thứ Bảy"


def test_support_hours_must_open_before_they_close(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTHC_SUPPORT_HOURS", "17:00-07:30")
    with pytest.raises(ValueError):
        SupportHours.from_env()


Dicts = list[dict[str, Any]]


def run(action: Action, events: Dicts | None = None, slots: dict[str, Any] | None = None,
        entities: Dicts | None = None) -> tuple[Dicts, Dicts]:  # fmt: skip
    """The events the action returns and the messages it sends."""
    message = {
        "text": "cho tôi gặp người thật",
        "intent": {"name": "request_human"},
        "entities": entities or [],
    }
    tracker = Tracker("unit-test", dict(slots or {}), message, events or [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    with ThreadPoolExecutor(max_workers=1) as pool:  # a loop of its own, as in test_actions
        events = pool.submit(asyncio.run, action.run(dispatcher, tracker, {})).result()
    return events, dispatcher.messages


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in events if event["event"] == "slot"}


def test_in_hours_the_slots_say_a_volunteer_will_answer_soon(office_hours, monkeypatch) -> None:
    monkeypatch.setattr(handoff, "_now", lambda: TUESDAY_MORNING)
    events, (signal,) = run(ActionRequestHuman(), slots={"current_procedure": "1.004194"})
    assert slots_set(events) == {
        "support_status": "in_hours",
        "support_opens": "07:30",
        "support_closes": "17:00",
        "support_days": "Thứ Hai đến Thứ Sáu",
        "next_opening_time": None,
        "next_opening_day": None,
        "next_opening_date": None,
        "centre_place": "general",
        "centre_province": None,
        "centre_commune": None,
        "centre_former_province": None,
    }
    assert signal["custom"] == {"handoff": {"topic": "1.004194", "in_hours": True}}


def test_outside_hours_the_slots_hold_the_next_opening_and_the_place_named(
    office_hours, monkeypatch
) -> None:
    monkeypatch.setattr(handoff, "_now", lambda: TUESDAY_EVENING)
    place = [{"entity": "place", "value": "Đà Nẵng", "start": 0, "end": 7}]
    events, (signal,) = run(ActionRequestHuman(), entities=place)
    said = slots_set(events)
    assert said["support_status"] == "outside_hours"
    assert (said["next_opening_time"], said["next_opening_day"], said["next_opening_date"]) == (
        "07:30",
        "Thứ Tư",
        "02/12",
    )
    assert (said["centre_place"], said["centre_province"]) == ("province", "Thành phố Đà Nẵng")
    assert signal["custom"] == {"handoff": {"topic": None, "in_hours": False}}


def test_the_service_centre_slots_follow_the_place_named(office_hours, monkeypatch) -> None:
    monkeypatch.setattr(handoff, "_now", lambda: SATURDAY_NOON)

    def centre(**tracker: Any) -> tuple[Any, ...]:
        said = slots_set(run(ActionRequestHuman(), **tracker)[0])
        return tuple(said[f"centre_{name}"] for name in ("place", "province", "commune", "former_province"))

    old = [{"entity": "place", "value": "Quảng Bình"}]
    assert centre(entities=old) == ("former_province", "Tỉnh Quảng Trị", None, "Quảng Bình")
    commune = [{"entity": "place", "value": "phường Hoàn Kiếm"}]
    assert centre(entities=commune) == ("commune", "Thành phố Hà Nội", "Phường Hoàn Kiếm", None)
    # Named earlier in the conversation (the place slot), or not at all.
    assert centre(slots={"place": "Cần Thơ"}) == ("province", "Thành phố Cần Thơ", None, None)
    assert centre() == ("general", None, None, None)


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
    _, messages = run(ActionOfferVolunteer(), events=[event for one in turns for event in one])
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
