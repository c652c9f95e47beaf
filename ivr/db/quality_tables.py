"""The rows of the quality checks (质检, :mod:`ivr.quality`), on the metadata of
:mod:`ivr.db.base` with the other tables; Alembic's env imports this module with the others.

- ``quality_checks``: one supervisor's score of one recorded call (one row per call and
  reviewer: a re-score replaces it), the operator (agent id) who answered it, the call's local
  day (``call_day``, copied from ``call_records.day``: reports group on it), the total, the
  form's most points and whether it passed the form's pass mark (None: the form has none);
- ``quality_scores``: the points of each item of the form in that check, with the item's name
  and most points as the form had them then (a later form does not change an old score).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ivr.db.base import Base, UTCDateTime


class QualityCheckRow(Base):
    __tablename__ = "quality_checks"
    __table_args__ = (
        UniqueConstraint("call_uniqueid", "reviewer", name="uq_quality_checks_call_reviewer"),
        Index("ix_quality_checks_day_agent", "call_day", "agent"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_uniqueid: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str] = mapped_column(String(40))
    call_day: Mapped[dt.date] = mapped_column(Date)
    reviewer: Mapped[str] = mapped_column(String(80))
    scored_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    total: Mapped[int] = mapped_column(Integer)
    max_total: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text)


class QualityScoreRow(Base):
    __tablename__ = "quality_scores"

    check_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("quality_checks.id", ondelete="CASCADE"), primary_key=True
    )
    item: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(40))
    points: Mapped[int] = mapped_column(Integer)
    max_points: Mapped[int] = mapped_column(Integer)
