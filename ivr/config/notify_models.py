"""What the hotline sends the citizen and the upper-level platforms (``config/notify.yaml``):
the SMS on or off, their texts, the gateway that sends them and when; how the outbox's
delivery loop retries. The loop and the gateways are :mod:`ivr.notify`.

The file may be left out: then no SMS is sent (``sms.enabled: false``) and the replies to the
upper-level platforms of the ticket catalogue (``sources.*.reply``) still go, with the
delivery defaults below. Unknown keys are refused, as in every admin file; a template may use
only the fields it is given (``{number}``, ``{reply}``, ``{lookup_url}``), an HTTP gateway's
body only ``{to}`` and ``{text}``."""

from __future__ import annotations

import re
import string
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ivr.config.models import Strict

TEMPLATE_FIELDS = frozenset({"number", "reply", "lookup_url"})
BODY_FIELDS = frozenset({"to", "text"})
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
#: a header's value from the environment: ``env:NAME``
ENV_REF = re.compile(r"^env:([A-Z_][A-Z0-9_]*)$")


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a template (ValueError for a broken brace)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _only(text: str, allowed: frozenset[str], what: str) -> str:
    try:
        found = placeholders(text)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc} (write a brace as {{{{ or }}}})") from None
    unknown = sorted(found - allowed)
    if unknown:
        raise ValueError(
            f"{what} uses {', '.join('{' + u + '}' for u in unknown)}; it may use "
            f"{', '.join('{' + a + '}' for a in sorted(allowed))}"
        )
    return text


class Templates(Strict):
    """The SMS texts (短信模板), ``{number}`` the ticket number, ``{reply}`` the reply given,
    ``{lookup_url}`` where the citizen looks the ticket up."""

    receipt: str = Field(
        "【12345热线】您的诉求已受理，工单号{number}。凭工单号和手机号可查询办理进度：{lookup_url}",
        min_length=1,
        max_length=500,
    )
    reply: str = Field(
        "【12345热线】您的工单{number}已办结。答复：{reply} 详情：{lookup_url}",
        min_length=1,
        max_length=500,
    )

    @field_validator("receipt", "reply")
    @classmethod
    def _fields(cls, text: str) -> str:
        return _only(text, TEMPLATE_FIELDS, "the template")


class FileGateway(Strict):
    """Appends each SMS as a JSON line to a file (tests, development, a provider's batch
    pick-up)."""

    path: str = Field("sms-outbox.jsonl", min_length=1, description="relative: under var/")


class HttpGateway(Strict):
    """A provider's HTTP API, as configuration: one request per SMS."""

    url: str = Field(pattern=r"^https?://\S+$")
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str] = Field(
        default_factory=dict, description="a value `env:NAME` is read from the environment"
    )
    body: dict[str, Any] = Field(
        default_factory=lambda: {"to": "{to}", "text": "{text}"},
        description="the JSON sent; strings may use {to} and {text}",
    )

    @field_validator("body")
    @classmethod
    def _body_fields(cls, body: dict[str, Any]) -> dict[str, Any]:
        def walk(value: Any) -> None:
            if isinstance(value, str):
                _only(value, BODY_FIELDS, "the request body")
            elif isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)

        walk(body)
        return body


class SendingHours(Strict):
    """SMS go out only between these times of the centre's day; the others wait (an end
    before the start spans midnight; an end equal to the start: the whole day)."""

    start: str = Field("08:00", pattern=HHMM)
    end: str = Field("21:00", pattern=HHMM)


class SmsSettings(Strict):
    enabled: bool = Field(False, description="send SMS at all")
    receipt: bool = Field(True, description="a receipt with the ticket number on acceptance")
    reply: bool = Field(True, description="the reply when the ticket is finished")
    confidential: bool = Field(
        False, description="also text the citizens of confidential (保密) tickets"
    )
    mobile_pattern: str = Field(
        r"^1[3-9][0-9]{9}$",
        min_length=1,
        description="a number is texted only when it matches (after +86 / 0086 / 86)",
    )
    lookup_url: str = Field("", description="where the citizen looks a ticket up")
    max_reply_chars: int = Field(200, ge=10, le=2000, description="a longer reply is cut")
    templates: Templates = Field(default_factory=Templates)
    gateway: Literal["file", "http"] = "file"
    file: FileGateway = Field(default_factory=FileGateway)
    http: HttpGateway | None = None
    hours: SendingHours | None = Field(
        default_factory=SendingHours, description="null: at any time"
    )

    @field_validator("mobile_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _gateway_given(self) -> SmsSettings:
        if self.gateway == "http" and self.http is None:
            raise ValueError("gateway 'http' needs an 'http:' section (url, headers, body)")
        return self


class Delivery(Strict):
    """How the delivery loop of ``hotline serve`` retries: after an attempt that failed it
    waits ``backoff_seconds``, doubled each time up to ``max_backoff_seconds``; after
    ``max_attempts`` the message is ``failed`` (``hotline outbox retry`` sends it again)."""

    max_attempts: int = Field(8, ge=1, le=100)
    backoff_seconds: float = Field(30.0, gt=0, le=86400)
    max_backoff_seconds: float = Field(3600.0, gt=0, le=86400)
    timeout_seconds: float = Field(10.0, gt=0, le=300, description="one send, at most")
    poll_seconds: float = Field(5.0, gt=0, le=3600, description="how often due rows are read")
    batch: int = Field(20, ge=1, le=1000, description="messages claimed at once")


class NotifyFile(Strict):
    """``config/notify.yaml``."""

    sms: SmsSettings = Field(default_factory=SmsSettings)
    delivery: Delivery = Field(default_factory=Delivery)
