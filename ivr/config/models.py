"""Pydantic models of the admin files. Unknown keys are refused everywhere (``extra=forbid``).

Files (all under one config directory):

- ``menu.yaml``: settings, prompts, emergency lines and menu nodes;
- ``lines.yaml``: the hotline number and the legacy department numbers merged into it;
- ``departments.yaml``: departments with their queue skill and business hours;
- ``hours.yaml``: business-hour schedules, holidays (ranges and 调休 working days) and
  single-date overrides (on top of chinese-calendar);
- ``accessibility.yaml``: callers (elderly, disabled) who skip the menu and get priority.

Structural checks live here; checks across nodes and files live in :mod:`ivr.config.validate`.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

NodeId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Skill = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
DtmfKey = Annotated[str, StringConstraints(pattern=r"^[0-9*#]{1,3}$")]
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{3,20}$")]
# An Asterisk dial string as app_dial takes it: TECH/resource, several joined by '&'.
DIAL_STRING_RE = re.compile(
    r"^(?:PJSIP|SIP|IAX2|DAHDI|Local|Console|Motif|UNISTIM|Skinny|MGCP|OOH323|WebSocket)"
    r"/[^\s,&|()]+(?:&(?:PJSIP|SIP|IAX2|DAHDI|Local|Console|Motif|UNISTIM|Skinny|MGCP|OOH323)"
    r"/[^\s,&|()]+)*$"
)
TIME_RANGE_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


# ----------------------------------------------------------------------------- menu.yaml


class MenuSettings(Strict):
    """Defaults for every menu node. The defaults follow the national rule: silence or
    repeated mistakes reach a person, and the menu never hangs up."""

    timeout: float = Field(5.0, gt=0, le=60, description="seconds to wait for a key")
    inter_digit_timeout: float = Field(2.0, gt=0, le=10)
    max_no_input: int = Field(1, ge=0, le=5, description="silences tolerated, then a person")
    max_invalid: int = Field(2, ge=0, le=5, description="wrong keys tolerated, then a person")
    operator_key: DtmfKey = "0"
    emergency_key: DtmfKey | None = "*9"
    entry: NodeId = "main"
    fallback: NodeId = Field("operator", description="node for silence and repeated mistakes")
    emergency: NodeId = "emergency"
    invalid_prompt: str = "invalid"
    notice: list[str] = Field(
        default_factory=lambda: ["call_recorded"],
        description="prompts every caller hears to the end before an operator is connected "
        "(after a line's announcement); keep them short",
    )
    default_skill: Skill = "general"
    default_priority: int = Field(0, ge=0, le=100)


class Prompt(Strict):
    text: str | None = Field(None, description="Mandarin text, spoken by espeak-ng if no file")
    file: str | None = Field(None, description="audio file, relative to the config directory")


class _Node(Strict):
    prompt: list[str] = Field(default_factory=list)


class MenuNode(_Node):
    type: Literal["menu"]
    options: dict[DtmfKey, NodeId]
    reprompt: list[str] | None = Field(
        None, description="prompts played on a retry; None: the whole prompt again"
    )
    timeout: float | None = Field(None, gt=0, le=60)
    max_no_input: int | None = Field(None, ge=0, le=5)
    max_invalid: int | None = Field(None, ge=0, le=5)
    on_no_input: NodeId | None = None
    on_invalid: NodeId | None = None


class PlayNode(_Node):
    type: Literal["play"]
    next: NodeId


class QueueNode(_Node):
    type: Literal["queue"]
    skill: Skill | None = Field(None, description="None: the line's skill, else default_skill")
    priority: int | None = Field(None, ge=0, le=100)


class LookupNode(_Node):
    type: Literal["lookup"]
    max_digits: int = Field(20, ge=1, le=40)
    next: NodeId


class MessageNode(_Node):
    type: Literal["message"]
    max_seconds: float = Field(120, gt=0, le=600)
    silence_seconds: float = Field(5, ge=0, le=60)
    next: NodeId


class TransferNode(_Node):
    type: Literal["transfer"]
    dial: str | None = Field(None, description="dial string; or name an emergency line")
    emergency: str | None = Field(None, description="key of menu.yaml emergency_lines")
    ring_timeout: float = Field(30, gt=0, le=300)
    on_fail: NodeId | None = Field(None, description="None: the fallback node (a person)")


class HoursNode(_Node):
    type: Literal["hours"]
    department: str
    open: NodeId
    closed: NodeId


Node = Annotated[
    MenuNode | PlayNode | QueueNode | LookupNode | MessageNode | TransferNode | HoursNode,
    Field(discriminator="type"),
]


class MenuFile(Strict):
    settings: MenuSettings = Field(default_factory=lambda: MenuSettings())
    prompts: dict[str, Prompt]
    emergency_lines: dict[str, str] = Field(
        default_factory=dict, description="110/119/120/122 -> dial string"
    )
    nodes: dict[NodeId, Node]


# ----------------------------------------------------------------------------- lines.yaml


class LineMode(StrEnum):
    MERGED = "merged"  # the old number is cancelled: announce the move, then serve the caller
    PARALLEL = "parallel"  # the department's own seat group answers inside the platform
    SUBCENTRE = "subcentre"  # transfer to the department's sub-centre number


class Hotline(Strict):
    number: PhoneNumber = "12345"
    name: str
    area_code: Annotated[str, StringConstraints(pattern=r"^0[0-9]{2,3}$")] | None = None
    aliases: list[PhoneNumber] = Field(default_factory=list)


class Line(Strict):
    number: PhoneNumber
    aliases: list[PhoneNumber] = Field(default_factory=list)
    name: str
    department: str
    mode: LineMode
    skill: Skill | None = Field(None, description="None: the department's skill")
    entry: NodeId | None = Field(None, description="menu node that skips the general menu")
    announcement: str | None = Field(None, description="prompt; merged lines default line_moved")
    transfer: str | None = Field(None, description="dial string, required for subcentre")


class LinesFile(Strict):
    hotline: Hotline
    lines: list[Line]


# ----------------------------------------------------------------------------- departments.yaml


class Department(Strict):
    name: str
    skill: Skill
    hours: str | None = Field(None, description="schedule in hours.yaml; None: always open")
    phone: str | None = None


class DepartmentsFile(Strict):
    departments: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")], Department]


# ----------------------------------------------------------------------------- hours.yaml

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Schedule(Strict):
    days: Literal["workdays", "everyday"] | list[Weekday] = "workdays"
    open: list[Annotated[str, StringConstraints(pattern=TIME_RANGE_RE.pattern)]]


class Override(Strict):
    date: dt.date
    workday: bool
    note: str = ""


#: The longest holiday range taken (a typo such as 2027-02-05..2028-02-11 is refused).
MAX_HOLIDAY_DAYS = 31
_SPAN_RE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")


def _date_span(value: object) -> object:
    """``2027-02-05..2027-02-11`` (both days included) or one date -> ``(first, last)``."""
    if isinstance(value, dt.datetime):
        raise ValueError("expected a date, not a time")
    if isinstance(value, dt.date):
        return (value, value)
    if not isinstance(value, str):
        return value  # pydantic names the wrong type
    match = _SPAN_RE.match(value)
    try:
        if match is None:
            first = last = dt.date.fromisoformat(value.strip())
        else:
            first, last = (dt.date.fromisoformat(g) for g in match.groups())
    except ValueError:
        raise ValueError(
            "expected a date or a range FIRST..LAST, e.g. 2027-02-05..2027-02-11"
        ) from None
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    if (last - first).days >= MAX_HOLIDAY_DAYS:
        raise ValueError(f"a holiday of more than {MAX_HOLIDAY_DAYS} days: check the years")
    return (first, last)


DateSpan = Annotated[tuple[dt.date, dt.date], BeforeValidator(_date_span)]


def _weekend(day: dt.date) -> dt.date:
    if day.weekday() < 5:
        raise ValueError(f"{day} is a weekday: 调休 working days are Saturdays and Sundays")
    return day


WeekendDay = Annotated[dt.date, AfterValidator(_weekend)]


class Holiday(Strict):
    """One holiday of the State Council's yearly notice: its days off and its 调休 working
    days (weekend days worked instead), e.g. 春节 ``2027-02-05..2027-02-11``."""

    name: Annotated[str, StringConstraints(min_length=1)]
    dates: DateSpan = Field(description="days off: one date or FIRST..LAST (both included)")
    workdays: list[WeekendDay] = Field(
        default_factory=list, description="调休: Saturdays/Sundays that are working days"
    )

    def days_off(self) -> list[dt.date]:
        first, last = self.dates
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


class HoursFile(Strict):
    timezone: str = "Asia/Shanghai"
    schedules: dict[str, Schedule] = Field(default_factory=dict)
    overrides: list[Override] = Field(default_factory=list)
    holidays: list[Holiday] = Field(default_factory=list)
    #: years whose holiday notice is entered in full in ``holidays`` (the calendar has data
    #: for them even when chinese-calendar does not); validated after ``holidays``
    years: list[Annotated[int, Field(ge=2000, le=2100)]] = Field(default_factory=list)

    @field_validator("holidays")
    @classmethod
    def _no_conflict(cls, holidays: list[Holiday]) -> list[Holiday]:
        off: dict[dt.date, str] = {}
        for holiday in holidays:
            for day in holiday.days_off():
                off.setdefault(day, holiday.name)
        for holiday in holidays:
            for day in holiday.workdays:
                if day in off:
                    raise ValueError(
                        f"{day} is a working day of {holiday.name} and a day off of {off[day]}"
                    )
        return holidays

    @field_validator("years")
    @classmethod
    def _years_entered(cls, years: list[int], info: ValidationInfo) -> list[int]:
        entered = {d.year for h in info.data.get("holidays", []) for d in h.dates}
        missing = sorted(set(years) - entered)
        if missing:
            raise ValueError(
                f"no holidays entered for {', '.join(map(str, missing))}: enter the State "
                "Council's notice in holidays first"
            )
        return years


# ----------------------------------------------------------------------------- accessibility.yaml


class AccessibleCaller(Strict):
    number: PhoneNumber
    group: Literal["elderly", "disabled", "other"] = "other"
    note: str = ""


class AccessibilityFile(Strict):
    priority: int = Field(50, ge=0, le=100)
    skill: Skill | None = Field(None, description="None: the line's skill")
    callers: list[AccessibleCaller] = Field(default_factory=list)
