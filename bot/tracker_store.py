"""Rasa's SQL tracker store without its ``count(*)`` on every save (endpoints ``type:``
``bot.tracker_store.SQLTrackerStore``).

Rasa 3.6's ``SQLTrackerStore.save`` finds which events are new by counting, in the database, the rows
of the conversation's latest session (a query over the events table with a subquery for the session
start), once per save, and skips that many of the tracker's events. A tracker this store has just
read, or just saved, already tells: every event it holds up to then is stored. Each such tracker
remembers how many, and a save writes the events after them. A tracker built elsewhere (from a
request, ``PUT …/tracker/events``) is counted as Rasa does. Conversations are serialised by the lock
store, so no other process writes a conversation between its read and its save.

Rasa writes the new events through the ORM's unit of work: an object per row, an ``INSERT … RETURNING
id`` to learn the ids it never reads, and its bookkeeping of what the flush changed, about 3 ms of
CPU for the three events of a turn. Here they are the same rows (the same columns from the same
``event.as_dict()``) inserted as one Core statement with them as parameters. Rasa reads a conversation
by loading each row as an ORM object, from a query it builds again on every read; here the same query
(the conversation's rows since its latest session start, in id order) is built once, with the sender
as a bound parameter, and selects only the ``data`` column Rasa reads.

Runs inside Rasa (.venv-rasa): Rasa loads the class by its module path from the endpoints file.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from rasa.core import tracker_store
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)

# The attribute of a tracker that holds how many of its first events are rows of the store.
STORED_EVENTS = "_tthc_stored_events"


def stored_events(tracker: DialogueStateTracker) -> int | None:
    stored = getattr(tracker, STORED_EVENTS, None)
    return stored if isinstance(stored, int) and 0 <= stored <= len(tracker.events) else None


def event_row(sender_id: str, event: Event) -> dict[str, Any]:
    """The columns of an event's row, as Rasa's ``SQLTrackerStore.save`` fills them."""
    data = event.as_dict()
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }


def events_query(table: sa.Table, fetch_events_from_all_sessions: bool) -> sa.sql.Select:
    """Rasa's ``SQLTrackerStore._event_query`` selecting only ``data``, the sender a bound parameter."""
    sender = sa.bindparam("sender_id")
    query = sa.select(table.c.data).where(table.c.sender_id == sender)
    if not fetch_events_from_all_sessions:
        session_start = (
            sa.select(sa.func.max(table.c.timestamp).label("session_start"))
            .where(table.c.sender_id == sender, table.c.type_name == SessionStarted.type_name)
            .subquery()
        )
        query = query.where(
            sa.or_(
                table.c.timestamp >= session_start.c.session_start,
                session_start.c.session_start.is_(None),
            )
        )
    return query.order_by(table.c.id)


class SQLTrackerStore(tracker_store.SQLTrackerStore):
    """``SQLTrackerStore`` whose saves need no query to know which events are new."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except (ImportError, AttributeError) as error:
            # For a store given by module path, Rasa turns these into a warning and keeps the
            # conversations in memory, lost at restart and unseen by other replicas: fail instead.
            raise RuntimeError(f"The SQL tracker store cannot start: {error}") from error
        table = self.SQLEvent.__table__
        self._events_queries = {every: events_query(table, every) for every in (False, True)}

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        query = self._events_queries[bool(fetch_events_from_all_sessions)]
        with self.session_scope() as session:
            events = [json.loads(data) for (data,) in session.execute(query, {"sender_id": sender_id})]
        if not self.domain or not events:
            logger.debug("No stored tracker of sender id %r", sender_id)
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
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
        await self.stream_events(tracker)
        with self.session_scope() as session:
            new_events = self._additional_events(session, tracker)
            rows = [event_row(tracker.sender_id, event) for event in new_events]
            if rows:
                session.execute(sa.insert(self.SQLEvent.__table__), rows)
                session.commit()
        setattr(tracker, STORED_EVENTS, len(tracker.events))
