"""Publishing a report: the system drafts the narrative sections (:mod:`.narrative`), a
supervisor edits and saves them, then publishes; the published report (Markdown and HTML
with its charts inside) is kept in ``report_publications`` as it was (migration 0010) and no
longer changes. Every save and the publication are audited in their own transaction
(``report.save``, ``report.publish``, target ``report:month/2020-02``).

Refusals (``HL-RPT-nnn``, docs/errors.md, with their HTTP status): a published report is not
edited or published again (409 ``HL-RPT-001``); a report is published only after its narrative
was edited and saved (409 ``HL-RPT-002``); a report not published has no published version
(404 ``HL-RPT-003``)."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.accounts.audit import write_audit
from ivr.accounts.identity import Principal
from ivr.config.catalogue import Catalogue
from ivr.db.database import Database
from ivr.db.publication_tables import ReportPublicationRow
from ivr.errors import HotlineError
from ivr.reports.build import build_report
from ivr.reports.charts import charts
from ivr.reports.figures import Period
from ivr.reports.narrative import Narrative, draft
from ivr.reports.render import html_text, markdown


class ReportRefused(HotlineError):
    code = "HL-RPT-001"
    status = 409


class AlreadyPublished(ReportRefused):
    """The report is published: its narrative is kept as published."""

    code = "HL-RPT-001"


class NotEdited(ReportRefused):
    """Publishing before a supervisor saved the narrative."""

    code = "HL-RPT-002"


class NotPublished(ReportRefused):
    """No published version of that report."""

    code = "HL-RPT-003"
    status = 404


@dataclass(frozen=True)
class Publication:
    kind: str
    label: str
    state: str  # new (the system's draft, not saved) | draft (saved) | published
    narrative: Narrative
    drafted_at: dt.datetime | None = None
    edited_by: str | None = None
    edited_at: dt.datetime | None = None
    published_by: str | None = None
    published_at: dt.datetime | None = None


def _of(row: ReportPublicationRow) -> Publication:
    return Publication(
        row.kind,
        row.label,
        row.state,
        Narrative(row.problems, row.suggestions, row.solved),
        row.drafted_at,
        row.edited_by,
        row.edited_at,
        row.published_by,
        row.published_at,
    )


def _brief(row: ReportPublicationRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "state": row.state,
        "problems": row.problems,
        "suggestions": row.suggestions,
        "solved": row.solved,
    }


Actor = Principal | str


def _name(actor: Actor) -> str:
    return actor.username if isinstance(actor, Principal) else actor


class Publications:
    """The narratives and published reports of ``db``, drafted from its tickets."""

    def __init__(
        self,
        db: Database,
        catalogue: Catalogue,
        tz: dt.tzinfo,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.db, self.catalogue, self.tz, self.clock = db, catalogue, tz, clock

    def _row(self, s: Session, period: Period) -> ReportPublicationRow | None:
        t = ReportPublicationRow
        return s.scalars(select(t).where(t.kind == period.kind, t.label == period.label)).first()

    def get(self, period: Period) -> Publication:
        """The saved narrative, or the system's draft when none was saved yet."""
        with self.db.session() as s:
            row = self._row(s, period)
            if row is not None:
                return _of(row)
        narrative = draft(self.db, self.catalogue, period, self.tz)
        return Publication(period.kind, period.label, "new", narrative, self.clock())

    def saved(self, period: Period) -> Narrative | None:
        """The narrative saved (or published) for ``period``, if any."""
        with self.db.session() as s:
            row = self._row(s, period)
            return None if row is None else _of(row).narrative

    def recent(self, limit: int = 24) -> list[Publication]:
        """The saved and published reports, the latest edited first."""
        t = ReportPublicationRow
        with self.db.session() as s:
            rows = s.scalars(select(t).order_by(t.edited_at.desc(), t.id.desc()).limit(limit))
            return [_of(r) for r in rows]

    def save(self, period: Period, narrative: Narrative, actor: Actor, address: str) -> Publication:
        """Save the supervisor's edit of the narrative (a draft until published)."""
        now = self.clock()
        with self.db.session() as s:
            row = self._row(s, period)
            before = _brief(row)
            if row is not None and row.state == "published":
                raise AlreadyPublished(
                    f"the {period.kind} report {period.label} is published; "
                    "its narrative is kept as published"
                )
            if row is None:
                row = ReportPublicationRow(
                    kind=period.kind, label=period.label, state="draft", drafted_at=now
                )
                s.add(row)
            row.problems, row.suggestions, row.solved = (
                narrative.problems,
                narrative.suggestions,
                narrative.solved,
            )
            row.edited_by, row.edited_at = _name(actor), now
            target = f"report:{period.kind}/{period.label}"
            write_audit(s, actor, "report.save", target, before, _brief(row), address, now)
            s.flush()
            return _of(row)

    def publish(self, period: Period, actor: Actor, address: str) -> Publication:
        """Make the report now with the saved narrative and keep it as published."""
        with self.db.session() as s:
            row = self._row(s, period)
            if row is None:
                raise NotEdited(
                    f"the {period.kind} report {period.label} has no saved narrative: "
                    "edit the draft and save it before publishing"
                )
            if row.state == "published":
                raise AlreadyPublished(
                    f"the {period.kind} report {period.label} was published "
                    f"by {row.published_by}; it is kept as published"
                )
            narrative = _of(row).narrative
        text, page = self.render(period, narrative)
        now = self.clock()
        with self.db.session() as s:
            row = self._row(s, period)
            assert row is not None
            if row.state == "published":  # published meanwhile by someone else
                raise AlreadyPublished(f"the {period.kind} report {period.label} is published")
            before = _brief(row)
            row.state, row.published_by, row.published_at = "published", _name(actor), now
            row.markdown, row.html = text, page
            target = f"report:{period.kind}/{period.label}"
            write_audit(s, actor, "report.publish", target, before, _brief(row), address, now)
            s.flush()
            return _of(row)

    def render(self, period: Period, narrative: Narrative) -> tuple[str, str]:
        """The report as it is now with ``narrative``: Markdown, and HTML with its charts
        inside (a page that stands alone)."""
        report = build_report(self.db, self.catalogue, period, now=self.clock(), tz=self.tz)
        with tempfile.TemporaryDirectory(prefix="hotline-report-") as folder:
            images = charts(report, Path(folder), f"report-{period.label}")
            page = html_text(report, images, narrative=narrative, inline=True)
        return markdown(report, narrative), page

    def published(self, period: Period) -> tuple[str, str]:
        """The published Markdown and HTML, as they were published."""
        with self.db.session() as s:
            row = self._row(s, period)
            if row is None or row.state != "published" or row.html is None:
                raise NotPublished(f"the {period.kind} report {period.label} is not published")
            return row.markdown or "", row.html
