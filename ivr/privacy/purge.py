"""The retention purge: what ``config/privacy.yaml`` ``retention`` says has expired is deleted,
in batches (:mod:`ivr.privacy.purge_rows`), and the run is written to the audit log (action
``retention.purge``, the counts per kind) by the actor who ran it: ``cli:<os user>`` for
``hotline purge``, ``system:purge`` for the daily run of ``hotline serve``.

Every delete is idempotent (a row or file already gone is simply not counted), so two runs at
once would do no harm; the daily run still takes a Redis key so that one server a day does it
(:mod:`ivr.privacy.daily`). A dry run reads the same batches and counts what would go,
deleting nothing and writing no audit row."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ivr.accounts.audit import write_audit
from ivr.config.privacy_models import Retention
from ivr.db.database import Database
from ivr.privacy.purge_rows import calls_batch, recordings_batch, tickets_batch

log = logging.getLogger(__name__)

ACTION = "retention.purge"
SYSTEM_ACTOR = "system:purge"
PURGED = "HL-PRV-010"

#: the counts a run reports, in this order (kinds, then what hung on them)
KINDS: tuple[str, ...] = (
    "recordings",
    "recording_rows",
    "recordings_missing",
    "recordings_failed",
    "call_records",
    "call_attempts",
    "queue_log",
    "callback_tasks",
    "quality_checks",
    "tickets",
    "ticket_events",
)

Batch = Callable[[Session, int], tuple[int | None, Counter[str]]]


def _text(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


@dataclass(frozen=True)
class Cutoffs:
    """What has expired at one moment: calls of a (local) day before ``recordings_day`` /
    ``calls_day``; closed tickets finished before ``tickets_before``. None: kept for ever."""

    recordings_day: dt.date | None
    calls_day: dt.date | None
    tickets_before: dt.datetime | None

    @classmethod
    def of(cls, retention: Retention, now: dt.datetime, timezone: str) -> Cutoffs:
        today = now.astimezone(ZoneInfo(timezone)).date()

        def day(days: int | None) -> dt.date | None:
            return None if days is None else today - dt.timedelta(days=days)

        return cls(
            recordings_day=day(retention.recordings_days),
            calls_day=day(retention.call_records_days),
            tickets_before=None
            if retention.tickets_days is None
            else now - dt.timedelta(days=retention.tickets_days),
        )

    def as_dict(self) -> dict[str, str | None]:
        tickets = self.tickets_before
        return {
            "recordings_before_day": _text(self.recordings_day),
            "calls_before_day": _text(self.calls_day),
            "tickets_closed_before": None if tickets is None else tickets.isoformat("T", "seconds"),
        }


@dataclass
class PurgeReport:
    """What a run deleted (or, dry, would delete)."""

    cutoffs: Cutoffs
    dry_run: bool
    counts: Counter[str] = field(default_factory=Counter)
    batches: int = 0

    def figures(self) -> dict[str, int]:
        return {kind: self.counts[kind] for kind in KINDS}

    def describe(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        shown = ", ".join(f"{k} {v}" for k, v in self.figures().items() if v)
        return f"retention purge {verb}: {shown or 'nothing'} ({self.batches} batch(es))"


class Purger:
    """The purge of one database and recordings root."""

    def __init__(
        self,
        db: Database,
        recordings_dir: Path,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.db = db
        self.root = recordings_dir
        self._now = now

    def run(
        self, retention: Retention, timezone: str, actor: str, *, dry_run: bool = False
    ) -> PurgeReport:
        """Delete what has expired (nothing when ``dry_run``), batch by batch, then write
        one audit row with the counts. Database errors propagate (a run stopped halfway
        has deleted whole batches only; the next run goes on)."""
        now = self._now()
        cut = Cutoffs.of(retention, now, timezone)
        report = PurgeReport(cut, dry_run)
        size, root = retention.batch_size, self.root
        steps: list[Batch] = []
        if cut.recordings_day is not None:
            rec_day = cut.recordings_day
            steps.append(lambda s, after: recordings_batch(s, root, rec_day, after, size, dry_run))
        if cut.calls_day is not None:
            calls_day = cut.calls_day
            steps.append(lambda s, after: calls_batch(s, root, calls_day, after, size, dry_run))
        if cut.tickets_before is not None:
            before = cut.tickets_before
            steps.append(lambda s, after: tickets_batch(s, before, after, size, dry_run))
        for step in steps:
            self._pages(step, report)
        if not dry_run:
            self._audit(actor, retention, report, now)
        level = logging.WARNING if report.counts["recordings_failed"] else logging.INFO
        log.log(level, "[%s] %s", PURGED, report.describe())
        return report

    def _pages(self, step: Batch, report: PurgeReport) -> None:
        after = 0
        while True:
            with self.db.session() as s:  # one short transaction per batch
                last, counts = step(s, after)
            if last is None:
                return
            report.batches += 1
            report.counts.update(counts)
            after = last

    def _audit(
        self, actor: str, retention: Retention, report: PurgeReport, now: dt.datetime
    ) -> None:
        before: dict[str, Any] = {
            "recordings_days": retention.recordings_days,
            "call_records_days": retention.call_records_days,
            "tickets_days": retention.tickets_days,
            **report.cutoffs.as_dict(),
        }
        with self.db.session() as s:
            write_audit(s, actor, ACTION, "retention", before, report.figures(), "", now)
