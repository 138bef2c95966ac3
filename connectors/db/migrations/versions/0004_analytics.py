"""Analytics: citizens' turns (masked), feedback on answers, satisfaction, reports of extra papers.

Revision ID: 0004_analytics
Revises: 0003_zalo_leases
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from connectors.db.models import UtcDateTime

revision = "0004_analytics"
down_revision = "0003_zalo_leases"
branch_labels = None
depends_on = None


def _common() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(160), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "chat_turns",
        *_common(),
        sa.Column("text_masked", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("procedure_code", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("answer_text", sa.Text, nullable=True),
    )
    op.create_table(
        "feedback",
        *_common(),
        sa.Column("rating", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(20), nullable=True),
        sa.Column("comment_masked", sa.Text, nullable=True),
        sa.Column("procedure_code", sa.String(64), nullable=True),
        sa.Column("answer_text", sa.Text, nullable=True),
        sa.Column("question_masked", sa.Text, nullable=True),
    )
    op.create_table(
        "satisfaction",
        *_common(),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("context", sa.String(16), nullable=False),
    )
    op.create_table(
        "extra_paper_reports",
        *_common(),
        sa.Column("reference", sa.String(32), nullable=False, unique=True),
        sa.Column("procedure_code", sa.String(64), nullable=True),
        sa.Column("procedure_name", sa.String(500), nullable=True),
        sa.Column("province", sa.String(120), nullable=True),
        sa.Column("commune", sa.String(160), nullable=True),
        sa.Column("place_text_masked", sa.Text, nullable=True),
        sa.Column("asked_masked", sa.Text, nullable=False),
    )
    indexed = {
        "chat_turns": ["conversation_id", "at", "outcome", "procedure_code"],
        "feedback": ["conversation_id", "at", "procedure_code"],
        "satisfaction": ["conversation_id", "at"],
        "extra_paper_reports": ["conversation_id", "at", "procedure_code", "province"],
    }
    for table, columns in indexed.items():
        for column in columns:
            op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table in ("extra_paper_reports", "satisfaction", "feedback", "chat_turns"):
        op.drop_table(table)
