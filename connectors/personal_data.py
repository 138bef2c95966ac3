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
from connectors.db.models import PERSONAL_DATA, ByConversation, child_tables, declared
from connectors.retention import tracker_engine, tracker_ready

# The app's tables holding a conversation's rows, with their declaration (``connectors/db/models.py``).
CONVERSATION_TABLES: list[tuple[sa.Table, ByConversation]] = declared(PERSONAL_DATA, ByConversation)
# The tables whose rows go with their parent's: each with its column pointing at the parent and the
# parent's column it points at.
CHILD_TABLES: list[tuple[sa.Table, sa.Column[Any], sa.Column[Any]]] = child_tables(PERSONAL_DATA)
TRACKER_COLUMNS = "type_name, timestamp, intent_name, action_name, data"


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _row(row: Any) -> dict[str, Any]:
    return {key: _plain(value) for key, value in row._mapping.items()}


def _zalo_user(sender_id: str) -> str | None:
    return sender_id[len(ZALO_PREFIX) :] if sender_id.startswith(ZALO_PREFIX) else None


def _key(policy: ByConversation, sender_id: str) -> str | None:
    """The value ``policy``'s column holds for the conversation (None: the table has none of it)."""
    return _zalo_user(sender_id) if policy.zalo else sender_id


def _of_conversation(table: sa.Table, policy: ByConversation, sender_id: str) -> Any:
    return table.c[policy.column] == _key(policy, sender_id)


def export_app(database: Database, sender_id: str) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {}
    with database.session() as session:
        for table, policy in CONVERSATION_TABLES:
            if _key(policy, sender_id) is None:
                tables[table.name] = []
                continue
            query = (
                table.select()
                .where(_of_conversation(table, policy, sender_id))
                .order_by(table.c[policy.order_by])
            )
            tables[table.name] = [_row(row) for row in session.execute(query)]
        for table, column, parent in CHILD_TABLES:
            parent_keys = [row[parent.key] for row in tables[parent.table.name]]
            query = table.select().where(column.in_(parent_keys)).order_by(*table.primary_key.columns)
            tables[table.name] = [_row(row) for row in session.execute(query)]
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
        for table, column, parent in CHILD_TABLES:
            policy = parent.table.info[PERSONAL_DATA]
            parents = sa.select(parent).where(_of_conversation(parent.table, policy, sender_id))
            result = session.execute(sa.delete(table).where(column.in_(parents)))
            deleted[table.name] = result.rowcount or 0
        for table, policy in CONVERSATION_TABLES:
            if _key(policy, sender_id) is None:
                continue
            rows = _of_conversation(table, policy, sender_id)
            if policy.erase == "blank":
                result = session.execute(sa.update(table).where(rows).values({policy.column: None}))
                deleted[f"{table.name} (conversation blanked)"] = result.rowcount or 0
            else:
                result = session.execute(sa.delete(table).where(rows))
                deleted[table.name] = result.rowcount or 0
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
