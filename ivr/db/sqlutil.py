"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_STATEMENTS: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def _insert_ignore_stmt(dialect: str, table: Table, conflict: Sequence[str]) -> Any:
    """Built once per (dialect, table, conflict): building statements costs more than
    running them for a single row."""
    key = (dialect, table.name, tuple(conflict))
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        if dialect == "postgresql":
            stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict)
        elif dialect == "sqlite":
            stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict)
        else:  # pragma: no cover - only the two are supported
            raise NotImplementedError(f"database {dialect} is not supported")
        _STATEMENTS[key] = stmt
    return stmt


def insert_ignore(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict: Sequence[str],
    *,
    count: bool = True,
) -> int:
    """``INSERT ... ON CONFLICT (conflict) DO NOTHING``. For a single row (with ``count``),
    returns 1 if it was inserted and 0 if it existed; otherwise -1."""
    if not rows:
        return 0
    stmt = _insert_ignore_stmt(session.get_bind().dialect.name, table, conflict)
    if count and len(rows) == 1:  # count through RETURNING: rowcount is not reliable
        stmt = stmt.returning(table.c[conflict[0]])
        return len(session.execute(stmt, dict(rows[0])).all())
    session.execute(stmt, list(rows) if len(rows) > 1 else dict(rows[0]))
    return -1
