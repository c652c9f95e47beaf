"""Pydantic models of the admin files. Unknown keys are refused everywhere (``extra=forbid``).

Files (all under one config directory):

- ``menu.yaml``: settings, prompts, emergency lines and menu nodes;
- ``lines.yaml``: the hotline number and the legacy department numbers merged into it;
- ``departments.yaml``: departments with their queue skill and business hours;
- ``hours.yaml``: business-hour schedules and holiday overrides (on top of chinese-calendar);
- ``accessibility.yaml``: callers (elderly, disabled) who skip the menu and get priority.

Structural checks live here; checks across nodes and files live in :mod:`ivr.config.validate`.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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


class Settings(Strict):
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
    settings: Settings = Field(default_factory=lambda: Settings())
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


class HoursFile(Strict):
    timezone: str = "Asia/Shanghai"
    schedules: dict[str, Schedule] = Field(default_factory=dict)
    overrides: list[Override] = Field(default_factory=list)


# ----------------------------------------------------------------------------- accessibility.yaml


class AccessibleCaller(Strict):
    number: PhoneNumber
    group: Literal["elderly", "disabled", "other"] = "other"
    note: str = ""


class AccessibilityFile(Strict):
    priority: int = Field(50, ge=0, le=100)
    skill: Skill | None = Field(None, description="None: the line's skill")
    callers: list[AccessibleCaller] = Field(default_factory=list)
