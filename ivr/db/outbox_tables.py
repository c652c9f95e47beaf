"""The outbox (:mod:`ivr.db.base` metadata, imported by Alembic's env with the other tables):
what the hotline must send out of the building, written in the same transaction as the change
that calls for it and sent afterwards by a delivery loop, retried until it goes or is given up.

- ``kind``: ``sms`` (a receipt with the ticket number, the reply when the ticket is finished:
  to the citizen's phone through the SMS gateway) or ``reply`` (a finished item's reply to the
  upper-level platform it was forwarded from: a file or a webhook per source);
- ``key``: what makes the message once-only (e.g. ``T20261205-0001:finished:0``, the ticket,
  the event and the redo count): writing it again is a no-op, so a retried transaction or a
  second server never sends twice;
- ``target``: a phone number (``sms``) or a source id of the ticket catalogue (``reply``);
- ``body``: what is sent (JSON: the text of an SMS, the fields of a reply);
- ``state``: ``pending`` until ``sent``, or ``failed`` when the sender gave up (after
  ``attempts``, the last ``error`` kept); ``next_at``: when the loop may try it (again).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ivr.db.base import Base, UTCDateTime

PENDING = "pending"
SENT = "sent"
FAILED = "failed"


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("kind", "key", name="uq_outbox_kind_key"),
        Index("ix_outbox_due", "state", "next_at"),
        Index("ix_outbox_ticket", "ticket_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(120))
    ticket_number: Mapped[str] = mapped_column(String(20))
    event: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(120))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    next_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str] = mapped_column(Text, default="")
