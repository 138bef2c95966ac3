"""Handing a conversation to a Youth Union volunteer.

``action_request_human`` tells the citizen honestly when a volunteer will answer (support hours are
configurable) and signals the channel, through a custom payload, to put the conversation in the
volunteers' queue. ``action_offer_volunteer`` runs after out-of-scope and not-understood answers and
offers a volunteer once the bot has failed two turns in a row (questions the search found nothing
for, or out-of-scope ones). The console then pauses and resumes the conversation through Rasa's HTTP
API (connectors/console).

Support hours: ``TTHC_SUPPORT_DAYS`` (ISO weekdays, e.g. ``1-5`` for Monday to Friday, or ``1,3,5``),
``TTHC_SUPPORT_HOURS`` (``07:30-17:00``) and ``TTHC_SUPPORT_TIMEZONE`` (``Asia/Ho_Chi_Minh``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from bot.places import resolve_place

HANDOFF_PAYLOAD_KEY = "handoff"
WEEKDAY_NAMES = ("", "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
FAILED_TURNS_BEFORE_OFFER = 2


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        start, end = int(first), int(last or first)
        if not 1 <= start <= end <= 7:
            raise ValueError(f"support days must be ISO weekdays 1-7, got {text!r}")
        days.update(range(start, end + 1))
    return frozenset(days)


def _parse_clock(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    if int(hours) == 24 and int(minutes or 0) == 0:
        return time.max
    return time(int(hours), int(minutes or 0))


def _timezone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone(timedelta(hours=7), "ICT")


@dataclass(frozen=True)
class SupportHours:
    days: frozenset[int]
    opens: time
    closes: time
    zone: tzinfo

    @classmethod
    def from_env(cls) -> SupportHours:
        opens, _, closes = (os.environ.get("TTHC_SUPPORT_HOURS") or "07:30-17:00").partition("-")
        return cls(
            days=_parse_days(os.environ.get("TTHC_SUPPORT_DAYS") or "1-5"),
            opens=_parse_clock(opens),
            closes=_parse_clock(closes),
            zone=_timezone(os.environ.get("TTHC_SUPPORT_TIMEZONE") or "Asia/Ho_Chi_Minh"),
        )

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return local.isoweekday() in self.days and self.opens <= local.time() < self.closes

    def next_opening(self, moment: datetime) -> datetime | None:
        local = moment.astimezone(self.zone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            start = datetime.combine(day, self.opens, tzinfo=self.zone)
            if day.isoweekday() in self.days and start > local:
                return start
        return None

    def describe(self) -> str:
        ordered = sorted(self.days)
        if not ordered:
            return "chưa có giờ hỗ trợ"
        if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 1:
            days = f"{WEEKDAY_NAMES[ordered[0]]} đến {WEEKDAY_NAMES[ordered[-1]]}"
        else:
            days = ", ".join(WEEKDAY_NAMES[day] for day in ordered)
        closes = "24:00" if self.closes == time.max else self.closes.strftime("%H:%M")
        return f"{self.opens.strftime('%H:%M')}–{closes}, {days}"


def describe_opening(opening: datetime | None) -> str:
    if opening is None:
        return "khi có lịch hỗ trợ mới"
    return f"{opening.strftime('%H:%M')} {WEEKDAY_NAMES[opening.isoweekday()]} {opening.strftime('%d/%m')}"


def service_centre(tracker: Tracker) -> str:
    """The service centre for the place the citizen named, or the general way in."""
    mentions = [
        str(entity.get("value"))
        for entity in tracker.latest_message.get("entities") or []
        if entity.get("entity") == "place" and entity.get("value")
    ]
    slot = tracker.get_slot("place")
    places = [resolve_place(mention) for mention in [*mentions, *([slot] if slot else [])]]
    place = next((p for p in places if p is not None), None)
    if place is None:
        return "Trung tâm Phục vụ hành chính công của xã/phường hoặc tỉnh nơi bạn nộp hồ sơ"
    if place.commune:
        where = f"Bộ phận một cửa / Trung tâm Phục vụ hành chính công {place.commune} ({place.province})"
    else:
        where = f"Trung tâm Phục vụ hành chính công của {place.province}"
    return f"{where}. {place.note}" if place.note else where


def _now() -> datetime:
    return datetime.now(UTC)


class ActionRequestHuman(Action):
    """Queue the conversation for a volunteer and say honestly when someone will answer."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        hours = SupportHours.from_env()
        now = _now()
        in_hours = hours.is_open(now)
        if in_hours:
            dispatcher.utter_message(
                response="utter_handoff_in_hours",
                support_hours=hours.describe(),
                service_centre=service_centre(tracker),
            )
        else:
            dispatcher.utter_message(
                response="utter_handoff_outside_hours",
                support_hours=hours.describe(),
                next_opening=describe_opening(hours.next_opening(now)),
                service_centre=service_centre(tracker),
            )
        dispatcher.utter_message(
            json_message={
                HANDOFF_PAYLOAD_KEY: {
                    "topic": tracker.get_slot("current_procedure"),
                    "in_hours": in_hours,
                }
            }
        )
        return []


def _turns(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The events after each user message, one list per turn, oldest first."""
    turns: list[list[dict[str, Any]]] = []
    for event in events:
        if event.get("event") == "user":
            turns.append([])
        elif turns:
            turns[-1].append(event)
    return turns


COULD_NOT_HELP = {"not_found", "not_understood"}


def _failed(turn: list[dict[str, Any]]) -> bool:
    """The search found nothing to answer with, or the question was out of scope."""
    return any(
        (e.get("event") == "action" and e.get("name") == "utter_out_of_scope")
        or (e.get("event") == "slot" and e.get("name") == "answer_outcome"
            and e.get("value") in COULD_NOT_HELP)
        for e in turn
    )


def _offered(turn: list[dict[str, Any]]) -> bool:
    return any(
        e.get("event") == "bot" and (e.get("metadata") or {}).get("utter_action") == "utter_offer_volunteer"
        for e in turn
    )


class ActionOfferVolunteer(Action):
    """After two turns in a row the bot could not help with, offer a volunteer (once per streak)."""

    def name(self) -> str:
        return "action_offer_volunteer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turns = _turns(tracker.events)
        recent = turns[-FAILED_TURNS_BEFORE_OFFER:]
        stuck = len(recent) == FAILED_TURNS_BEFORE_OFFER and all(_failed(turn) for turn in recent)
        if stuck and not _offered(recent[0]):
            dispatcher.utter_message(response="utter_offer_volunteer")
        return []
