"""SQLAlchemy 2 models of the ticket database.

All times are stored as naive UTC (:class:`UTCDateTime` converts on the way in and out, so
SQLite and PostgreSQL behave the same) and every row that reports group by day also carries
its *local* day (``day`` / ``accepted_day``), computed once at insert time in the hotline's
time zone, so that reports group by an indexed column instead of by time-zone arithmetic.

Tables:

- ``call_records``: one row per call (unique ``uniqueid``), whatever became of it: the merge
  of its attempts (:mod:`ivr.records.attempts`);
- ``call_attempts``: every AGI session (attempt) of a call as it was recorded, and the
  ``server-lost`` records written for calls whose server died;
- ``queue_log``: queue events, one row per event, in the spirit of Asterisk's queue_log;
- ``tickets``: work orders (工单), with their flags and counters;
- ``ticket_calls``: the calls a ticket came from (a ticket may gather several calls);
- ``ticket_events``: the audit trail of every transition (who, when, from, to, note);
- ``supervisions``: 督办 records, one per ticket and reason;
- ``callback_tasks``: 回访 after a finished ticket, call-backs of missed calls and of promised
  callbacks (漏接回拨), and voice messages (留言);
- ``ticket_counters``: per-day sequence numbers for readable ticket numbers;
- ``users``, ``user_sessions``, ``api_tokens``, ``login_attempts``, ``audit_log``: the
  accounts of the people who use the web desk and the API, their sessions and tokens (only
  the sha256 of a token is kept), the login attempts the throttle counts, and the audit
  trail of every change (:mod:`ivr.accounts`);
- ``knowledge_entries``: the knowledge base (常用提示), in :mod:`ivr.db.knowledge_tables` on the
  same metadata (:mod:`ivr.db.base`), as are ``quality_checks`` and ``quality_scores``
  (质检, :mod:`ivr.db.quality_tables`) and ``outbox`` (what goes out to citizens and
  upper-level platforms: SMS, replies; :mod:`ivr.db.outbox_tables`): who compares the models
  with a database (Alembic's env) imports all four modules.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, validates

from ivr.db.addresses import normalise_address
from ivr.db.base import Base as Base
from ivr.db.base import UTCDateTime as UTCDateTime

# The condition of the partial index ``ix_tickets_flags``; queries that want the index repeat
# it word for word (SQLite uses a partial index only for a query term equal to its WHERE).
FLAGGED = "overdue OR was_overdue OR supervised"


class CallRow(Base):
    __tablename__ = "call_records"
    # reports: the calls of a special topic's line (skill) that made no ticket (migration 0010)
    __table_args__ = (Index("ix_call_records_skill_day", "skill", "day", "uniqueid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    caller: Mapped[str] = mapped_column(String(40), index=True)
    caller_name: Mapped[str] = mapped_column(String(80), default="")
    dialled: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(120), default="")
    config_version: Mapped[str] = mapped_column(String(80), default="")
    line_number: Mapped[str | None] = mapped_column(String(40))
    line_name: Mapped[str | None] = mapped_column(String(120))
    line_mode: Mapped[str | None] = mapped_column(String(20))
    department: Mapped[str | None] = mapped_column(String(80))
    accessible: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    day: Mapped[dt.date] = mapped_column(Date, index=True)  # local day of started_at
    duration: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(20), index=True)
    outcome_detail: Mapped[str] = mapped_column(Text, default="")
    hangup_cause: Mapped[str] = mapped_column(String(80), default="")
    hangup_node: Mapped[str | None] = mapped_column(String(80))
    hangup_by: Mapped[str | None] = mapped_column(String(10))  # caller | agent
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    skill: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[int | None] = mapped_column(Integer)
    queue_position: Mapped[int | None] = mapped_column(Integer)
    queue_wait: Mapped[float | None] = mapped_column(Float)
    agent: Mapped[str | None] = mapped_column(String(40))
    recording: Mapped[str | None] = mapped_column(String(255))
    survey_score: Mapped[int | None] = mapped_column(Integer)
    path: Mapped[list[str]] = mapped_column(JSON, default=list)
    digits: Mapped[str] = mapped_column(String(200), default="")
    messages: Mapped[list[str]] = mapped_column(JSON, default=list)
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class CallAttemptRow(Base):
    """One attempt (AGI session) of a call: the record it wrote (``CallRecord.to_dict``), or a
    synthetic one (``synthetic``) written for it by another server when its own died. A real
    record of an attempt replaces a synthetic one, never the reverse."""

    __tablename__ = "call_attempts"

    uniqueid: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    written_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class QueueLogRow(Base):
    __tablename__ = "queue_log"
    # the report counts each event over a day range, reading the wait from the index
    __table_args__ = (Index("ix_queue_log_event_day", "event", "day", "wait"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # idempotency key
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    day: Mapped[dt.date] = mapped_column(Date)
    callid: Mapped[str] = mapped_column(String(64), index=True)
    queue: Mapped[str] = mapped_column(String(40))
    agent: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(32))
    data1: Mapped[str] = mapped_column(String(255), default="")
    data2: Mapped[str] = mapped_column(String(255), default="")
    data3: Mapped[str] = mapped_column(String(255), default="")
    data4: Mapped[str] = mapped_column(String(255), default="")
    data5: Mapped[str] = mapped_column(String(255), default="")
    wait: Mapped[float | None] = mapped_column(Float)  # seconds waited, parsed from the data


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # Reports (see ivr/reports): one pass over this index answers the counts by
        # day, department, category and type, in index order (no table row is read); the
        # rare flags and the satisfaction levels have small partial indexes of their own.
        Index("ix_tickets_report", "accepted_day", "department", "category_top", "type", "state"),
        # reports: the few tickets of the channels other than the phone (migration 0010)
        Index("ix_tickets_source_day", "source", "accepted_day"),
        Index(
            "ix_tickets_flags",
            "accepted_day",
            "state",
            "overdue",
            "was_overdue",
            "supervised",
            sqlite_where=text(FLAGGED),
            postgresql_where=text(FLAGGED),
        ),
        Index(
            "ix_tickets_satisfaction",
            "accepted_day",
            "satisfaction",
            sqlite_where=text("satisfaction IS NOT NULL"),
            postgresql_where=text("satisfaction IS NOT NULL"),
        ),
        Index("ix_tickets_caller_category", "caller", "category"),
        # 并单: the same address in the same category within days (migration 0011)
        Index("ix_tickets_address_norm", "address_norm", "category", "accepted_at"),
        Index("ix_tickets_state_deadline", "state", "deadline"),
        # an item forwarded by an upper-level platform is taken once (imports are retried)
        UniqueConstraint("source", "external_id", name="uq_tickets_source_external"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    call_uniqueid: Mapped[str | None] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(20), default="phone")  # catalogue ``sources``
    external_id: Mapped[str | None] = mapped_column(String(120))  # the source's own id
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # at the source
    accepted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    accepted_day: Mapped[dt.date] = mapped_column(Date)
    accepted_by: Mapped[str] = mapped_column(String(40))
    caller: Mapped[str] = mapped_column(String(40))
    caller_name: Mapped[str] = mapped_column(String(80), default="")
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    dialled: Mapped[str] = mapped_column(String(40), default="12345")
    type: Mapped[str] = mapped_column(String(20), index=True)
    category: Mapped[str] = mapped_column(String(120))
    category_top: Mapped[str] = mapped_column(String(40), index=True)
    content: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    #: the address as compared for 并单 (:func:`ivr.db.addresses.normalise_address`), kept in
    #: step with ``address`` by :meth:`_address_set` (migration 0011)
    address_norm: Mapped[str] = mapped_column(String(255), default="", server_default=text("''"))
    urgency: Mapped[int] = mapped_column(Integer, default=0)
    department: Mapped[str | None] = mapped_column(String(40), index=True)
    state: Mapped[str] = mapped_column(String(20))
    deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    extension_requested: Mapped[int | None] = mapped_column(Integer)  # working days asked
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reply: Mapped[str] = mapped_column(Text, default="")
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 5 very satisfied .. 1 very not
    survey_score: Mapped[int | None] = mapped_column(Integer)  # the keypad survey, 1..5
    solved: Mapped[bool | None] = mapped_column(Boolean)
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    due_soon: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    was_overdue: Mapped[bool] = mapped_column(Boolean, default=False)  # ever overdue
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    returns: Mapped[int] = mapped_column(Integer, default=0)
    extensions: Mapped[int] = mapped_column(Integer, default=0)
    redos: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @validates("address")
    def _address_set(self, _key: str, value: str) -> str:
        self.address_norm = normalise_address(value or "")
        return value


class TicketCallRow(Base):
    __tablename__ = "ticket_calls"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    call_uniqueid: Mapped[str] = mapped_column(String(64), primary_key=True)


class TicketEventRow(Base):
    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")


class SupervisionRow(Base):
    __tablename__ = "supervisions"
    __table_args__ = (UniqueConstraint("ticket_id", "reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    reason: Mapped[str] = mapped_column(String(20))  # overdue | repeated
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    note: Mapped[str] = mapped_column(Text, default="")


class CallbackTaskRow(Base):
    __tablename__ = "callback_tasks"
    __table_args__ = (UniqueConstraint("kind", "ref"), Index("ix_callback_state", "state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # visit (回访) | missed (漏接回拨: left the queue unanswered, or a promised callback) |
    # message (留言: a voice message, ``recording``)
    kind: Mapped[str] = mapped_column(String(20))
    ref: Mapped[str] = mapped_column(String(64))  # ticket number, call uniqueid (/N: message N)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    call_uniqueid: Mapped[str | None] = mapped_column(String(64))
    caller: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[str] = mapped_column(Text, default="")
    # the voice message (relative to the recordings root: messages/20261203/UID.wav)
    recording: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(String(255), default="", server_default=text("''"))


class TicketReservationRow(Base):
    """A ticket number handed out with a call when it is put through to an operator (the
    dialplan variable ``HOTLINE_TICKET``), before the operator accepts the ticket: the
    ticket accepted for that call takes this number."""

    __tablename__ = "ticket_reservations"

    call_uniqueid: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    reserved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class TicketCounterRow(Base):
    __tablename__ = "ticket_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # YYYYMMDD
    last: Mapped[int] = mapped_column(Integer, default=0)


class UserRow(Base):
    """An account. ``username_key`` is the name in lower case: names are unique whatever
    their case. ``agent_id``: an operator's agent of agents.yaml; ``department``: a
    department user's department code."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    department: Mapped[str | None] = mapped_column(String(40))
    display_name: Mapped[str] = mapped_column(String(80), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class UserSessionRow(Base):
    """A browser session: the sha256 (hex) of the cookie's token, never the token."""

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    address: Mapped[str] = mapped_column(String(64), default="")


class ApiTokenRow(Base):
    """An API token (``Authorization: Bearer``): its sha256 (hex), never the token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class LoginAttemptRow(Base):
    """One login attempt, counted by the throttle (per account name, in lower case, and per
    address). Rows older than a day are pruned."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
        Index("ix_login_attempts_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)


class AuditRow(Base):
    """Who changed what, when, from where: before and after as JSON text."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(20), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str] = mapped_column(String(120), default="")
    before_json: Mapped[str | None] = mapped_column(Text)
    after_json: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str] = mapped_column(String(64), default="")
