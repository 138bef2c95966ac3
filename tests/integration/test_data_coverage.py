"""Which rows the retention purges and which a citizen's export / erase reaches, over every table of
the app's database, on SQLite and on PostgreSQL (the ``app_db`` fixture). The tracker store is left
out (an empty SQLite file: no ``events`` table yet)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors import personal_data, retention
from connectors.db import Database
from connectors.db.models import (
    Assignment,
    AuditEntry,
    ChatTurn,
    ConsoleSession,
    ConversationMessage,
    ExtraPaperReport,
    Feedback,
    Handoff,
    Satisfaction,
    Volunteer,
    ZaloMessage,
    ZaloToken,
    utcnow,
)

OLD_DAYS = 200
MAX_AGE = 180 * retention.DAY


def _seed(database: Database, conversation: str, *, days: float, tag: str) -> None:
    """One row in every table for ``conversation`` (``zalo:<user>``), ``days`` old."""
    at = utcnow() - timedelta(days=days)
    epoch = time.time() - days * retention.DAY
    user = conversation.removeprefix("zalo:")
    with database.session() as session:
        volunteer = Volunteer(username=f"v-{tag}", name="Tình nguyện viên", password_hash="x", created_at=at)
        session.add(volunteer)
        session.flush()
        session.add(
            ConsoleSession(
                token_hash=f"t-{tag}".ljust(64, "0"), volunteer_id=volunteer.id, csrf_token="c",
                created_at=at, expires_at=at + timedelta(days=1),
            )
        )  # fmt: skip
        handoff = Handoff(
            conversation_id=conversation, channel="zalo", status="closed", requested_at=at, updated_at=at,
            assigned_to=volunteer.id,
        )  # fmt: skip
        session.add(handoff)
        session.flush()
        session.add(Assignment(handoff_id=handoff.id, volunteer_id=volunteer.id, started_at=at, ended_at=at))
        session.add(
            ConversationMessage(conversation_id=conversation, role="citizen", text="xin chào", created_at=at)
        )
        session.add(
            AuditEntry(
                at=at,
                volunteer_id=volunteer.id,
                actor=f"v-{tag}",
                action="take",
                conversation_id=conversation,
            )
        )
        session.add(ZaloMessage(msg_id=f"m-{tag}", user_id=user, text="xin chào", received_at=epoch))
        session.add(ZaloToken(name=f"tok-{tag}", value="sealed", updated_at=epoch))
        session.add(ChatTurn(conversation_id=conversation, channel="zalo", at=at, text_masked="khai sinh"))
        session.add(Feedback(conversation_id=conversation, channel="zalo", at=at, rating="up"))
        session.add(Satisfaction(conversation_id=conversation, channel="zalo", at=at, level=5))
        session.add(
            ExtraPaperReport(
                reference=f"PA-{tag}",
                conversation_id=conversation,
                channel="zalo",
                at=at,
                asked_masked="bản sao",
            )
        )


def _counts(database: Database) -> dict[str, int]:
    with database.session() as session:
        return {
            table.name: session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in Handoff.metadata.sorted_tables
        }


@pytest.fixture
def tracker_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tracker.db'}"


def test_the_purge_deletes_old_rows_of_the_timed_tables_and_keeps_the_others(app_db: Database) -> None:
    _seed(app_db, "zalo:old", days=OLD_DAYS, tag="old")
    _seed(app_db, "zalo:new", days=1, tag="new")

    deleted = retention.purge_app(app_db, MAX_AGE)

    purged = {
        "chat_turns", "feedback", "satisfaction", "extra_paper_reports", "conversation_messages", "audit_log",
        "assignments", "handoffs", "zalo_messages",
    }  # fmt: skip
    assert deleted == dict.fromkeys(purged, 1)
    counts = _counts(app_db)
    assert {name for name, count in counts.items() if count == 1} == purged
    # Volunteers, their sessions and the Zalo tokens are not conversation data: kept, old or not.
    assert {name for name, count in counts.items() if count == 2} == {
        "volunteers",
        "console_sessions",
        "zalo_tokens",
    }


def test_export_and_erase_reach_every_row_of_one_conversation_and_no_other(
    app_db: Database, tracker_url: str
) -> None:
    _seed(app_db, "zalo:me", days=1, tag="me")
    _seed(app_db, "zalo:other", days=1, tag="other")

    exported = personal_data.export(app_db, tracker_url, "zalo:me")["app"]
    conversation_tables = {
        "chat_turns", "feedback", "satisfaction", "extra_paper_reports", "conversation_messages", "handoffs",
        "audit_log", "assignments", "zalo_messages",
    }  # fmt: skip
    assert set(exported) == conversation_tables
    assert all(len(rows) == 1 for rows in exported.values()), exported
    assert exported["zalo_messages"][0]["user_id"] == "me"
    assert exported["assignments"][0]["handoff_id"] == exported["handoffs"][0]["id"]

    deleted = personal_data.delete(app_db, tracker_url, "zalo:me")

    erased = conversation_tables - {"audit_log"}
    assert deleted == {**dict.fromkeys(erased, 1), "audit_log (conversation blanked)": 1, "events": 0}
    counts = _counts(app_db)
    assert {name for name, count in counts.items() if count == 1} == erased
    assert {name for name, count in counts.items() if count == 2} == {
        "volunteers", "console_sessions", "zalo_tokens", "audit_log"
    }  # fmt: skip
    with app_db.session() as session:
        blanked = session.scalars(sa.select(AuditEntry).where(AuditEntry.actor == "v-me")).one()
        assert blanked.conversation_id is None
    after = personal_data.export(app_db, tracker_url, "zalo:me")["app"]
    assert not any(after.values())
    assert all(
        len(rows) == 1 for rows in personal_data.export(app_db, tracker_url, "zalo:other")["app"].values()
    )


def test_a_web_conversation_has_no_zalo_records(app_db: Database, tracker_url: str) -> None:
    _seed(app_db, "web-123", days=1, tag="web")

    exported: dict[str, Any] = personal_data.export(app_db, tracker_url, "web-123")["app"]
    assert exported["zalo_messages"] == [] and len(exported["chat_turns"]) == 1
    deleted = personal_data.delete(app_db, tracker_url, "web-123")
    assert "zalo_messages" not in deleted and deleted["chat_turns"] == 1
    assert _counts(app_db)["zalo_messages"] == 1
