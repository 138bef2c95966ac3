"""Rasa's SQL tracker store without its ``count(*)`` on every save (endpoints ``type:``
``bot.tracker_store.SQLTrackerStore``).

Rasa 3.6's ``SQLTrackerStore.save`` finds which events are new by counting, in the database, the rows
of the conversation's latest session (a query over the events table with a subquery for the session
start), once per save, and skips that many of the tracker's events. A tracker this store has just
read, or just saved, already tells: every event it holds up to then is stored. Each such tracker
remembers how many, and a save writes the events after them. A tracker built elsewhere (from a
request, ``PUT …/tracker/events``) is counted as Rasa does. Conversations are serialised by the lock
store, so no other process writes a conversation between its read and its save.

Runs inside Rasa (.venv-rasa): Rasa loads the class by its module path from the endpoints file.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from rasa.core import tracker_store
from rasa.shared.core.trackers import DialogueStateTracker

# The attribute of a tracker that holds how many of its first events are rows of the store.
STORED_EVENTS = "_tthc_stored_events"


def stored_events(tracker: DialogueStateTracker) -> int | None:
    stored = getattr(tracker, STORED_EVENTS, None)
    return stored if isinstance(stored, int) and 0 <= stored <= len(tracker.events) else None


class SQLTrackerStore(tracker_store.SQLTrackerStore):
    """``SQLTrackerStore`` whose saves need no query to know which events are new."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except (ImportError, AttributeError) as error:
            # For a store given by module path, Rasa turns these into a warning and keeps the
            # conversations in memory, lost at restart and unseen by other replicas: fail instead.
            raise RuntimeError(f"The SQL tracker store cannot start: {error}") from error

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        tracker = await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        if tracker is not None:
            setattr(tracker, STORED_EVENTS, len(tracker.events))
        return tracker

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        stored = stored_events(tracker)
        if stored is None and not tracker.events:
            return iter(())
        if stored is None:
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, stored, None)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        setattr(tracker, STORED_EVENTS, len(tracker.events))
