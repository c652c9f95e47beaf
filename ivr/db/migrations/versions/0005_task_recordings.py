"""callback tasks carry the voice message's recording (留言 tasks) and a note saying where
the task came from (a promised callback, a call that left the queue unanswered)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("callback_tasks", sa.Column("recording", sa.String(length=255), nullable=True))
    op.add_column(
        "callback_tasks",
        sa.Column("note", sa.String(length=255), server_default=sa.text("''"), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("callback_tasks") as batch:
        batch.drop_column("note")
        batch.drop_column("recording")
