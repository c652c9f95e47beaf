"""the knowledge base (常用提示): entries with their search terms, and the full-text index
over the terms (SQLite: an FTS5 table; PostgreSQL: a generated tsvector column, GIN-indexed)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# SQLite: one token per search term (the terms are space-joined, pre-lowercased words and
# character pairs); rowid = knowledge_entries.id, kept in step by the store.
FTS = (
    "CREATE VIRTUAL TABLE knowledge_fts USING fts5("
    "title_terms, body_terms, tokenize='unicode61 remove_diacritics 0')"
)
# PostgreSQL: the title's terms weigh A, the body's B ('simple': no stemming, no stop words)
TSVECTOR = (
    "ALTER TABLE knowledge_entries ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple', title_terms), 'A') || "
    "setweight(to_tsvector('simple', body_terms), 'B')) STORED"
)


def upgrade() -> None:
    op.create_table(
        "knowledge_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("department", sa.String(length=40), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("proposed_by", sa.String(length=80), nullable=False),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("title_terms", sa.Text(), nullable=False),
        sa.Column("body_terms", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_knowledge_entries_state", "knowledge_entries", ["state"])
    if op.get_context().dialect.name == "sqlite":
        op.execute(FTS)
    else:
        op.execute(TSVECTOR)
        op.execute(
            "CREATE INDEX ix_knowledge_entries_search ON knowledge_entries USING gin (search)"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TABLE knowledge_fts")  # its shadow tables go with it
    op.drop_table("knowledge_entries")  # its indexes (and PostgreSQL's column) go with it
