"""A pushed message keeps its buttons: the satisfaction question after a hand-back has them.

Revision ID: 0006_message_buttons
Revises: 0005_analytics_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_message_buttons"
down_revision = "0005_analytics_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_messages") as batch:
        batch.add_column(sa.Column("buttons", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversation_messages") as batch:
        batch.drop_column("buttons")
