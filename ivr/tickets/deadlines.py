"""Deadlines in working days on China's calendar (with 调休 and admin overrides).

The calendar is :class:`ivr.config.calendar.BusinessCalendar`, read from the config
directory's ``hours.yaml`` (its ``overrides`` take precedence over chinese-calendar).
A ticket accepted at ``t`` with ``n`` working days is due ``n`` working days after the day of
``t``, at the same local clock time (Friday 10:00 + 1 → Monday 10:00, or the 调休 Sunday).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from ivr.config.calendar import BusinessCalendar
from ivr.config.models import HoursFile


def calendar_from_config(directory: Path) -> BusinessCalendar:
    """The business calendar of ``directory/hours.yaml`` (defaults when the file is absent)."""
    path = directory / "hours.yaml"
    data = yaml.safe_load(path.read_text("utf-8")) if path.exists() else None
    return BusinessCalendar(HoursFile.model_validate(data or {}))


class Deadlines:
    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar

    def due(self, start: dt.datetime, working_days: int) -> dt.datetime:
        """``working_days`` after ``start`` (aware), as an aware UTC datetime."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        return self.calendar.add_working_days(start, working_days).astimezone(dt.UTC)

    def local_day(self, when: dt.datetime) -> dt.date:
        return self.calendar.local(when).date()

    def working_days_left(self, now: dt.datetime, deadline: dt.datetime) -> int:
        return self.calendar.working_days_between(now, deadline)
