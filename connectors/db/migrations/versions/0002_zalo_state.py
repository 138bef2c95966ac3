"""The Zalo channel's state (message ids with their answers, tokens) in the app's database.

Revision ID: 0002_zalo_state
Revises: 0001_console
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_zalo_state"
down_revision = "0001_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zalo_messages",
        sa.Column("msg_id", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("parts_sent", sa.Integer, nullable=False, server_default="0"),
        sa.Column("answered_at", sa.Float, nullable=True),
        sa.Column("given_up_at", sa.Float, nullable=True),
    )
    op.create_index("ix_zalo_messages_received_at", "zalo_messages", ["received_at"])
    op.create_table(
        "zalo_tokens",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("zalo_tokens")
    op.drop_table("zalo_messages")
