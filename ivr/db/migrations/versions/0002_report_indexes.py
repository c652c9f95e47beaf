"""report indexes: one covering index for the ticket counts, partial indexes for the flags
and satisfaction, queue_log by (event, day, wait)

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FLAGGED = "overdue OR was_overdue OR supervised"
RATED = "satisfaction IS NOT NULL"


def upgrade() -> None:
    op.drop_index("ix_tickets_day", table_name="tickets")
    op.create_index(
        "ix_tickets_report",
        "tickets",
        ["accepted_day", "department", "category_top", "type", "state"],
    )
    op.create_index(
        "ix_tickets_flags",
        "tickets",
        ["accepted_day", "state", "overdue", "was_overdue", "supervised"],
        sqlite_where=sa.text(FLAGGED),
        postgresql_where=sa.text(FLAGGED),
    )
    op.create_index(
        "ix_tickets_satisfaction",
        "tickets",
        ["accepted_day", "satisfaction"],
        sqlite_where=sa.text(RATED),
        postgresql_where=sa.text(RATED),
    )
    op.drop_index("ix_queue_log_day_event", table_name="queue_log")
    op.create_index("ix_queue_log_event_day", "queue_log", ["event", "day", "wait"])


def downgrade() -> None:
    op.drop_index("ix_queue_log_event_day", table_name="queue_log")
    op.create_index("ix_queue_log_day_event", "queue_log", ["day", "event"])
    op.drop_index("ix_tickets_satisfaction", table_name="tickets")
    op.drop_index("ix_tickets_flags", table_name="tickets")
    op.drop_index("ix_tickets_report", table_name="tickets")
    op.create_index("ix_tickets_day", "tickets", ["accepted_day"])
