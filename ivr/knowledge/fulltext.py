"""The full-text index of the knowledge base, by database.

SQLite: the FTS5 table ``knowledge_fts`` (rowid = the entry's id) holds each entry's title
terms and body terms; :func:`put` replaces an entry's row in the caller's transaction, so the
index never disagrees with the entries. Ranked with ``bm25`` (the title's terms weigh 10, the
body's 1). PostgreSQL: the generated ``tsvector`` column ``search`` (title terms weight A,
body terms B) follows the row by itself; GIN-indexed, ranked with ``ts_rank``.

A query matches an entry holding *any* of its terms (OR), so that 社保卡丢了 still finds
社保卡挂失; the order is: the entry whose title is the query, then the entries holding
*every* term, then by relevance, then the oldest first. Latin letters and digits match as
prefixes (``0471`` finds ``04716969110``), as the operator types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from ivr.db.knowledge_tables import FTS_TABLE, KnowledgeRow

_SQLITE = text(
    f"""
    SELECT e.id, -bm25({FTS_TABLE}, 10.0, 1.0) AS score,
           e.id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :every) AS every,
           e.title = :title AS exact
    FROM {FTS_TABLE} JOIN knowledge_entries e ON e.id = {FTS_TABLE}.rowid
    WHERE {FTS_TABLE} MATCH :any AND e.state IN :states
    ORDER BY exact DESC, every DESC, score DESC, e.id
    LIMIT :limit
    """
).bindparams(bindparam("states", expanding=True))

_POSTGRES = text(
    """
    SELECT e.id, ts_rank(e.search, to_tsquery('simple', :any)) AS score,
           e.search @@ to_tsquery('simple', :every) AS every,
           e.title = :title AS exact
    FROM knowledge_entries e
    WHERE e.search @@ to_tsquery('simple', :any) AND e.state IN :states
    ORDER BY exact DESC, every DESC, score DESC, e.id
    LIMIT :limit
    """
).bindparams(bindparam("states", expanding=True))


@dataclass(frozen=True)
class Found:
    id: int
    score: float
    every: bool


def put(s: Session, row: KnowledgeRow) -> None:
    """Make the index hold ``row``'s terms (after it was added or its terms changed); the
    row is flushed first, so a new one has its id."""
    s.flush()
    if s.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL: the generated column follows the row
    s.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": row.id})
    s.execute(
        text(f"INSERT INTO {FTS_TABLE} (rowid, title_terms, body_terms) VALUES (:id, :t, :b)"),
        {"id": row.id, "t": row.title_terms, "b": row.body_terms},
    )


def clear(s: Session) -> None:
    """Empty the index (before :func:`put` of every entry again)."""
    if s.get_bind().dialect.name == "sqlite":
        s.execute(text(f"DELETE FROM {FTS_TABLE}"))


def _is_prefix(term: str) -> bool:
    return term.isascii()


def _fts5(terms: Sequence[str], op: str) -> str:
    # the terms are Chinese characters or [a-z0-9] only (segment.RUN): safe inside quotes
    return f" {op} ".join(f'"{t}"*' if _is_prefix(t) else f'"{t}"' for t in terms)


def _tsquery(terms: Sequence[str], op: str) -> str:
    return f" {op} ".join(f"'{t}':*" if _is_prefix(t) else f"'{t}'" for t in terms)


def search(
    s: Session, terms: Sequence[str], title: str, states: Sequence[str], limit: int
) -> list[Found]:
    """The entries in ``states`` holding any of ``terms``, best first (see the docstring);
    ``title``: the query as typed, an entry of that title comes first."""
    if not terms:
        return []
    if s.get_bind().dialect.name == "sqlite":
        stmt, any_q, every_q = _SQLITE, _fts5(terms, "OR"), _fts5(terms, "AND")
    else:
        stmt, any_q, every_q = _POSTGRES, _tsquery(terms, "|"), _tsquery(terms, "&")
    params = {"any": any_q, "every": every_q, "title": title, "states": list(states)}
    rows = s.execute(stmt, {**params, "limit": limit}).all()
    return [Found(int(r.id), float(r.score), bool(r.every)) for r in rows]
