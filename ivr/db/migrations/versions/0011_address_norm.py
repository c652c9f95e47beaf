"""tickets.address_norm: the address as compared for 并单 (the same address in the same
category within days), written with the address, and its index; the tickets there already
get theirs here

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# the normalisation as it was when this revision was written (ivr/db/addresses.py): a
# migration keeps its own copy, so that it means the same thing whatever the code becomes
_SPACES = " \u3000\u00a0\t\n\r"
_FOLD: dict[int, int | None] = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FOLD.update({ord(c): None for c in _SPACES})
_BATCH = 5000


def _normalise(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text.translate(_FOLD))[:255]


def upgrade() -> None:
    # a plain ALTER TABLE on both databases: SQLite adds a column in place (a batch would
    # copy the table, and dropping the old one trips the foreign keys of a filled database)
    op.add_column(
        "tickets",
        sa.Column(
            "address_norm", sa.String(length=255), nullable=False, server_default=sa.text("''")
        ),
    )
    bind = op.get_bind()
    tickets = sa.table(
        "tickets", sa.column("id", sa.Integer), sa.column("address", sa.String),
        sa.column("address_norm", sa.String),
    )  # fmt: skip
    last = 0
    while True:
        rows = bind.execute(
            sa.select(tickets.c.id, tickets.c.address)
            .where(tickets.c.id > last, tickets.c.address != "")
            .order_by(tickets.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            tickets.update()
            .where(tickets.c.id == sa.bindparam("b_id"))
            .values(address_norm=sa.bindparam("b_norm")),
            [{"b_id": r.id, "b_norm": _normalise(r.address)} for r in rows],
        )
        last = rows[-1].id
    op.create_index(
        "ix_tickets_address_norm", "tickets", ["address_norm", "category", "accepted_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_address_norm", table_name="tickets")
    op.drop_column("tickets", "address_norm")  # SQLite 3.35 and later drop a column in place
