"""Where an operator may transfer a caller (``config/queue.yaml`` ``transfers:``): the
emergency lines (110 / 119 / 120 / 122), the departments' seat groups and the sub-centres
(分中心), each a key the desk's buttons send, a name, an Asterisk dial string and the modes
it allows. A colleague or team leader is not listed: the desk sends ``agent:<id>`` and the
agent's own interface (agents.yaml) is dialled.

Validated like the rest of the config (``file:line:column`` for every problem); the transfer
service (:mod:`queueing.transfer`) receives them as :class:`queueing.transfer.Target`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from ivr.config.models import Strict

#: a target's key: what the desk sends and what the record shows (``110``, ``dept_water``)
TargetKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,32}$")]
Mode = Literal["blind", "threeway", "consult"]
ALL_MODES: tuple[Mode, ...] = ("blind", "threeway", "consult")
#: one Asterisk dial string (what ``Dial()`` and AMI ``Originate`` take): TECH/resource
DIAL_RE = re.compile(r"^(PJSIP|SIP|IAX2|DAHDI|Local)/[^\s,&|()]+$")


class TransferTarget(Strict):
    """One place a caller can be transferred to."""

    name: str = Field(min_length=1, max_length=40, description="the desk's button label")
    kind: Literal["emergency", "department", "subcentre"] = "department"
    dial: str = Field(description="Asterisk dial string, e.g. PJSIP/110@carrier")
    modes: list[Mode] = Field(default_factory=lambda: list(ALL_MODES), min_length=1)
    ring_timeout: float = Field(60.0, ge=5, le=300, description="seconds the target may ring")

    @field_validator("dial")
    @classmethod
    def _dial(cls, value: str) -> str:
        if not DIAL_RE.match(value):
            raise ValueError(
                "not an Asterisk dial string (TECH/resource, no blank, ',', '&', '|' or "
                "parentheses), e.g. PJSIP/110@carrier or Local/2001@seats"
            )
        return value


class TransferSettings(Strict):
    """``transfers:`` of queue.yaml. Transfers go through the AMI user of ``dialler:`` (its
    host, port, username and secret)."""

    enabled: bool = True
    # the generated dialplan's conference rooms (hotline-transfer.conf): the caller's room
    # is the call's uniqueid in ``context``, the operator's consultation room in
    # ``consult_context``
    context: str = Field("hotline-transfer", pattern=r"^[A-Za-z0-9_-]+$")
    consult_context: str = Field("hotline-consult", pattern=r"^[A-Za-z0-9_-]+$")
    colleague_ring_timeout: float = Field(
        30.0, ge=5, le=120, description="how long a colleague (agent:<id>) may ring"
    )
    targets: dict[TargetKey, TransferTarget] = Field(default_factory=dict)
