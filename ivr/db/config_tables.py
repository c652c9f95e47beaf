"""The admin console's saves (:mod:`ivr.configsync`), on the metadata of :mod:`ivr.db.base`
with the other tables; Alembic's env imports this module with the others.

``config_saves``: one row per accepted save (or rollback) of an admin file, in the order
taken (``id``): the file's name as in the config directory, its whole text and version (the
sha256 of its bytes), the version it replaced, the server that took it and when. Every hotline
server takes from here the saves newer than the ones it applied, so a save on one server runs
on all of them; the rows are kept (the history of what ran)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ivr.db.base import Base, UTCDateTime


class ConfigSaveRow(Base):
    __tablename__ = "config_saves"
    __table_args__ = (Index("ix_config_saves_name_id", "name", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))  # menu.yaml, tickets/catalogue.yaml ...
    version: Mapped[str] = mapped_column(String(64))  # sha256 of the saved bytes
    previous: Mapped[str] = mapped_column(String(64))  # the version it replaced there
    text: Mapped[str] = mapped_column(Text)
    server: Mapped[str] = mapped_column(String(120))  # the server that took the save
    saved_by: Mapped[str | None] = mapped_column(String(80))
    saved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
