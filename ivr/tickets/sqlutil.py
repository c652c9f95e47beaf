"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignore(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], conflict: Sequence[str]
) -> int:
    """``INSERT ... ON CONFLICT (conflict) DO NOTHING``. For a single row, returns 1 if it
    was inserted and 0 if it existed; for several rows (executemany), -1."""
    if not rows:
        return 0
    name = session.get_bind().dialect.name
    if name == "postgresql":
        stmt: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict)
    elif name == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict)
    else:  # pragma: no cover - only the two are supported
        raise NotImplementedError(f"database {name} is not supported")
    if len(rows) == 1:  # count through RETURNING: rowcount is not reliable on every driver
        stmt = stmt.returning(table.c[conflict[0]])
        return len(session.execute(stmt, dict(rows[0])).all())
    session.execute(stmt, list(rows))
    return -1
