"""Thin actions for what the app records: ratings of answers, the SIPAS satisfaction question and
reports of papers asked beyond the rules.

Each sends the domain's responses and a ``record`` signal (``json_message={"record": {...}}``), which
the chat core hands to the app's recorder and never shows to a citizen (the handoff pattern). The
fields follow the issue 14 contract; the recorder masks every free text before storing it.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.procedures import get_procedure, latest_entities, procedure_mentions, record
from bot.places import Place, resolve_address
from knowledge.config import VIETNAM

REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud or retyped
REFERENCE_CHARS = 5
MAX_FREE_TEXT = 500
HANDBACK_INTENT = "EXTERNAL_handback"


def new_reference(now: datetime | None = None) -> str:
    """``PA-YYMMDD-XXXXX``: the day in Vietnam and 5 random characters of an unambiguous alphabet."""
    day = (now or datetime.now(UTC)).astimezone(VIETNAM)
    suffix = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_CHARS))
    return f"PA-{day:%y%m%d}-{suffix}"


def _free_text(value: Any) -> str | None:
    text = " ".join(str(value).split()) if isinstance(value, str) else ""
    return text[:MAX_FREE_TEXT] or None


def feedback_record(tracker: Tracker, *, with_reason: bool) -> dict[str, Any]:
    """The feedback signal from the slots: the rating alone, or the "down" rating with its reason."""
    if not with_reason:
        return {
            "kind": "feedback",
            "rating": tracker.get_slot("feedback_rating") or "down",
            "procedure": tracker.get_slot("current_procedure"),
            "reason": None,
            "comment": None,
        }
    reason = tracker.get_slot("feedback_reason")
    return {
        "kind": "feedback",
        "rating": "down",
        "procedure": tracker.get_slot("current_procedure"),
        "reason": reason,
        "comment": _free_text(tracker.get_slot("feedback_comment")) if reason == "other" else None,
    }


class ActionRecordRating(Action):
    """"Hữu ích" or "Chưa đúng" under an answer: the rating of the current procedure."""

    def name(self) -> str:
        return "action_record_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        record(dispatcher, **feedback_record(tracker, with_reason=False))
        # A comment of an earlier rating must not fill this one's form.
        return [SlotSet("feedback_comment", None)]


class ActionRecordReason(Action):
    """What was wrong (a reason button, and for "Khác" the citizen's words), for the last "down"."""

    def name(self) -> str:
        return "action_record_reason"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        record(dispatcher, **feedback_record(tracker, with_reason=True))
        return [SlotSet("feedback_comment", None)]


def satisfaction_context(intent: str | None) -> str:
    return "handoff" if intent == HANDBACK_INTENT else "end"


class ActionAskSatisfaction(Action):
    """The SIPAS question; the rules ask it only while `satisfaction_context` is unset (once)."""

    def name(self) -> str:
        return "action_ask_satisfaction"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        dispatcher.utter_message(response="utter_ask_satisfaction")
        return [SlotSet("satisfaction_context", satisfaction_context(intent))]


def satisfaction_record(tracker: Tracker) -> dict[str, Any] | None:
    level = tracker.get_slot("satisfaction_level")
    if not (isinstance(level, str) and level.isdigit() and 1 <= int(level) <= 5):
        return None
    context = tracker.get_slot("satisfaction_context")
    context = context if context == "handoff" else "end"
    return {"kind": "satisfaction", "level": int(level), "context": context}


class ActionRecordSatisfaction(Action):
    def name(self) -> str:
        return "action_record_satisfaction"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        signal = satisfaction_record(tracker)
        if signal is not None:
            record(dispatcher, **signal)
        dispatcher.utter_message(response="utter_satisfaction_thanks")
        return []


def mention_text(tracker: Tracker, *names: str) -> str | None:
    """The text of the latest message's entities of these kinds, as typed."""
    text = tracker.latest_message.get("text") or ""
    spans = []
    for name in names:
        for entity in latest_entities(tracker, name):
            start, end = entity.get("start"), entity.get("end")
            if isinstance(start, int) and isinstance(end, int) and text[start:end].strip():
                spans.append((start, text[start:end].strip()))
    return ", ".join(mention for _, mention in sorted(spans)) or None


def reported_place(tracker: Tracker) -> tuple[str | None, Place | None]:
    """The place the report names (this message's place entity, else the conversation's place slot),
    as written and as today's units."""
    written = mention_text(tracker, "place") or tracker.get_slot("place")
    return written, resolve_address(written) if written else None


def place_name(place: Place | None) -> str | None:
    if place is None:
        return None
    return f"{place.commune}, {place.province}" if place.commune else place.province


class ActionExtraPapers(Action):
    """An office asked for papers beyond the list: the legal list with its source, a reference for
    the report, the official ways to complain, and the report signal."""

    def name(self) -> str:
        return "action_extra_papers"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        from knowledge.answer_first import decide
        from knowledge.cards import render_card

        code = tracker.get_slot("current_procedure")
        mentions = procedure_mentions(tracker)
        if mentions:
            # The procedure named, not the whole message, which is mostly about the extra paper; the
            # card names the procedure it lists, so the best candidate serves.
            decision = await asyncio.to_thread(decide, " ".join(mentions))
            best = decision.chosen or next(iter(decision.options), None)
            if best is not None:
                code = best.code
        procedure = await asyncio.to_thread(get_procedure, code) if code else None
        place_text, place = await asyncio.to_thread(reported_place, tracker)
        asked = mention_text(tracker, "paper", "abolished_paper")
        reference = new_reference()
        details = {(True, True): "procedure_and_place", (True, False): "procedure", (False, True): "place"}
        events: list[EventType] = [
            SlotSet("report_reference", reference),
            SlotSet("report_procedure_name", procedure.name if procedure else None),
            SlotSet("report_place", place_name(place)),
            SlotSet("report_province", place.province if place else None),
            SlotSet("report_asked", asked),
            SlotSet("report_details", details.get((procedure is not None, place is not None), "none")),
        ]
        if procedure is not None:
            dispatcher.utter_message(
                response="utter_extra_papers_list", card=render_card(procedure, aspects=["documents"])
            )
            events.append(SlotSet("current_procedure", procedure.code))
        # Says something only when the slot names an abolished paper (the response's conditions).
        dispatcher.utter_message(response="utter_abolished_paper")
        dispatcher.utter_message(response="utter_extra_papers_rule")
        if procedure is None:
            dispatcher.utter_message(response="utter_extra_papers_which_procedure")
        record(
            dispatcher,
            kind="report",
            reference=reference,
            procedure=procedure.code if procedure else None,
            procedure_name=procedure.name if procedure else None,
            province=place.province if place else None,
            commune=place.commune if place else None,
            place_text=_free_text(place_text),
            asked=_free_text(asked),
        )
        # Responses are rendered with the slots as they were before this action's events: the
        # reference and the ways to complain follow it in the rule (utter_extra_papers_reported).
        return [*events, SlotSet("abolished_paper", None)]
