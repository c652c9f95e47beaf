"""ticket numbers reserved for a call when it is put through to an operator (HOTLINE_TICKET)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_reservations",
        sa.Column("call_uniqueid", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("reserved_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("call_uniqueid"),
        sa.UniqueConstraint("number"),
    )


def downgrade() -> None:
    op.drop_table("ticket_reservations")
