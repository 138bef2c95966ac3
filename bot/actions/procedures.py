"""Thin actions: read the slots, ask `knowledge` (answer-first decision, catalogue, cards) and send
the domain's responses. Every fixed text is an `utter_` response in bot/domain; what a message means
(intent, aspect, procedure mention, ordinal, place) comes from NLU and the slot mappings."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.slots import chosen_code
from bot.places import resolve_place

logger = logging.getLogger(__name__)

RECORD_KEY = "record"
BUTTON_TITLE_CHARS = 90
MAX_LINKED = 2
# The slot's aspect -> the sections of knowledge.cards.render_card (None: the full card).
CARD_SECTIONS: dict[str, list[str] | None] = {
    "documents": ["documents"],
    "fee": ["fee"],
    "time": ["time"],
    "place": ["place"],
    "steps": ["steps"],
    "online": ["online"],
    "forms": ["forms"],
    "result": ["result"],
    "conditions": ["conditions"],
    "cases": ["cases"],
    "legal": ["legal"],
    "source": ["source"],
    "full": None,
}


def record(dispatcher: CollectingDispatcher, **fields: Any) -> None:
    """A signal for the app's recorder (the chat core reads it; a citizen never sees it)."""
    dispatcher.utter_message(json_message={RECORD_KEY: fields})


# answer_outcome -> the outcome of the answer signal (issue 14 contract).
RECORDED_OUTCOMES = {
    "answered": "answered",
    "asked": "asked_back",
    "no_topic": "asked_back",
    "not_found": "not_found",
    "not_understood": "not_understood",
    "choice_unknown": "not_understood",
}


def record_answer(
    dispatcher: CollectingDispatcher,
    outcome: str,
    procedure: str | None = None,
    confidence: float | None = None,
) -> None:
    record(
        dispatcher,
        kind="answer",
        outcome=RECORDED_OUTCOMES.get(outcome, outcome),
        procedure=procedure,
        confidence=round(confidence, 4) if confidence is not None else None,
    )


def latest_entities(tracker: Tracker, name: str) -> list[dict[str, Any]]:
    return [
        e for e in tracker.latest_message.get("entities") or [] if e.get("entity") == name and e.get("value")
    ]


def _is_place(entity: dict[str, Any], text: str) -> bool:
    """A place entity, or a procedure mention that is really a place name ("ở Hoàn Kiếm")."""
    if entity.get("entity") == "place":
        return True
    start, end = entity.get("start"), entity.get("end")
    mention = text[start:end] if isinstance(start, int) and isinstance(end, int) else ""
    return bool(mention) and resolve_place(mention) is not None


def procedure_mentions(tracker: Tracker) -> list[str]:
    """The latest message's procedure mentions, as typed, without place names tagged as procedures."""
    text = tracker.latest_message.get("text") or ""
    mentions = []
    for entity in latest_entities(tracker, "procedure"):
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int) and not _is_place(entity, text):
            mentions.append(text[start:end])
    return mentions


def search_text(tracker: Tracker) -> str:
    """The message without the places it names (with their unit words, tagged by NLU as part of them)."""
    text = tracker.latest_message.get("text") or ""
    spans = [
        (e["start"], e["end"])
        for e in tracker.latest_message.get("entities") or []
        if isinstance(e.get("start"), int) and isinstance(e.get("end"), int) and _is_place(e, text)
    ]
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + " " + text[end:]
    return " ".join(text.split())


def option_button(code: str, title: str) -> dict[str, str]:
    payload = "/choose_option" + json.dumps({"procedure_code": code}, separators=(",", ":"))
    if len(title) > BUTTON_TITLE_CHARS:
        title = title[: BUTTON_TITLE_CHARS - 1].rstrip() + "…"
    return {"title": title, "payload": payload}


def get_procedure(code: str) -> Any | None:
    from knowledge.catalogue import get_catalogue

    return get_catalogue().get(code)


def render(procedure: Any, aspect: str | None, *, first: bool) -> str:
    from knowledge.cards import render_card, render_first_answer

    if first:
        return render_first_answer(procedure)
    return render_card(procedure, aspects=CARD_SECTIONS.get(aspect or "documents", ["documents"]))


def linked_procedures(procedure: Any, shown: set[str]) -> list[Any]:
    """The procedures the record links to (its `linked` codes), not already offered."""
    found = []
    for code in procedure.linked:
        if code not in shown and code != procedure.code:
            linked = get_procedure(code)
            if linked is not None:
                found.append(linked)
    return found[:MAX_LINKED]


def answer(
    dispatcher: CollectingDispatcher,
    procedure: Any,
    aspect: str | None,
    *,
    first: bool,
    variants: list[tuple[str, str]] = (),  # type: ignore[assignment]
    confidence: float | None = None,
) -> list[EventType]:
    """Answer a procedure: the short first card, or the aspect asked; then the other procedures to pick,
    and last the two feedback buttons (last, so that Zalo's two-message answer keeps them)."""
    card = render(procedure, aspect, first=first and aspect in (None, "documents"))
    dispatcher.utter_message(response="utter_first_answer" if first else "utter_aspect_answer", card=card)
    offered: list[str] = []
    if first:
        variants = [(code, name) for code, name in variants if code != procedure.code]
        if variants:
            dispatcher.utter_message(
                response="utter_other_procedures", buttons=[option_button(c, n) for c, n in variants]
            )
        linked = linked_procedures(procedure, {code for code, _ in variants})
        if linked:
            dispatcher.utter_message(
                response="utter_linked_procedures", buttons=[option_button(p.code, p.name) for p in linked]
            )
        offered = [code for code, _ in variants] + [p.code for p in linked]
    dispatcher.utter_message(response="utter_ask_feedback")
    record_answer(dispatcher, "answered", procedure.code, confidence)
    events: list[EventType] = [
        SlotSet("current_procedure", procedure.code),
        SlotSet("answer_outcome", "answered"),
        SlotSet("chosen_procedure", None),
    ]
    if first:
        events.append(SlotSet("offered_options", offered or None))
    return events


def say(dispatcher: CollectingDispatcher, response: str, outcome: str) -> list[EventType]:
    dispatcher.utter_message(response=response)
    record_answer(dispatcher, outcome)
    return [SlotSet("answer_outcome", outcome)]


class ActionAnswerProcedure(Action):
    """The aspect asked about the procedure the message names, or about the current one."""

    def name(self) -> str:
        return "action_answer_procedure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        from knowledge.answer_first import decide

        intent = (tracker.latest_message.get("intent") or {}).get("name")
        aspect = tracker.get_slot("aspect")
        current_code = tracker.get_slot("current_procedure")
        mentions = procedure_mentions(tracker)
        current = await asyncio.to_thread(get_procedure, current_code) if current_code else None
        # A follow-up ("lệ phí bao nhiêu") names no procedure and is about the current one.
        if (
            current is not None
            and not mentions
            and intent not in ("ask_procedure", "ask_same", "nlu_fallback")
        ):
            return answer(dispatcher, current, aspect, first=False)

        decision = await asyncio.to_thread(decide, search_text(tracker), mentions)
        if decision.kind == "answer" and decision.chosen is not None:
            procedure = await asyncio.to_thread(get_procedure, decision.chosen.code)
            if procedure is not None:
                first = procedure.code != current_code
                variants = [(c.code, c.name) for c in decision.variants]
                return answer(
                    dispatcher, procedure, aspect, first=first, variants=variants,
                    confidence=decision.probability,
                )
        if intent == "nlu_fallback":
            return say(dispatcher, "utter_not_understood", "not_understood")
        if current is not None and not mentions:
            return answer(dispatcher, current, aspect, first=False)
        if not mentions and intent != "ask_procedure":
            return say(dispatcher, "utter_ask_which_procedure", "no_topic")
        if decision.kind == "ask" and decision.options:
            dispatcher.utter_message(
                response="utter_which_procedure",
                buttons=[option_button(c.code, c.name) for c in decision.options],
            )
            record_answer(dispatcher, "asked", None, decision.probability)
            return [
                SlotSet("offered_options", [c.code for c in decision.options]),
                SlotSet("answer_outcome", "asked"),
            ]
        return say(dispatcher, "utter_not_found", "not_found")


class ActionChooseOption(Action):
    """A choice among the offered procedures (button or ordinal, only one that was offered, see
    bot/actions/slots.py): answer the aspect asked before. Both choice slots are cleared."""

    def name(self) -> str:
        return "action_choose_option"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        code = chosen_code(tracker)
        procedure = await asyncio.to_thread(get_procedure, code) if code else None
        cleared: list[EventType] = [SlotSet("chosen_procedure", None), SlotSet("ordinal", None)]
        if procedure is None:
            return [*say(dispatcher, "utter_choice_unknown", "choice_unknown"), *cleared]
        first = procedure.code != tracker.get_slot("current_procedure")
        events = answer(dispatcher, procedure, tracker.get_slot("aspect"), first=first)
        return [*events, SlotSet("ordinal", None)]
