"""every attempt (AGI session) of a call kept in call_attempts; call_records is their merge,
with the number of attempts and who hung up

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_attempts",
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uniqueid", "attempt"),
    )
    op.add_column("call_records", sa.Column("hangup_by", sa.String(length=10), nullable=True))
    op.add_column(
        "call_records",
        sa.Column("attempts", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("attempts")
        batch.drop_column("hangup_by")
    op.drop_table("call_attempts")
