"""The published reports (:mod:`ivr.reports.publications`), on the metadata of
:mod:`ivr.db.base` with the other tables; Alembic's env imports this module with the others.

``report_publications``: one row per report (kind ``day`` | ``week`` | ``month`` and its
label ``2020-02``): the narrative sections (突出问题, 意见和建议, 解决较好的问题) as the system
drafted them and as a supervisor edited them, who edited and published it and when, and, once
published, the report as it was then (Markdown and self-contained HTML, the charts inside):
the published version is kept as published; later figures do not change it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ivr.db.base import Base, UTCDateTime


class ReportPublicationRow(Base):
    __tablename__ = "report_publications"
    __table_args__ = (UniqueConstraint("kind", "label", name="uq_report_publications_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(12))  # draft | published
    problems: Mapped[str] = mapped_column(Text)  # 突出问题
    suggestions: Mapped[str] = mapped_column(Text)  # 意见和建议
    solved: Mapped[str] = mapped_column(Text)  # 解决较好的问题
    drafted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    edited_by: Mapped[str | None] = mapped_column(String(80))
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    published_by: Mapped[str | None] = mapped_column(String(80))
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    markdown: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
