"""quality checks (质检): a supervisor's score of a recorded call, per item of the form

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_uniqueid", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=40), nullable=False),
        sa.Column("call_day", sa.Date(), nullable=False),
        sa.Column("reviewer", sa.String(length=80), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("max_total", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_uniqueid", "reviewer", name="uq_quality_checks_call_reviewer"),
    )
    op.create_index("ix_quality_checks_day_agent", "quality_checks", ["call_day", "agent"])
    op.create_table(
        "quality_scores",
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("max_points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["check_id"], ["quality_checks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("check_id", "item"),
    )


def downgrade() -> None:
    op.drop_table("quality_scores")
    op.drop_table("quality_checks")  # its index goes with it
