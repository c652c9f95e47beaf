"""config saves: the admin console's accepted saves of the admin files, text and version, so
that every hotline server runs them (docs/scale-out.md, several hotline servers)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_saves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("previous", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("server", sa.String(length=120), nullable=False),
        sa.Column("saved_by", sa.String(length=80), nullable=True),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_config_saves_name_id", "config_saves", ["name", "id"])


def downgrade() -> None:
    op.drop_index("ix_config_saves_name_id", table_name="config_saves")
    op.drop_table("config_saves")
