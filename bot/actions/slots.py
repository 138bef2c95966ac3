"""Slot validation after every user message (rasa-sdk's global ValidationAction).

A button payload sets `chosen_procedure` (from_entity procedure_code); a typed ordinal ("cái thứ hai",
"số 2") sets `ordinal`, whose value NLU's synonyms make a number ("1"…"5") or "last". Both become a
procedure only if the bot offered it in this conversation (the `offered_options` slot events).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

LAST = "last"


class _NoValidatorNotes(logging.Filter):
    """rasa-sdk warns, on every turn, of each extracted slot this action has no validator for: only
    `chosen_procedure` and `ordinal` need one, so the notes say nothing (2-3 log lines a turn)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Skipping validation for `")


logging.getLogger("rasa_sdk.forms").addFilter(_NoValidatorNotes())


def ever_offered(tracker: Tracker) -> set[str]:
    """Every procedure code the bot offered in this conversation."""
    codes = set(tracker.get_slot("offered_options") or [])
    for event in tracker.events:
        if event.get("event") == "slot" and event.get("name") == "offered_options":
            codes.update(event.get("value") or [])
    return codes


def option_at(offered: list[str], ordinal: str) -> str | None:
    if ordinal == LAST:
        return offered[-1] if offered else None
    if ordinal.isdigit() and 1 <= int(ordinal) <= len(offered):
        return offered[int(ordinal) - 1]
    return None


class ValidateSlotMappings(ValidationAction):
    def name(self) -> str:
        return "action_validate_slot_mappings"

    def validate_chosen_procedure(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {
            "chosen_procedure": value if isinstance(value, str) and value in ever_offered(tracker) else None
        }

    def validate_ordinal(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        entities = tracker.latest_message.get("entities") or []
        if any(e.get("entity") == "procedure_code" for e in entities):
            return {"ordinal": None}  # a button press: its code wins
        chosen = option_at(list(tracker.get_slot("offered_options") or []), str(value or "").strip().lower())
        return {"ordinal": None, "chosen_procedure": chosen}
