"""Settings of the operator queue (``config/queue.yaml``) and the agents (``config/agents.yaml``).

The models are used by :mod:`ivr.config.validate` (which reports problems as
``file:line:column``), by the caller's side of the queue (:mod:`ivr.queuewait`) and by the
Redis queue itself: ``QueueSettings``, ``AgentSpec`` and ``DiallerSettings`` satisfy the small
interfaces :mod:`queueing.options` declares (the queue imports nothing from ``ivr``).
Unknown keys are refused everywhere.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, StringConstraints, field_validator

from ivr.config.models import Strict
from ivr.config.transfer_models import TransferSettings

Skill = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
AgentId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
DtmfKey = Annotated[str, StringConstraints(pattern=r"^[0-9*#]$")]
#: A secret is never written in the file: ``env:NAME`` (an environment variable) or
#: ``file:/path`` (a file readable by the service only).
SecretRef = Annotated[str, StringConstraints(pattern=r"^(env:[A-Z_][A-Z0-9_]*|file:/\S+)$")]

# One Asterisk dial string, as app_queue members take it: TECH/resource.
AGENT_INTERFACE_RE = re.compile(r"^(PJSIP|SIP|IAX2|DAHDI|Local)/[^\s,&|()]+$")
_PAUSES = "break 小休 meal 用餐 training 培训 meeting 会议 coaching 辅导".split()  # noqa: SIM905


class Announce(Strict):
    """Position and estimated wait, played over music on hold."""

    interval_seconds: float = Field(45.0, ge=10, le=600, description="between announcements")
    first_after_seconds: float = Field(20.0, ge=0, le=600)
    position: bool = True
    estimate: bool = True
    max_position: int = Field(99, ge=1, le=99, description="announce at most this position")
    # Asterisk core sound files (without extension); ``digits/N`` say the numbers.
    you_are_next: str = "queue-youarenext"
    there_are: str = "queue-thereare"
    calls_waiting: str = "queue-callswaiting"
    hold_time: str = "queue-holdtime"
    minutes: str = "queue-minutes"
    less_than_a_minute: str = "queue-less-than"


class QueueSettings(Strict):
    centre: Skill = Field("hotline", description="names the Redis hash tag of this queue")
    timezone: str = Field("Asia/Shanghai", description="where 'today' of the metrics is")
    priority_seconds: float | None = Field(
        6.0,
        gt=0,
        description="anti-starvation rule: one priority point counts as this many seconds of "
        "waiting; null orders by priority strictly (a low priority can wait forever)",
    )
    wrapup_seconds: float = Field(10.0, ge=0, le=600)
    ring_timeout: float = Field(20.0, ge=5, le=120, description="seconds an agent may ring")
    dial_options: str = Field("", pattern=r"^[A-Za-z0-9()^_.:=]*$")
    answered_gosub: str | None = Field(
        "hotline-answered",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="dialplan context run (Dial U() option) on the operator's channel when "
        "the operator answers: it tells the queue at once (FastAGI path /answered), so the "
        "operator shows as busy for the whole conversation; null: only when Dial returns",
    )
    moh_class: str = "default"
    wait_chunk_seconds: float = Field(
        1.0, ge=0.2, le=5, description="WAIT FOR DIGIT length: how soon an offer is acted on"
    )
    lease_seconds: float = Field(
        30.0,
        ge=5,
        le=3600,
        description="a waiting caller whose session renewed nothing for "
        "this long is considered gone (after a crash, re-entry must happen within it)",
    )
    heartbeat_seconds: float = Field(60.0, ge=5, le=3600)
    tick_seconds: float = Field(1.0, gt=0, le=30, description="reaper and wrap-up period")
    service_level_seconds: float = Field(15.0, gt=0, le=600)
    default_handle_seconds: float = Field(180.0, gt=0, le=3600)
    pause_reasons: dict[
        Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")],
        Annotated[str, Field(min_length=1, max_length=40)],
    ] = Field(
        default_factory=lambda: dict(zip(_PAUSES[::2], _PAUSES[1::2], strict=True)),
        min_length=1,
        description="the reasons an operator picks on the desk to pause (code: label)",
    )
    announce: Announce = Field(default_factory=Announce)
    phone_offline_seconds: float | None = Field(20.0, ge=5, le=3600)
    phone_probe_seconds: float = Field(5.0, ge=1, le=60)

    def priority_ms(self) -> int | None:
        return None if self.priority_seconds is None else int(self.priority_seconds * 1000)


class SipAccount(Strict):
    """What the Asterisk config generator needs for a PJSIP endpoint of the agent's phone."""

    username: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    secret: SecretRef
    context: str = Field("operators", pattern=r"^[A-Za-z0-9_-]+$")
    max_contacts: int = Field(1, ge=1, le=10)


class WebrtcAccount(Strict):
    """The agent's browser phone (the desk's softphone over WebRTC, docs/webrtc.md): a PJSIP
    endpoint of its own (``webrtc = yes``) that the desk registers over a WebSocket."""

    username: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    secret: SecretRef
    context: str = Field("operators", pattern=r"^[A-Za-z0-9_-]+$")


class AgentSpec(Strict):
    id: AgentId
    name: str = Field(min_length=1, max_length=80)
    interface: str = Field(description="Asterisk dial string: PJSIP/1001, Local/1001@operators")
    skills: dict[Skill, Annotated[int, Field(ge=1, le=10)]] = Field(
        min_length=1, description="skill -> level 1..10 (10 is best)"
    )
    sip: SipAccount | None = None
    webrtc: WebrtcAccount | None = None

    @property
    def browser_interface(self) -> str | None:
        """What the queue dials when the agent logged in with the browser phone."""
        return None if self.webrtc is None else f"PJSIP/{self.webrtc.username}"

    def skills_arg(self) -> str:
        return ",".join(f"{s}:{lvl}" for s, lvl in self.skills.items())


#: The menu.yaml prompts the queue plays (checked by ``hotline check-config``).
PromptName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")]


class CallbackSettings(Strict):
    """Virtual hold: a waiting caller may press a key to be called back, keeping its place."""

    enabled: bool = True
    offer_after_seconds: float = Field(
        60.0, ge=0, le=3600, description="offer once the caller has waited this long ..."
    )
    offer_position: int | None = Field(
        10, ge=1, le=999, description="... or as soon as its position is this far back"
    )
    repeat_seconds: float = Field(120.0, ge=10, le=3600, description="offer again after")
    key: DtmfKey = "1"
    offer_prompt: PromptName = "queue_callback_offer"
    confirm_prompt: PromptName = "queue_callback_confirm"


class SurveySettings(Strict):
    """The keypad satisfaction survey after an answered operator call (1..5)."""

    enabled: bool = True
    question_prompt: PromptName = "survey_question"
    thanks_prompt: PromptName = "survey_thanks"
    timeout_seconds: float = Field(5.0, ge=1, le=30)


class OverflowRule(Strict):
    """What happens to a skill's callers when nobody can take them. Any condition set
    triggers the action; the caller is never dropped."""

    no_agents: bool = Field(
        True,
        description="nobody logged in for the skill: operators logged in but paused count as "
        "there (they come back; max_wait_seconds still applies)",
    )
    max_waiting: int | None = Field(None, ge=1, description="more callers waiting than this")
    max_wait_seconds: float | None = Field(
        None, gt=0, description="waited longer than this (since the call was answered)"
    )
    action: Literal["widen", "message", "callback", "transfer"]
    skill: Skill | None = Field(None, description="widen: the fallback skill")
    dial: str | None = Field(None, description="transfer: the sub-centre dial string")
    prompt: PromptName | None = Field("queue_overflow", description="played before the action")
    message_seconds: float = Field(120.0, ge=5, le=600, description="message: recording limit")


class DiallerSettings(Strict):
    """The callback dialler: AMI ``Originate`` to the agent first; once the agent answers,
    the channel enters ``context`` at extension = the caller's number, whose dialplan dials
    the caller out through the trunk (see docs/queue.md)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = Field("hotline", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    secret: SecretRef = "env:HOTLINE_AMI_SECRET"
    context: str = Field("hotline-callback", pattern=r"^[A-Za-z0-9_-]+$")
    caller_id: str = Field(
        "12345",
        pattern=r"^\+?[0-9]{1,20}$",
        description="the number the agent (name: 回拨 + the caller's number) and the citizen see",
    )
    ring_timeout: float = Field(30.0, ge=5, le=120, description="how long the agent may ring")
    max_call_seconds: float = Field(
        3600.0, ge=60, description="a callback whose hangup is never seen is closed after this"
    )
    trunk: str = Field(
        "PJSIP/{number}@carrier",
        description="how the dialplan dials the citizen, {number} being the caller's number: "
        "the same dial string as menu.yaml and lines.yaml use for outside numbers",
    )
    citizen_ring_timeout: float = Field(
        30.0, ge=5, le=120, description="how long the citizen's phone may ring"
    )
    max_attempts: int = Field(
        3, ge=1, le=10, description="calls to a citizen who does not answer before giving up"
    )
    retry_after_seconds: float = Field(
        300.0,
        ge=5,
        le=86400,
        description="a callback that did not reach the citizen is tried again this much "
        "later, from its original place",
    )
    noanswer_prompt: PromptName | None = Field(
        "queue_callback_noanswer", description="played to the agent when the citizen did not answer"
    )

    @field_validator("trunk")
    @classmethod
    def _trunk(cls, value: str) -> str:
        if value.count("{number}") != 1:
            raise ValueError("must contain {number} once, e.g. PJSIP/{number}@carrier")
        if not AGENT_INTERFACE_RE.match(value.replace("{number}", "13800138000")):
            raise ValueError(
                "is not a dial string (TECH/resource, no spaces, commas or &): "
                "e.g. PJSIP/{number}@carrier"
            )
        return value


class WidenSettings(Strict):
    """Every line reaches a person: a caller whose skill has nobody ready moves to the
    general operators (keeping its place by enqueue time). Callers of 12345 and of merged
    lines always may; callers of a parallel line (双号并行, served by the department's own
    seats) only when the line is listed in ``parallel_lines``. A skill with a rule of its own
    in ``overflow`` follows that rule instead."""

    after_seconds: float | None = Field(
        5.0,
        ge=0,
        le=600,
        description="widen once the caller has waited this long since the answer with nobody "
        "ready in its skill (at once when nobody is logged in for it); null: never",
    )
    skill: Skill = Field("general", description="the general operators' skill")
    parallel_lines: list[Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{3,20}$")]] = Field(
        default_factory=list, description="parallel lines (lines.yaml numbers) that widen too"
    )


class MessageSettings(Strict):
    """The voice message a queued caller leaves (an overflow ``message``, a callback that
    cannot be registered, a caller with no number to call back): the prompt asks for it
    before the recording; each message becomes a 留言 task."""

    prompt: PromptName = Field(
        "queue_overflow_message", description="asks for the message, played before the tone"
    )
    thanks_prompt: PromptName | None = Field("message_thanks", description="after the recording")
    max_seconds: float = Field(120.0, ge=5, le=600, description="recording limit")
    silence_seconds: float = Field(5.0, ge=0, le=60, description="silence that ends it")
    no_number_after_seconds: float | None = Field(
        300.0,
        gt=0,
        le=7200,
        description="a caller with no number to call back (a SIP name) waits at most this "
        "long, then leaves a message; null: as long as the overflow rules let it",
    )


class QueueFile(Strict):
    settings: QueueSettings = Field(default_factory=QueueSettings)
    callback: CallbackSettings = Field(default_factory=CallbackSettings)
    survey: SurveySettings = Field(default_factory=SurveySettings)
    overflow: dict[Skill, OverflowRule] = Field(default_factory=dict)
    widen: WidenSettings = Field(default_factory=WidenSettings)
    message: MessageSettings = Field(default_factory=MessageSettings)
    dialler: DiallerSettings = Field(default_factory=DiallerSettings)
    transfers: TransferSettings = Field(default_factory=TransferSettings)
    # numbers (normalized, aliases included) of the parallel lines that do not widen; filled
    # from lines.yaml by the config loader (:meth:`with_lines`), never written in queue.yaml
    _no_widen: frozenset[str] = PrivateAttr(default_factory=frozenset)

    def with_lines(self, parallel: dict[str, list[str]]) -> QueueFile:
        """This file knowing lines.yaml: ``parallel`` maps each parallel line's number to all
        its numbers (normalized as calls are routed: the number and its aliases)."""
        listed = {n.lstrip("+") for n in self.widen.parallel_lines}
        out = self.model_copy()
        out._no_widen = frozenset(
            n
            for number, numbers in parallel.items()
            if not listed & {number, *numbers}
            for n in (number, *numbers)
        )
        return out

    def rule_for(self, skill: str, line: str) -> OverflowRule | None:
        """The overflow rule of ``skill`` for a caller of ``line`` (the dialled number as
        routed): the skill's own rule, else the default widening (``widen``); a caller of a
        parallel line that does not widen stays with its own seats, and leaves a message
        only when nobody at all is logged in for them."""
        rule = self.overflow.get(skill)
        if rule is not None:
            return rule
        w = self.widen
        if line in self._no_widen:
            return _NOBODY_THERE
        if w.after_seconds is None or skill == w.skill:
            return None
        return _widen_rule(w.skill, w.after_seconds)

    def prompt_refs(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every menu.yaml prompt referenced, with its place in the file."""
        out: list[tuple[tuple[str | int, ...], str]] = [
            (("callback", "offer_prompt"), self.callback.offer_prompt),
            (("callback", "confirm_prompt"), self.callback.confirm_prompt),
            (("survey", "question_prompt"), self.survey.question_prompt),
            (("survey", "thanks_prompt"), self.survey.thanks_prompt),
            (("message", "prompt"), self.message.prompt),
        ]
        if self.message.thanks_prompt:
            out.append((("message", "thanks_prompt"), self.message.thanks_prompt))
        for skill, rule in self.overflow.items():
            if rule.prompt:
                out.append((("overflow", skill, "prompt"), rule.prompt))
        if self.dialler.noanswer_prompt:
            out.append((("dialler", "noanswer_prompt"), self.dialler.noanswer_prompt))
        return out


_WIDEN_RULES: dict[tuple[str, float], OverflowRule] = {}
#: a parallel line's callers when nobody is logged in for their seats: a message (the message
#: prompt, then the recording), never a wait with no end
_NOBODY_THERE = OverflowRule(no_agents=True, action="message", prompt=None)


def _widen_rule(skill: str, after: float) -> OverflowRule:
    """The default widening as an overflow rule (built once per setting)."""
    rule = _WIDEN_RULES.get((skill, after))
    if rule is None:
        rule = _WIDEN_RULES[(skill, after)] = OverflowRule(
            no_agents=True,
            max_wait_seconds=max(after, 0.001),  # 0: at once
            action="widen",
            skill=skill,
            prompt=None,
        )
    return rule


class SupervisorPhone(Strict):
    """A supervisor's own phone, rung to listen / whisper / barge (docs/wallboard.md)."""

    user: str = Field(
        pattern=r"^[A-Za-z0-9._-]{1,64}$", description="the account's user name (hotline user)"
    )
    phone: str = Field(description="Asterisk dial string of the phone: PJSIP/2001")
    ring_timeout: float = Field(30.0, ge=5, le=120, description="how long the phone may ring")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if not AGENT_INTERFACE_RE.match(value):
            raise ValueError("is not one Asterisk dial string (TECH/resource, e.g. PJSIP/2001)")
        return value


class AgentsFile(Strict):
    agents: list[AgentSpec] = Field(default_factory=list)
    supervisors: list[SupervisorPhone] = Field(
        default_factory=list, description="the phones of supervisors and admins, by account"
    )

    @field_validator("supervisors")
    @classmethod
    def _one_phone_each(cls, value: list[SupervisorPhone]) -> list[SupervisorPhone]:
        users = [entry.user.lower() for entry in value]
        if twice := next((u for i, u in enumerate(users) if u in users[:i]), None):
            raise ValueError(f"user {twice!r} is given twice")
        return value

    def by_id(self) -> dict[str, AgentSpec]:
        return {a.id: a for a in self.agents}

    def phone_of(self, username: str) -> SupervisorPhone | None:
        """The phone of the account ``username`` (names are one whatever their case)."""
        return next((s for s in self.supervisors if s.user.lower() == username.lower()), None)
