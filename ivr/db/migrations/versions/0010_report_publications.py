"""report publications: a report's narrative sections, drafted by the system and edited by a
supervisor, and the report as published (kept); the report's indexes for the channels other
than the phone (tickets by source and day) and the calls of a special topic's line (calls by
skill and day)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("suggestions", sa.Text(), nullable=False),
        sa.Column("solved", sa.Text(), nullable=False),
        sa.Column("drafted_at", sa.DateTime(), nullable=False),
        sa.Column("edited_by", sa.String(length=80), nullable=True),
        sa.Column("edited_at", sa.DateTime(), nullable=True),
        sa.Column("published_by", sa.String(length=80), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("markdown", sa.Text(), nullable=True),
        sa.Column("html", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "label", name="uq_report_publications_period"),
    )
    op.create_index("ix_tickets_source_day", "tickets", ["source", "accepted_day"])
    op.create_index("ix_call_records_skill_day", "call_records", ["skill", "day", "uniqueid"])


def downgrade() -> None:
    op.drop_index("ix_call_records_skill_day", table_name="call_records")
    op.drop_index("ix_tickets_source_day", table_name="tickets")
    op.drop_table("report_publications")
