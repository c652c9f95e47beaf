"""ticket channels: the source's own id and received time of a forwarded item (taken once per
source and id), and the outbox of SMS and replies to upper-level platforms

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("external_id", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("received_at", sa.DateTime(), nullable=True))
        batch.create_unique_constraint("uq_tickets_source_external", ["source", "external_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("ticket_number", sa.String(length=20), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=120), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "key", name="uq_outbox_kind_key"),
    )
    op.create_index("ix_outbox_due", "outbox", ["state", "next_at"])
    op.create_index("ix_outbox_ticket", "outbox", ["ticket_number"])


def downgrade() -> None:
    op.drop_table("outbox")  # its indexes go with it
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("uq_tickets_source_external", type_="unique")
        batch.drop_column("received_at")
        batch.drop_column("external_id")
