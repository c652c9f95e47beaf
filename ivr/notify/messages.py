"""What a ticket's change asks to be sent, written to the outbox in the change's own
transaction (the ticket service calls it through its ``TicketNotices`` interface): the
change and its messages are committed together or not at all.

- accepted: an SMS receipt with the ticket number (sources of kind ``phone`` and ``web``);
- finished (答复 / 办结): an SMS with the reply; for a ticket forwarded by an upper-level
  platform whose source has a ``reply``, the reply to that platform instead (the platform
  answers its own citizen: no SMS).

Which citizens are texted (``sms`` of notify.yaml): only when SMS are enabled, only mobile
numbers (``mobile_pattern``), never a confidential (保密) ticket unless ``confidential:
true``. Each message has a key that makes it once-only: ``<number>:accepted``,
``<number>:finished:<redos>`` (a redo 重办 finished again is a new message, a retried
transaction is not)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from ivr.config.catalogue_sources import SourceModel
from ivr.config.notify_models import NotifyFile, SmsSettings
from ivr.db.outbox_tables import PENDING, OutboxRow
from ivr.db.sqlutil import insert_ignore
from ivr.db.tables import TicketRow

SMS = "sms"
REPLY = "reply"
ACCEPTED = "accepted"
FINISHED = "finished"
_PREFIX = re.compile(r"^(\+86|0086|86)(?=1[0-9]{10}$)")


def is_mobile(number: str, pattern: str) -> bool:
    """A number to text: the pattern matched after a +86 / 0086 / 86 prefix is taken off."""
    bare = _PREFIX.sub("", re.sub(r"[\s-]", "", number))
    return re.fullmatch(pattern, bare) is not None


def sms_number(number: str) -> str:
    return _PREFIX.sub("", re.sub(r"[\s-]", "", number))


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class OutboxNotices:
    """The ticket service's ``TicketNotices``: on the notify.yaml and the catalogue's sources
    as they are now (callables: a reload applies to the next ticket)."""

    def __init__(
        self,
        config: Callable[[], NotifyFile],
        sources: Callable[[], Mapping[str, SourceModel]],
    ) -> None:
        self.config = config
        self.sources = sources

    def _texted(self, sms: SmsSettings, ticket: TicketRow) -> bool:
        source = self.sources().get(ticket.source)
        if not sms.enabled or source is None or source.kind not in ("phone", "web"):
            return False
        if ticket.confidential and not sms.confidential:
            return False
        return is_mobile(ticket.caller, sms.mobile_pattern)

    def accepted(self, session: Session, ticket: TicketRow, now: dt.datetime) -> None:
        sms = self.config().sms
        if sms.receipt and self._texted(sms, ticket):
            text = sms.templates.receipt.format(
                number=ticket.number, reply="", lookup_url=sms.lookup_url
            )
            self._write(session, SMS, f"{ticket.number}:{ACCEPTED}", ticket, ACCEPTED,
                        sms_number(ticket.caller), {"text": text}, now)  # fmt: skip

    def finished(self, session: Session, ticket: TicketRow, now: dt.datetime) -> None:
        key = f"{ticket.number}:{FINISHED}:{ticket.redos}"
        source = self.sources().get(ticket.source)
        if source is not None and source.kind == "upper":
            if source.reply is not None:
                self._write(session, REPLY, key, ticket, FINISHED, ticket.source,
                            reply_body(ticket, now), now)  # fmt: skip
            return
        sms = self.config().sms
        if sms.reply and self._texted(sms, ticket):
            text = sms.templates.reply.format(
                number=ticket.number,
                reply=clip(ticket.reply, sms.max_reply_chars),
                lookup_url=sms.lookup_url,
            )
            self._write(session, SMS, key, ticket, FINISHED, sms_number(ticket.caller),
                        {"text": text}, now)  # fmt: skip

    @staticmethod
    def _write(
        session: Session,
        kind: str,
        key: str,
        ticket: TicketRow,
        event: str,
        target: str,
        body: dict[str, Any],
        now: dt.datetime,
    ) -> None:
        row = {
            "kind": kind, "key": key, "ticket_number": ticket.number, "event": event,
            "target": target, "body": body, "state": PENDING, "attempts": 0,
            "created_at": now, "next_at": now, "sent_at": None, "error": "",
        }  # fmt: skip
        insert_ignore(session, OutboxRow.__table__, [row], ["kind", "key"])  # type: ignore[arg-type]


def reply_body(ticket: TicketRow, now: dt.datetime) -> dict[str, Any]:
    """What an upper-level platform gets back for its item: its own id, our ticket number,
    the reply, who handled it and when (ISO 8601, UTC)."""
    return {
        "source": ticket.source,
        "external_id": ticket.external_id,
        "ticket_number": ticket.number,
        "state": "finished",
        "reply": ticket.reply,
        "department": ticket.department,
        "finished_at": now.astimezone(dt.UTC).isoformat(),
        "redo": ticket.redos,
    }
