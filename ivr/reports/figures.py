"""What a report is: its period (a day, an ISO week, a month in the centre's zone), its
figures (tickets, queue, tasks, by category and department) and the counting constants."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TypeVar
from zoneinfo import ZoneInfo

from ivr.db.tables import (
    FLAGGED,
)
from ivr.hotspots import HotReport
from ivr.quality import OperatorQuality
from ivr.reports.detail import TicketLine
from ivr.tickets.errors import BadTicketInput

ANSWER_TARGET_SECONDS = 15
#: ``hours.yaml``'s default zone: a report built without one is in Beijing time
CENTRE_ZONE = "Asia/Shanghai"
# the partial index's condition, word for word, so that SQLite uses ``ix_tickets_flags``
FLAGGED_SQL = f"({FLAGGED})"
T = TypeVar("T")


@dataclass(frozen=True)
class Period:
    kind: str  # day | week | month
    label: str  # 2020-02-09 | 2020-W07 | 2020-02
    start: dt.date
    end: dt.date  # exclusive

    @property
    def title(self) -> str:
        if self.kind == "month":
            return f"{self.start.year}年{self.start.month}月份"
        if self.kind == "week":
            last = self.end - dt.timedelta(days=1)
            return f"{self.start:%Y年%m月%d日}至{last:%m月%d日}（{self.label}）"
        return f"{self.start:%Y年%m月%d日}"


def parse_period(
    *, day: str | None = None, week: str | None = None, month: str | None = None
) -> Period:
    """``--day 2020-02-09``, ``--week 2020-W07`` (ISO week) or ``--month 2020-02``."""
    try:
        if day:
            d = dt.date.fromisoformat(day)
            return Period("day", d.isoformat(), d, d + dt.timedelta(days=1))
        if week:
            m = re.fullmatch(r"(\d{4})-?W(\d{1,2})", week.strip(), re.IGNORECASE)
            if m is None:
                raise ValueError(week)
            start = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return Period("week", f"{m[1]}-W{int(m[2]):02d}", start, start + dt.timedelta(days=7))
        if month:
            m = re.fullmatch(r"(\d{4})-(\d{1,2})", month.strip())
            if m is None:
                raise ValueError(month)
            start = dt.date(int(m[1]), int(m[2]), 1)
            end = dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
            return Period("month", f"{start:%Y-%m}", start, end)
    except ValueError:
        pass
    else:
        raise BadTicketInput("give one of --day YYYY-MM-DD, --week YYYY-Www, --month YYYY-MM")
    raise BadTicketInput(
        f"cannot read the period {day or week or month!r}: "
        "write --day 2020-02-09, --week 2020-W07 or --month 2020-02"
    )


@dataclass
class QueueFigures:
    offered: int = 0
    answered: int = 0
    answered_in_target: int = 0
    average_wait: float | None = None
    abandoned: int = 0
    timed_out: int = 0
    self_service: int = 0  # placed at answer, then chose self-service in the menu
    pbx_lost: int = 0  # offered, then its Asterisk box went away (PBXLOST): not abandoned

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.offered if self.offered else None

    @property
    def in_target_rate(self) -> float | None:
        """Answered within 15 s over *answered* calls (shown second, labelled so)."""
        return self.answered_in_target / self.answered if self.answered else None

    @property
    def in_target_of_offered(self) -> float | None:
        """Answered within 15 s over *offered* calls: the national rule's figure, first."""
        return self.answered_in_target / self.offered if self.offered else None


#: a table's cell: a count, a rate or share in per cent, a word, or no figure
Cell = str | int | float | None


@dataclass(frozen=True)
class Table:
    """One table of a report (:mod:`ivr.reports.report_tables`)."""

    key: str  # ASCII, names the table's CSV file: report-2020-02-departments.csv
    title: str
    header: list[str]
    rows: list[list[Cell]]


#: the task kinds a report counts, in its order
TASK_KINDS = (("message", "留言"), ("missed", "漏接回拨"))


@dataclass(frozen=True)
class TaskFigures:
    kind: str
    name: str
    created: int
    done: int


@dataclass(frozen=True)
class SourceFigures:
    """Items that came in by one channel other than the phone (an upper-level platform's
    forwarded items, the web page), counted under the source's report ``group``."""

    group: str
    code: str
    name: str
    items: int
    finished: int

    @property
    def in_progress(self) -> int:
        return self.items - self.finished


@dataclass
class Report:
    period: Period
    generated_at: dt.datetime
    calls: int = 0
    accepted: int = 0
    finished: int = 0
    by_type: list[tuple[str, str, int]] = field(default_factory=list)
    special: list[tuple[str, str, int, list[tuple[str, str, int]]]] = field(default_factory=list)
    other_accepted: int = 0
    by_category: list[tuple[str, str, int, float]] = field(default_factory=list)
    departments: list[tuple[str, str, int, int]] = field(default_factory=list)
    overdue_open: int = 0
    finished_late: int = 0
    supervised: int = 0
    supervised_by_reason: dict[str, int] = field(default_factory=dict)
    # number, department, category, state, deadline (UTC; shown in ``tz``)
    supervised_list: list[tuple[str, str, str, str, dt.datetime]] = field(default_factory=list)
    satisfaction: list[tuple[int, str, int]] = field(default_factory=list)
    queue: QueueFigures = field(default_factory=QueueFigures)
    daily: list[tuple[dt.date, int, int]] = field(default_factory=list)
    tasks: list[TaskFigures] = field(default_factory=list)
    tickets: list[TicketLine] = field(default_factory=list)  # day reports: the day's tickets
    quality: list[OperatorQuality] = field(default_factory=list)  # 质检, per operator
    hotspots: HotReport | None = None  # day reports: 热点诉求 (ivr.reports.hot_section)
    tz: dt.tzinfo = field(default_factory=lambda: ZoneInfo(CENTRE_ZONE))  # the centre's zone
    # the first section: items per channel other than the phone, in the catalogue's order
    sources: list[SourceFigures] = field(default_factory=list)
    topic_calls: dict[str, int] = field(default_factory=dict)  # special topic -> calls
    direct: tuple[int, int] = (0, 0)  # tickets answered without a department: all, finished
    covered: tuple[dt.date, dt.date] | None = None  # first and last day with calls or tickets
    receiver: str = ""  # who receives the forwarded items: 市长公开电话办公室

    @property
    def other_calls(self) -> int:
        """Calls outside the special topics (其他问题电话)."""
        return self.calls - sum(self.topic_calls.values())

    @property
    def in_progress(self) -> int:
        return self.accepted - self.finished

    @property
    def finish_rate(self) -> float | None:
        return self.finished / self.accepted if self.accepted else None

    @property
    def visited(self) -> int:
        return sum(n for _, _, n in self.satisfaction)

    @property
    def satisfaction_rate(self) -> float | None:
        """Share of 非常满意, 满意 and 基本满意 among the callbacks that gave a level."""
        good = sum(n for level, _, n in self.satisfaction if level >= 3)
        return good / self.visited if self.visited else None
