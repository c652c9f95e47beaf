"""The bodies of ``/api/quality`` (:mod:`ivr.web.quality_routes`): the form, the calls to
score with their checks, a score, the figures per operator. Times are ISO 8601 in UTC (the page
shows them in the centre's zone); days are the centre's local days."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ivr.config.quality import QualityForm
from ivr.quality import CallToCheck, Check, OperatorQuality

#: where the browser plays a call's recording (the recordings route, with its own role
#: checks and audit of every playback)
RECORDING_URL = "/api/calls/{uniqueid}/recording"

ItemCode = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class QualityItemOut(BaseModel):
    code: str
    name: str
    max: int
    description: str


class QualityFormOut(BaseModel):
    items: list[QualityItemOut]
    pass_mark: int | None
    max_total: int


class ItemScoreOut(BaseModel):
    item: str
    name: str
    points: int
    max: int


class QualityCheckOut(BaseModel):
    uniqueid: str
    agent: str
    call_day: str
    reviewer: str
    scored_at: str
    total: int
    max_total: int
    passed: bool | None = Field(description="None: the form has no pass mark")
    comment: str
    scores: list[ItemScoreOut]


class QualityCallOut(BaseModel):
    uniqueid: str
    started_at: str
    day: str
    agent: str
    duration: float | None
    line_name: str | None
    skill: str | None
    recording_url: str
    checks: list[QualityCheckOut]


class QualityCallsOut(BaseModel):
    calls: list[QualityCallOut]


class QualityChecksOut(BaseModel):
    uniqueid: str
    checks: list[QualityCheckOut]


class QualityScoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uniqueid: str = Field(min_length=1, max_length=64, description="the call's uniqueid")
    scores: dict[ItemCode, int] = Field(
        max_length=40, description="every item of the form: its code -> points 0..max"
    )
    comment: str = Field("", max_length=1000)


class ItemMeanOut(BaseModel):
    item: str
    name: str
    mean: float
    max: int


class OperatorQualityOut(BaseModel):
    agent: str
    name: str
    checks: int
    mean_total: float
    mean_max_total: float
    passed: int
    failed: int
    items: list[ItemMeanOut]


class QualityOperatorsOut(BaseModel):
    day_from: str
    day_to: str
    operators: list[OperatorQualityOut]


QUALITY_MODELS: tuple[type[BaseModel], ...] = (
    QualityFormOut,
    QualityItemOut,
    QualityCallsOut,
    QualityCallOut,
    QualityChecksOut,
    QualityCheckOut,
    ItemScoreOut,
    QualityScoreBody,
    QualityOperatorsOut,
    OperatorQualityOut,
    ItemMeanOut,
)


def form_out(form: QualityForm) -> QualityFormOut:
    return QualityFormOut(
        items=[
            QualityItemOut(code=i.code, name=i.name, max=i.max, description=i.description)
            for i in form.items
        ],
        pass_mark=form.pass_mark,
        max_total=form.max_total,
    )


def check_out(check: Check) -> QualityCheckOut:
    return QualityCheckOut(
        uniqueid=check.uniqueid,
        agent=check.agent,
        call_day=check.call_day.isoformat(),
        reviewer=check.reviewer,
        scored_at=check.scored_at.isoformat(),
        total=check.total,
        max_total=check.max_total,
        passed=check.passed,
        comment=check.comment,
        scores=[
            ItemScoreOut(item=s.item, name=s.name, points=s.points, max=s.max) for s in check.scores
        ],
    )


def call_out(call: CallToCheck) -> QualityCallOut:
    return QualityCallOut(
        uniqueid=call.uniqueid,
        started_at=call.started_at.isoformat(),
        day=call.day.isoformat(),
        agent=call.agent,
        duration=call.duration,
        line_name=call.line_name,
        skill=call.skill,
        recording_url=RECORDING_URL.format(uniqueid=call.uniqueid),
        checks=[check_out(c) for c in call.checks],
    )


def operator_out(o: OperatorQuality) -> OperatorQualityOut:
    return OperatorQualityOut(
        agent=o.agent,
        name=o.name,
        checks=o.checks,
        mean_total=round(o.mean_total, 2),
        mean_max_total=round(o.mean_max_total, 2),
        passed=o.passed,
        failed=o.failed,
        items=[
            ItemMeanOut(item=i.item, name=i.name, mean=round(i.mean, 2), max=i.max) for i in o.items
        ],
    )
