"""What is stored about one conversation, for a citizen who asks to see it or to erase it.

A conversation is its sender id: the widget's id, or ``zalo:<Zalo user id>`` for the Zalo channel
(whose message records are kept under the bare user id). ``export`` gathers the app's rows and the
events of Rasa's tracker store; ``delete`` removes them. The audit log keeps what volunteers did, with
the conversation's id blanked.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connectors.console.queue import ZALO_PREFIX
from connectors.db import Database
from connectors.db.models import (
    Assignment,
    AuditEntry,
    ChatTurn,
    ConversationMessage,
    ExtraPaperReport,
    Feedback,
    Handoff,
    Satisfaction,
    ZaloMessage,
)
from connectors.retention import tracker_engine, tracker_ready

CONVERSATION_TABLES: list[Any] = [
    ChatTurn,
    Feedback,
    Satisfaction,
    ExtraPaperReport,
    ConversationMessage,
    Handoff,
    AuditEntry,
]
TRACKER_COLUMNS = "type_name, timestamp, intent_name, action_name, data"


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _row(row: Any) -> dict[str, Any]:
    return {column.key: _plain(getattr(row, column.key)) for column in sa.inspect(type(row)).columns}


def _zalo_user(sender_id: str) -> str | None:
    return sender_id[len(ZALO_PREFIX) :] if sender_id.startswith(ZALO_PREFIX) else None


def export_app(database: Database, sender_id: str) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {}
    with database.session() as session:
        for model in CONVERSATION_TABLES:
            query = sa.select(model).where(model.conversation_id == sender_id).order_by(model.id)
            tables[model.__tablename__] = [_row(row) for row in session.scalars(query)]
        handoff_ids = [row["id"] for row in tables["handoffs"]]
        assignments = (
            sa.select(Assignment).where(Assignment.handoff_id.in_(handoff_ids)).order_by(Assignment.id)
        )
        tables["assignments"] = [_row(row) for row in session.scalars(assignments)]
        user = _zalo_user(sender_id)
        zalo = sa.select(ZaloMessage).where(ZaloMessage.user_id == user).order_by(ZaloMessage.received_at)
        tables["zalo_messages"] = [_row(row) for row in session.scalars(zalo)] if user else []
    return tables


def export_tracker(url: str, sender_id: str) -> list[dict[str, Any]]:
    engine = tracker_engine(url)
    try:
        with engine.connect() as connection:
            if not tracker_ready(connection):
                return []
            rows = connection.execute(
                sa.text(f"SELECT {TRACKER_COLUMNS} FROM events WHERE sender_id = :sender ORDER BY id"),
                {"sender": sender_id},
            )
            events = []
            for row in rows.mappings():
                event = dict(row)
                with contextlib.suppress(ValueError):
                    event["data"] = json.loads(event["data"]) if event["data"] else None
                events.append(event)
            return events
    finally:
        engine.dispose()


def export(database: Database, tracker_url: str, sender_id: str) -> dict[str, Any]:
    """Everything stored about the conversation, as JSON-ready data."""
    return {
        "sender_id": sender_id,
        "app": export_app(database, sender_id),
        "tracker_events": export_tracker(tracker_url, sender_id),
    }


def delete_app(database: Database, sender_id: str) -> dict[str, int]:
    deleted: dict[str, int] = {}
    with database.session() as session:
        handoffs = sa.select(Handoff.id).where(Handoff.conversation_id == sender_id)
        result = session.execute(sa.delete(Assignment).where(Assignment.handoff_id.in_(handoffs)))
        deleted["assignments"] = result.rowcount or 0
        for model in CONVERSATION_TABLES:
            if model is AuditEntry:
                continue
            result = session.execute(sa.delete(model).where(model.conversation_id == sender_id))
            deleted[model.__tablename__] = result.rowcount or 0
        blanked = session.execute(
            sa.update(AuditEntry).where(AuditEntry.conversation_id == sender_id).values(conversation_id=None)
        )
        deleted["audit_log (conversation blanked)"] = blanked.rowcount or 0
        user = _zalo_user(sender_id)
        if user:
            result = session.execute(sa.delete(ZaloMessage).where(ZaloMessage.user_id == user))
            deleted["zalo_messages"] = result.rowcount or 0
    return deleted


def delete_tracker(url: str, sender_id: str) -> int:
    engine = tracker_engine(url)
    try:
        with engine.begin() as connection:
            if not tracker_ready(connection):
                return 0
            result = connection.execute(
                sa.text("DELETE FROM events WHERE sender_id = :sender"), {"sender": sender_id}
            )
            return result.rowcount or 0
    finally:
        engine.dispose()


def delete(database: Database, tracker_url: str, sender_id: str) -> dict[str, int]:
    """Erase the conversation from the app's database and the tracker store; rows deleted per table."""
    deleted = delete_app(database, sender_id)
    deleted["events"] = delete_tracker(tracker_url, sender_id)
    return deleted
