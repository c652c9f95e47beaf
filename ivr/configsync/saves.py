"""The admin console's saves as rows of ``config_saves`` (:mod:`ivr.db.config_tables`): the
record every server reads. Synchronous: the follower calls it in a worker thread."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select

from ivr.db.config_tables import ConfigSaveRow
from ivr.db.database import Database


@dataclass(frozen=True)
class SharedSave:
    """One accepted save of an admin file, as the server that took it recorded it."""

    id: int
    name: str
    version: str
    text: str
    server: str
    saved_at: dt.datetime


class SaveRecord:
    """The saves in ``db``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self, name: str, text: str, version: str, previous: str, server: str, by: str | None
    ) -> int:
        """Record an accepted save; its id (the order saves were taken in)."""
        row = ConfigSaveRow(
            name=name,
            version=version,
            previous=previous,
            text=text,
            server=server[:120],
            saved_by=by[:80] if by else None,
            saved_at=dt.datetime.now(dt.UTC),
        )
        with self.db.session() as session:
            session.add(row)
            session.flush()
            return int(row.id)

    def newest(self, applied: Mapping[str, int]) -> list[SharedSave]:
        """The newest save of each file, where it is not the one ``applied`` names for that
        file (newer, or, after the database was restored or replaced, another one), in the
        order they were taken."""
        last = select(ConfigSaveRow.name, func.max(ConfigSaveRow.id)).group_by(ConfigSaveRow.name)
        with self.db.session() as session:
            wanted = [i for name, i in session.execute(last).all() if i != applied.get(name)]
            if not wanted:
                return []
            rows = session.scalars(
                select(ConfigSaveRow).where(ConfigSaveRow.id.in_(wanted)).order_by(ConfigSaveRow.id)
            ).all()
            return [SharedSave(r.id, r.name, r.version, r.text, r.server, r.saved_at) for r in rows]

    def last_id(self) -> int:
        with self.db.session() as session:
            return int(session.scalar(select(func.max(ConfigSaveRow.id))) or 0)
