"""The procedure a choice picks, only among those the bot offered.

A button payload sets `chosen_procedure` (from_entity procedure_code); a typed ordinal ("cái thứ hai",
"số 2") sets `ordinal`, whose value NLU's synonyms make a number ("1"…"5") or "last". Both slots are
mapped only for `choose_option`, whose rule runs `action_choose_option`, which reads them here (a
button's code wins) and clears them. There is no global `action_validate_slot_mappings`: Rasa would
call it after every user message, an action-server round trip a turn for the few turns that choose.
"""

from __future__ import annotations

from rasa_sdk import Tracker

LAST = "last"


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


def chosen_code(tracker: Tracker) -> str | None:
    """The offered procedure the choice picks: a button's code, else the typed ordinal among the
    options offered last; None when it picks nothing that was offered."""
    code = tracker.get_slot("chosen_procedure")
    if code is None:
        ordinal = tracker.get_slot("ordinal")
        if ordinal is None:
            return None
        offered = list(tracker.get_slot("offered_options") or [])
        code = option_at(offered, str(ordinal).strip().lower())
    return code if isinstance(code, str) and code in ever_offered(tracker) else None
