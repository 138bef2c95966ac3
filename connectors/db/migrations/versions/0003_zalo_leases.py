"""Zalo messages carry a lease: the replica answering one holds it, and only a message whose lease ran
out (its replica died) is taken over by another.

Revision ID: 0003_zalo_leases
Revises: 0002_zalo_state
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_zalo_leases"
down_revision = "0002_zalo_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("zalo_messages") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("zalo_messages") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
