"""Working days and business hours.

Working days follow China's official holiday calendar through the ``chinese_calendar``
package, which knows the public holidays *and* the weekend days that become workdays
(调休, e.g. Sunday 2025-09-28 and Saturday 2025-10-11 around National Day 2025).
``hours.yaml`` takes precedence over the package, in this order:

1. ``overrides``: single dates (a local holiday, a day worked), first;
2. ``holidays``: the State Council's yearly notice, entered by hand: each holiday's days off
   (one date or a range ``FIRST..LAST``) and its 调休 working days;
3. the package;
4. Monday to Friday for a year the package does not know.

A year has data (:meth:`BusinessCalendar.covers`) when the package knows it or ``hours.yaml``
lists it in ``years`` (the notice for it is entered in full in ``holidays``). For a year
without data, days count Monday to Friday: check-config and the server's start warn from 60
days before it (HL-CFG-096, :mod:`ivr.config.warn`), and a warning is logged once per year
when a deadline reaches into it.

Times: a naive ``datetime`` is local time in ``hours.timezone``; an aware one is converted to
that zone first.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from zoneinfo import ZoneInfo

import chinese_calendar

from ivr.config.models import TIME_RANGE_RE, HoursFile

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_range(text: str) -> tuple[int, int]:
    """``"08:30-12:00"`` -> minutes since midnight ``(510, 720)``; the end may be ``24:00``."""
    match = TIME_RANGE_RE.match(text)
    if match is None:
        raise ValueError(f"not a time range HH:MM-HH:MM: {text!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return h1 * 60 + m1, h2 * 60 + m2


@functools.cache
def package_covers(year: int) -> bool:
    """Whether the installed chinese-calendar has the holidays of ``year``."""
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


class BusinessCalendar:
    """Workdays (with 调休 and admin overrides) and the open hours of named schedules."""

    def __init__(self, hours: HoursFile) -> None:
        self.hours = hours
        self.tz = ZoneInfo(hours.timezone)
        self._overrides: dict[dt.date, bool] = {o.date: o.workday for o in hours.overrides}
        self._holidays: dict[dt.date, tuple[bool, str]] = {}
        for holiday in hours.holidays:
            for day in holiday.days_off():
                self._holidays[day] = (False, holiday.name)
            for day in holiday.workdays:
                self._holidays[day] = (True, holiday.name)
        self._years = frozenset(hours.years)
        self._warned_years: set[int] = set()
        # chinese-calendar's answer per day, kept: the calendar does not change while this
        # object lives (a reload builds a new one), and deadlines ask for the same days often
        self._official: dict[dt.date, bool] = {}

    # -- data ----------------------------------------------------------------------------

    def covers(self, year: int) -> bool:
        """Whether the calendar has the holiday data of ``year``: chinese-calendar has it,
        or ``hours.yaml`` lists it in ``years``."""
        return year in self._years or package_covers(year)

    def day_rules(self) -> tuple[object, ...]:
        """What decides the working days beyond the package (compare two calendars)."""
        return (
            self.hours.timezone,
            tuple(sorted(self._overrides.items())),
            tuple(sorted((d, w) for d, (w, _) in self._holidays.items())),
            tuple(sorted(self._years)),
        )

    def holiday_name(self, day: dt.date) -> str | None:
        """The name hours.yaml gives ``day`` (a day off or a 调休 working day), if any."""
        entry = self._holidays.get(day)
        return entry[1] if entry else None

    # -- days ----------------------------------------------------------------------------

    def is_workday(self, day: dt.date) -> bool:
        """True when ``day`` is a working day: admin override, else the official calendar
        (holidays off, 调休 weekend days on), else Monday to Friday for unknown years."""
        if isinstance(day, dt.datetime):
            day = self.local(day).date()
        override = self._overrides.get(day)
        if override is not None:
            return override
        holiday = self._holidays.get(day)
        if holiday is not None:
            return holiday[0]
        known = self._official.get(day)
        if known is not None:
            return known
        try:
            known = self._official[day] = bool(chinese_calendar.is_workday(day))
            return known
        except NotImplementedError:
            if day.year not in self._years and day.year not in self._warned_years:
                self._warned_years.add(day.year)
                log.warning(
                    "[HL-CFG-096] no holiday calendar for %d (neither chinese-calendar nor "
                    "hours.yaml years/holidays): counting Monday-Friday; enter the State "
                    "Council's notice in hours.yaml",
                    day.year,
                )
            return day.weekday() < 5

    def local(self, when: dt.datetime) -> dt.datetime:
        """``when`` as local time in the configured zone (naive input is already local)."""
        if when.tzinfo is None:
            return when.replace(tzinfo=self.tz)
        return when.astimezone(self.tz)

    # -- hours ---------------------------------------------------------------------------

    def is_open(self, schedule_name: str, when: dt.datetime) -> bool:
        """Whether schedule ``schedule_name`` is open at ``when``.

        ``days: workdays`` follows :meth:`is_workday`; ``everyday`` is every day; a list of
        weekdays (``[mon, sat]``) is those weekdays regardless of holidays. A range
        ``"08:30-12:00"`` includes 08:30 and excludes 12:00. Raises ``KeyError`` for an
        unknown schedule (validation refuses configs that reference one)."""
        try:
            schedule = self.hours.schedules[schedule_name]
        except KeyError:
            raise KeyError(f"unknown schedule {schedule_name!r}") from None
        local = self.local(when)
        day = local.date()
        if schedule.days == "workdays":
            if not self.is_workday(day):
                return False
        elif schedule.days != "everyday" and WEEKDAYS[day.weekday()] not in schedule.days:
            return False
        minute = local.hour * 60 + local.minute
        for text in schedule.open:
            start, end = parse_range(text)
            if start <= minute < end:
                return True
        return False

    # -- deadlines -----------------------------------------------------------------------

    def add_working_days(self, start: dt.datetime, n: int) -> dt.datetime:
        """The moment ``n`` working days after ``start``, at the same local clock time.

        Days are counted after the start day, so a ticket accepted on Friday 10:00 with
        ``n=1`` is due on the next workday at 10:00 (Monday, or the 调休 Sunday before a
        holiday). A start on a day off counts the same way: Saturday + 1 is Monday. ``n=0``
        returns ``start``. Naive in, naive out; aware in, aware (in the calendar's zone) out.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, not {n}")
        if n == 0:
            return start
        local = self.local(start)
        day = local.date()
        counted = 0
        while counted < n:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        result = dt.datetime.combine(day, local.time(), tzinfo=self.tz)
        if start.tzinfo is None:
            return result.replace(tzinfo=None)
        return result

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in ``(start, end]``: the inverse of :meth:`add_working_days`, so
        ``working_days_between(t, add_working_days(t, n)) == n``. Negative when ``end`` is
        before ``start``. Datetimes are reduced to their local date."""
        if isinstance(start, dt.datetime):
            start = self.local(start).date()
        if isinstance(end, dt.datetime):
            end = self.local(end).date()
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        count = 0
        day = start
        while day < end:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return sign * count
