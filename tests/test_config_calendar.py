"""BusinessCalendar: China's workdays with 调休, admin overrides, open hours and deadlines."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest

from ivr.config.calendar import BusinessCalendar, parse_range
from ivr.config.models import HoursFile, Override, Schedule

D = dt.date
T = dt.datetime


def calendar(*overrides: Override, **schedules: Schedule) -> BusinessCalendar:
    if not schedules:
        schedules = {
            "office": Schedule(days="workdays", open=["08:30-12:00", "13:30-17:30"]),
            "weekend": Schedule(days=["sat", "sun"], open=["09:00-16:00"]),
            "always": Schedule(days="everyday", open=["00:00-24:00"]),
        }
    return BusinessCalendar(HoursFile(schedules=schedules, overrides=list(overrides)))


# -- workdays ----------------------------------------------------------------------------


def test_national_day_2025_with_make_up_days() -> None:
    cal = calendar()
    assert cal.is_workday(D(2025, 9, 26))  # Friday
    assert not cal.is_workday(D(2025, 9, 27))  # Saturday
    assert cal.is_workday(D(2025, 9, 28))  # Sunday, 调休 workday
    for day in range(1, 9):
        assert not cal.is_workday(D(2025, 10, day)), day  # National Day + Mid-Autumn
    assert cal.is_workday(D(2025, 10, 9))  # Thursday
    assert cal.is_workday(D(2025, 10, 11))  # Saturday, 调休 workday
    assert not cal.is_workday(D(2025, 10, 12))  # Sunday


def test_override_wins_both_ways() -> None:
    cal = calendar(
        Override(date=D(2025, 10, 9), workday=False, note="local holiday"),
        Override(date=D(2025, 10, 4), workday=True, note="emergency duty"),
    )
    assert not cal.is_workday(D(2025, 10, 9))
    assert cal.is_workday(D(2025, 10, 4))
    assert cal.is_workday(D(2025, 10, 10))


def test_year_outside_package_data_falls_back_to_weekdays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cal = calendar(Override(date=D(2099, 1, 1), workday=False))
    with caplog.at_level(logging.WARNING, logger="ivr.config.calendar"):
        assert cal.is_workday(D(2099, 1, 2))  # Friday
        assert not cal.is_workday(D(2099, 1, 3))  # Saturday
        assert cal.is_workday(D(2099, 1, 5))  # Monday
    assert not cal.is_workday(D(2099, 1, 1))  # Thursday, but overridden
    assert not cal.is_workday(D(1999, 1, 2))  # Saturday, before the data too
    warnings = [r for r in caplog.records if "2099" in r.getMessage()]
    assert len(warnings) == 1  # warned once per year


def test_is_workday_accepts_datetime_in_local_zone() -> None:
    cal = calendar()
    # 2025-09-30 17:00 UTC is 2025-10-01 01:00 in Shanghai: a holiday.
    assert not cal.is_workday(T(2025, 9, 30, 17, 0, tzinfo=dt.UTC))
    assert cal.is_workday(T(2025, 9, 30, 15, 0, tzinfo=dt.UTC))


# -- open hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (T(2025, 9, 26, 8, 29), False),
        (T(2025, 9, 26, 8, 30), True),
        (T(2025, 9, 26, 11, 59), True),
        (T(2025, 9, 26, 12, 0), False),  # the end is excluded
        (T(2025, 9, 26, 13, 30), True),
        (T(2025, 9, 26, 17, 30), False),
        (T(2025, 9, 27, 10, 0), False),  # Saturday
        (T(2025, 9, 28, 10, 0), True),  # 调休 Sunday
        (T(2025, 10, 3, 10, 0), False),  # National Day
        (T(2025, 10, 11, 15, 0), True),  # 调休 Saturday
    ],
)
def test_office_hours(when: dt.datetime, expected: bool) -> None:
    assert calendar().is_open("office", when) is expected


def test_weekday_list_ignores_holidays() -> None:
    cal = calendar()
    assert cal.is_open("weekend", T(2025, 10, 4, 10, 0))  # Saturday in the holiday
    assert not cal.is_open("weekend", T(2025, 10, 6, 10, 0))  # Monday
    assert not cal.is_open("weekend", T(2025, 10, 4, 16, 0))


def test_everyday_until_midnight() -> None:
    cal = calendar()
    assert cal.is_open("always", T(2025, 10, 1, 0, 0))
    assert cal.is_open("always", T(2025, 10, 1, 23, 59))


def test_aware_time_is_converted_to_local_zone() -> None:
    cal = calendar()
    # 01:00 UTC on Friday 2025-09-26 is 09:00 in Shanghai: open.
    assert cal.is_open("office", T(2025, 9, 26, 1, 0, tzinfo=dt.UTC))
    # 09:00 UTC is 17:00 local: open; 10:00 UTC is 18:00 local: closed.
    assert cal.is_open("office", T(2025, 9, 26, 9, 0, tzinfo=dt.UTC))
    assert not cal.is_open("office", T(2025, 9, 26, 10, 0, tzinfo=dt.UTC))


def test_other_timezone() -> None:
    hours = HoursFile(
        timezone="Europe/Berlin",
        schedules={"office": Schedule(days="everyday", open=["09:00-17:00"])},
    )
    cal = BusinessCalendar(hours)
    assert cal.is_open("office", T(2025, 7, 1, 7, 30, tzinfo=dt.UTC))  # 09:30 CEST
    assert not cal.is_open("office", T(2025, 7, 1, 15, 30, tzinfo=dt.UTC))  # 17:30 CEST


def test_unknown_schedule() -> None:
    with pytest.raises(KeyError, match="nope"):
        calendar().is_open("nope", T(2025, 9, 26, 9, 0))


def test_parse_range() -> None:
    assert parse_range("08:30-12:00") == (510, 720)
    assert parse_range("00:00-24:00") == (0, 1440)
    with pytest.raises(ValueError, match="HH:MM"):
        parse_range("8:30-12:00")


# -- deadlines ---------------------------------------------------------------------------


def test_add_working_days_across_national_day() -> None:
    cal = calendar()
    start = T(2025, 9, 26, 10, 15)  # Friday
    assert cal.add_working_days(start, 1) == T(2025, 9, 28, 10, 15)  # 调休 Sunday
    assert cal.add_working_days(start, 2) == T(2025, 9, 29, 10, 15)
    assert cal.add_working_days(start, 3) == T(2025, 9, 30, 10, 15)
    assert cal.add_working_days(start, 4) == T(2025, 10, 9, 10, 15)  # after Oct 1-8
    assert cal.add_working_days(start, 5) == T(2025, 10, 10, 10, 15)
    assert cal.add_working_days(start, 6) == T(2025, 10, 11, 10, 15)  # 调休 Saturday
    assert cal.add_working_days(start, 7) == T(2025, 10, 13, 10, 15)


def test_add_working_days_from_a_holiday() -> None:
    cal = calendar()
    assert cal.add_working_days(T(2025, 10, 3, 20, 0), 1) == T(2025, 10, 9, 20, 0)
    assert cal.add_working_days(T(2025, 10, 3, 20, 0), 0) == T(2025, 10, 3, 20, 0)
    with pytest.raises(ValueError):
        cal.add_working_days(T(2025, 10, 3, 20, 0), -1)


def test_add_working_days_with_override() -> None:
    cal = calendar(Override(date=D(2025, 10, 9), workday=False))
    assert cal.add_working_days(T(2025, 9, 30, 9, 0), 1) == T(2025, 10, 10, 9, 0)


def test_add_working_days_aware_keeps_local_clock() -> None:
    cal = calendar()
    shanghai = ZoneInfo("Asia/Shanghai")
    start = T(2025, 9, 30, 2, 0, tzinfo=dt.UTC)  # 10:00 local, Tuesday
    due = cal.add_working_days(start, 1)
    assert due == T(2025, 10, 9, 10, 0, tzinfo=shanghai)
    assert due.tzinfo is not None and due.utcoffset() == dt.timedelta(hours=8)


def test_working_days_between() -> None:
    cal = calendar()
    assert cal.working_days_between(D(2025, 9, 26), D(2025, 10, 13)) == 7
    assert cal.working_days_between(D(2025, 10, 13), D(2025, 9, 26)) == -7
    assert cal.working_days_between(D(2025, 10, 1), D(2025, 10, 8)) == 0
    assert cal.working_days_between(D(2025, 10, 1), D(2025, 10, 1)) == 0
    assert cal.working_days_between(T(2025, 9, 26, 23, 0), T(2025, 9, 28, 1, 0)) == 1


@pytest.mark.parametrize("n", range(0, 12))
def test_working_days_between_inverts_add(n: int) -> None:
    cal = calendar()
    start = T(2025, 9, 24, 16, 45)
    assert cal.working_days_between(start, cal.add_working_days(start, n)) == n
