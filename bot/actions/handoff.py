"""Handing a conversation to a Youth Union volunteer.

``action_request_human`` fills the handoff slots with data: whether volunteers are in their support
hours now, the hours, the next opening, and the place the citizen named for the service centre. It
signals the channel, through a custom payload, to put the conversation in the volunteers' queue; the
rule that runs it then utters ``utter_handoff``, whose variations follow those slots
(bot/domain/handoff.yml). ``action_offer_volunteer`` runs after out-of-scope and
not-understood answers and offers a volunteer once the bot has failed two turns in a row (questions
the search found nothing for, or out-of-scope ones). The console then pauses and resumes the
conversation through Rasa's HTTP API (connectors/console).

Support hours and the names of the days: bot/support_hours.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.places import Place, resolve_place
from bot.support_hours import SupportHours, clock, wording

HANDOFF_PAYLOAD_KEY = "handoff"
FAILED_TURNS_BEFORE_OFFER = 2


def named_place(tracker: Tracker) -> Place | None:
    """The place the latest message names, else the one named before (the place slot)."""
    mentions = [
        str(entity.get("value"))
        for entity in tracker.latest_message.get("entities") or []
        if entity.get("entity") == "place" and entity.get("value")
    ]
    slot = tracker.get_slot("place")
    places = [resolve_place(mention) for mention in [*mentions, *([slot] if slot else [])]]
    return next((p for p in places if p is not None), None)


def schedule_slots(hours: SupportHours, moment: datetime) -> dict[str, Any]:
    """The support_* and next_opening_* slots at ``moment`` (the next opening only outside hours)."""
    in_hours = hours.is_open(moment)
    opening = None if in_hours else hours.next_opening(moment)
    return {
        "support_status": "in_hours" if in_hours else "outside_hours",
        "support_opens": clock(hours.opens),
        "support_closes": clock(hours.closes),
        "support_days": wording().days(hours.days),
        "next_opening_time": clock(opening.time()) if opening else None,
        "next_opening_day": wording().weekdays[opening.isoweekday()] if opening else None,
        "next_opening_date": opening.strftime("%d/%m") if opening else None,
    }


def centre_slots(place: Place | None) -> dict[str, Any]:
    """The centre_* slots: which service centre to name (utter_handoff's variations)."""
    if place is None:
        level = "general"
    elif place.former_province:
        level = "former_province"
    else:
        level = "commune" if place.commune else "province"
    return {
        "centre_place": level,
        "centre_province": place.province if place else None,
        "centre_commune": place.commune if place else None,
        "centre_former_province": place.former_province if place else None,
    }


def _now() -> datetime:
    return datetime.now(UTC)


class ActionRequestHuman(Action):
    """Queue the conversation for a volunteer; the slots say when someone will answer, and where."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        slots = {**schedule_slots(SupportHours.from_env(), _now()), **centre_slots(named_place(tracker))}
        dispatcher.utter_message(
            json_message={
                HANDOFF_PAYLOAD_KEY: {
                    "topic": tracker.get_slot("current_procedure"),
                    "in_hours": slots["support_status"] == "in_hours",
                }
            }
        )
        return [SlotSet(name, value) for name, value in slots.items()]


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
