"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2025-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "call_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("caller", sa.String(length=40), nullable=False),
        sa.Column("caller_name", sa.String(length=80), nullable=False),
        sa.Column("dialled", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=120), nullable=False),
        sa.Column("config_version", sa.String(length=80), nullable=False),
        sa.Column("line_number", sa.String(length=40), nullable=True),
        sa.Column("line_name", sa.String(length=120), nullable=True),
        sa.Column("line_mode", sa.String(length=20), nullable=True),
        sa.Column("department", sa.String(length=80), nullable=True),
        sa.Column("accessible", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("outcome_detail", sa.Text(), nullable=False),
        sa.Column("hangup_cause", sa.String(length=80), nullable=False),
        sa.Column("hangup_node", sa.String(length=80), nullable=True),
        sa.Column("skill", sa.String(length=40), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("queue_position", sa.Integer(), nullable=True),
        sa.Column("queue_wait", sa.Float(), nullable=True),
        sa.Column("agent", sa.String(length=40), nullable=True),
        sa.Column("recording", sa.String(length=255), nullable=True),
        sa.Column("survey_score", sa.Integer(), nullable=True),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("digits", sa.String(length=200), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uniqueid"),
    )
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_records_caller"), ["caller"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_records_day"), ["day"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_records_outcome"), ["outcome"], unique=False)

    op.create_table(
        "queue_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("callid", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("agent", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("data1", sa.String(length=255), nullable=False),
        sa.Column("data2", sa.String(length=255), nullable=False),
        sa.Column("data3", sa.String(length=255), nullable=False),
        sa.Column("data4", sa.String(length=255), nullable=False),
        sa.Column("data5", sa.String(length=255), nullable=False),
        sa.Column("wait", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("queue_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queue_log_callid"), ["callid"], unique=False)
        batch_op.create_index("ix_queue_log_day_event", ["day", "event"], unique=False)

    op.create_table(
        "ticket_counters",
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("call_uniqueid", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_day", sa.Date(), nullable=False),
        sa.Column("accepted_by", sa.String(length=40), nullable=False),
        sa.Column("caller", sa.String(length=40), nullable=False),
        sa.Column("caller_name", sa.String(length=80), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("dialled", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=120), nullable=False),
        sa.Column("category_top", sa.String(length=40), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("urgency", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("deadline", sa.DateTime(), nullable=False),
        sa.Column("extension_requested", sa.Integer(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("survey_score", sa.Integer(), nullable=True),
        sa.Column("solved", sa.Boolean(), nullable=True),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.Column("due_soon", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("was_overdue", sa.Boolean(), nullable=False),
        sa.Column("supervised", sa.Boolean(), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("extensions", sa.Integer(), nullable=False),
        sa.Column("redos", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_uniqueid"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_caller_category", ["caller", "category"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_category_top"), ["category_top"], unique=False)
        batch_op.create_index("ix_tickets_day", ["accepted_day"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_department"), ["department"], unique=False)
        batch_op.create_index("ix_tickets_state_deadline", ["state", "deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_type"), ["type"], unique=False)

    op.create_table(
        "callback_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("call_uniqueid", sa.String(length=64), nullable=True),
        sa.Column("caller", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "ref"),
    )
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_callback_state", ["state"], unique=False)

    op.create_table(
        "supervisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "reason"),
    )
    with op.batch_alter_table("supervisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supervisions_day"), ["day"], unique=False)

    op.create_table(
        "ticket_calls",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("call_uniqueid", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("ticket_id", "call_uniqueid"),
    )
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_events_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_events_ticket_id"))

    op.drop_table("ticket_events")
    op.drop_table("ticket_calls")
    with op.batch_alter_table("supervisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervisions_day"))

    op.drop_table("supervisions")
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_state")

    op.drop_table("callback_tasks")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_type"))
        batch_op.drop_index("ix_tickets_state_deadline")
        batch_op.drop_index(batch_op.f("ix_tickets_department"))
        batch_op.drop_index("ix_tickets_day")
        batch_op.drop_index(batch_op.f("ix_tickets_category_top"))
        batch_op.drop_index("ix_tickets_caller_category")

    op.drop_table("tickets")
    op.drop_table("ticket_counters")
    with op.batch_alter_table("queue_log", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_log_day_event")
        batch_op.drop_index(batch_op.f("ix_queue_log_callid"))

    op.drop_table("queue_log")
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_records_outcome"))
        batch_op.drop_index(batch_op.f("ix_call_records_day"))
        batch_op.drop_index(batch_op.f("ix_call_records_caller"))

    op.drop_table("call_records")
