"""Analytics: one covering index for every query over the chat turns of a window (benchmarks/analytics.py:
the window's rows are read from the index alone, not from the table with its texts).

Revision ID: 0005_analytics_indexes
Revises: 0004_analytics
"""

from __future__ import annotations

from alembic import op

revision = "0005_analytics_indexes"
down_revision = "0004_analytics"
branch_labels = None
depends_on = None

COLUMNS = ["at", "channel", "outcome", "conversation_id", "procedure_code", "confidence"]


def upgrade() -> None:
    op.create_index("ix_chat_turns_window", "chat_turns", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_chat_turns_window", table_name="chat_turns")
