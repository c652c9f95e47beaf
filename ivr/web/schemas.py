"""The JSON bodies of the HTTP API (pydantic models): what :mod:`ivr.web.app` reads and
writes, and what :mod:`ivr.web.openapi` documents. Both import this module; neither imports
the other.

Times: a field a person reads is ISO 8601 in the centre's zone with its offset
(``2026-12-04T07:40:00+08:00``; the zone is ``queue.yaml`` ``settings.timezone``, Beijing
time by default); a field for programs to compute with is epoch seconds (``since``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from queueing.model import AgentState


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ready: bool = Field(False, description="ready for calls at once (else paused 'login')")
    phone: Literal["desk", "browser"] = Field(
        "desk",
        description="which phone the queue rings: the desk phone (agents.yaml interface) or "
        "the desk's browser phone (agents.yaml webrtc, PJSIP/<username>)",
    )


class PauseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("pause", min_length=1, max_length=40)


class LogoutBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("logout", min_length=1, max_length=40)


class AgentOut(BaseModel):
    id: str
    name: str
    interface: str
    skills: dict[str, int]
    state: str = Field(description="offline, paused, ready, reserved, busy, wrapup")
    reason: str
    since: float = Field(description="epoch seconds of the last state change (for programs)")
    since_time: str | None = Field(
        description="the last state change, ISO 8601 in the centre's zone with its offset "
        "(2026-12-04T07:40:00+08:00); null if the agent never changed state"
    )
    call: str = Field(description="uniqueid of the caller offered or connected")
    pending: str = Field(description="pause or logout, to happen when the call ends")


class ErrorOut(BaseModel):
    error_id: str = Field(description="stable error id, e.g. HL-QUE-002 (docs/errors.md)")
    message: str = Field(description="what happened and what to do, one line")
    details: dict[str, Any] | None = Field(description="more, for programs (fields, limits)")


class LoginForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class MeOut(BaseModel):
    username: str
    role: str = Field(description="operator, supervisor, department or admin")
    agent_id: str | None = Field(description="an operator's agent id in agents.yaml")
    department: str | None = Field(description="a department account's department")
    via: str = Field(description="session (the cookie) or token (Authorization: Bearer)")
    csrf_token: str | None = Field(
        description="send it as the X-CSRF-Token header on every POST of this session"
    )


class HealthOut(BaseModel):
    status: str = Field(description="ok, or degraded when a part is unreachable (HTTP 503)")
    redis: bool
    database: bool


def local_iso(tz: dt.tzinfo, epoch: float) -> str:
    """Epoch seconds as ISO 8601 in ``tz`` with its offset, to the second."""
    return dt.datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds")


def agent_out(state: AgentState, tz: dt.tzinfo) -> AgentOut:
    since = state.since
    return AgentOut(**state.__dict__, since_time=local_iso(tz, since) if since > 0 else None)


MODELS: tuple[type[BaseModel], ...] = (
    AgentOut,
    ErrorOut,
    HealthOut,
    LoginBody,
    LoginForm,
    LogoutBody,
    MeOut,
    PauseBody,
)
