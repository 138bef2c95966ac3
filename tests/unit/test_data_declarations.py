"""Every table of the app's database says what the retention and a citizen's export / erase do with
its rows (``connectors/db/models.py``): a new table cannot be forgotten by either."""

from __future__ import annotations

import sqlalchemy as sa

from connectors import personal_data, retention
from connectors.db.models import (
    PERSONAL_DATA,
    RETENTION,
    Base,
    ByConversation,
    Kept,
    PurgedByAge,
    WithParent,
    undeclared,
)


def test_every_table_of_the_app_declares_its_retention_and_personal_data() -> None:
    assert Base.metadata.sorted_tables
    assert undeclared(Base.metadata) == []


def test_a_table_without_a_declaration_is_reported() -> None:
    metadata = sa.MetaData()
    sa.Table(
        "notes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String),
    )
    sa.Table(
        "kept", metadata, sa.Column("id", sa.Integer, primary_key=True),
        info={RETENTION: Kept("settings"), PERSONAL_DATA: Kept("no citizen data")},
    )  # fmt: skip

    assert undeclared(metadata) == ["notes: no retention declaration", "notes: no personal_data declaration"]


def test_a_declaration_that_cannot_be_applied_is_reported() -> None:
    metadata = sa.MetaData()
    sa.Table(
        "parents", metadata, sa.Column("id", sa.Integer, primary_key=True),
        info={RETENTION: Kept("kept"), PERSONAL_DATA: ByConversation("conversation_id")},
    )  # fmt: skip
    sa.Table(
        "children", metadata, sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.ForeignKey("parents.id")), sa.Column("at", sa.DateTime),
        info={RETENTION: WithParent("parent_id"), PERSONAL_DATA: WithParent("at")},
    )  # fmt: skip

    assert undeclared(metadata) == [
        "parents: personal_data names no column 'conversation_id'",
        "children: retention parent is not PurgedByAge",
        "children: personal_data column 'at' is not one foreign key",
    ]


def test_the_purge_and_the_export_read_their_tables_from_the_declarations() -> None:
    assert {table.name: policy.column for table, policy in retention.TIMED_TABLES} == {
        "chat_turns": "at", "feedback": "at", "satisfaction": "at", "extra_paper_reports": "at",
        "conversation_messages": "created_at", "audit_log": "at", "handoffs": "updated_at",
        "zalo_messages": "received_at",
    }  # fmt: skip
    assert [(table.name, parent.table.name) for table, _, parent in retention.CHILD_TABLES] == [
        ("assignments", "handoffs")
    ]
    assert {table.name for table, _ in personal_data.CONVERSATION_TABLES} == {
        "chat_turns", "feedback", "satisfaction", "extra_paper_reports", "conversation_messages", "handoffs",
        "audit_log", "zalo_messages",
    }  # fmt: skip
    assert [(table.name, parent.table.name) for table, _, parent in personal_data.CHILD_TABLES] == [
        ("assignments", "handoffs")
    ]
    kept = {table.name for table in Base.metadata.sorted_tables if isinstance(table.info[RETENTION], Kept)}
    assert kept == {"volunteers", "console_sessions", "zalo_tokens"}
    assert all(isinstance(policy, PurgedByAge) for _, policy in retention.TIMED_TABLES)
