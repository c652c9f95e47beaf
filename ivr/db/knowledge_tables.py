"""The rows of the knowledge base (常用提示, :mod:`ivr.knowledge`), on the metadata of
:mod:`ivr.db.base` with the other tables (:mod:`ivr.db.tables`); Alembic's env imports both.

``knowledge_entries``: one row per entry (a common answer, or a department's phone number),
its state in the propose/approve flow, and ``title_terms`` / ``body_terms``: the entry's
search terms (jieba words and character pairs, space-joined, :mod:`ivr.knowledge.segment`).

The full-text index over those terms is not a table of the models, since it differs by
database (migration 0007 makes it):

- SQLite: the FTS5 virtual table ``knowledge_fts`` (``tokenize='unicode61'``, rowid = the
  entry's id) and the shadow tables FTS5 keeps for it (``knowledge_fts_data`` ...);
- PostgreSQL: the generated ``tsvector`` column ``knowledge_entries.search`` and its GIN
  index ``ix_knowledge_entries_search``.

Alembic's ``include_name`` :func:`modelled` leaves them out, so that comparing the models
with a migrated database finds nothing; the backup's "does this database hold data" question skips
the FTS5 tables by :func:`is_search_index_table`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ivr.db.base import Base, UTCDateTime

#: the SQLite FTS5 table (its shadow tables are named after it: ``knowledge_fts_data`` ...)
FTS_TABLE = "knowledge_fts"
#: PostgreSQL: the generated tsvector column and its GIN index
SEARCH_COLUMN = "search"
SEARCH_INDEX = "ix_knowledge_entries_search"


class KnowledgeRow(Base):
    """An entry of the knowledge base. ``kind``: answer | phone; ``state``: proposed |
    approved | rejected | retired; ``version`` counts the edits (1 when proposed)."""

    __tablename__ = "knowledge_entries"
    __table_args__ = (Index("ix_knowledge_entries_state", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))
    department: Mapped[str | None] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(40))
    tags: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10))
    proposed_by: Mapped[str] = mapped_column(String(80))
    proposed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    title_terms: Mapped[str] = mapped_column(Text)
    body_terms: Mapped[str] = mapped_column(Text)


def is_search_index_table(name: str) -> bool:
    """The SQLite FTS5 table or one of its shadow tables."""
    return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")


def modelled(name: str | None, type_: str, parent_names: Mapping[Any, Any]) -> bool:
    """Alembic's ``include_name``: False for the search index, which the models leave out."""
    if name is None:
        return True
    if type_ == "table":
        return not is_search_index_table(name)
    if type_ == "column" and parent_names.get("table_name") == KnowledgeRow.__tablename__:
        return name != SEARCH_COLUMN
    if type_ == "index":
        return name != SEARCH_INDEX
    return True
