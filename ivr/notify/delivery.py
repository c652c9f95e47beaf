"""The delivery loop of ``hotline serve``: every ``poll_seconds`` it claims the due messages
of the outbox (:mod:`ivr.notify.claims`), sends each (an SMS through the gateway of
notify.yaml, a reply to its platform's directory or webhook), and marks it sent, or due again
after a backoff (``backoff_seconds`` doubled each attempt, at most ``max_backoff_seconds``),
or failed after ``max_attempts`` [HL-NTF-002] or at once when there is nowhere to send it
[HL-NTF-003]. SMS are claimed only within ``sms.hours`` of the centre's day, and only while
``sms.enabled``: the others wait, pending. Several servers run it side by side."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy.exc import SQLAlchemyError

from ivr.config.catalogue_sources import SourceModel
from ivr.config.notify_models import Delivery, NotifyFile, SendingHours
from ivr.db.database import Database
from ivr.notify import claims, metrics
from ivr.notify.claims import Claimed
from ivr.notify.gateways import SendFailed, gateway_of
from ivr.notify.messages import REPLY, SMS
from ivr.notify.replies import send_reply
from queueing.stopping import stop_task

log = logging.getLogger(__name__)

RETRYING = "HL-NTF-001"
GAVE_UP = "HL-NTF-002"
NOWHERE = "HL-NTF-003"
LOOP_FAILED = "HL-NTF-004"


def backoff(delivery: Delivery, attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt."""
    return float(min(delivery.backoff_seconds * 2 ** (attempts - 1), delivery.max_backoff_seconds))


def within(hours: SendingHours | None, now: dt.datetime, timezone: str) -> bool:
    """Whether ``now`` is inside the sending hours (an end before the start spans midnight)."""
    if hours is None or hours.start == hours.end:  # no window, or the whole day
        return True
    local = now.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    if hours.start <= hours.end:
        return hours.start <= local < hours.end
    return local >= hours.start or local < hours.end


class DeliveryLoop:
    """The background task; :meth:`start` and :meth:`stop` with the server."""

    def __init__(
        self,
        db: Database,
        config: Callable[[], NotifyFile],
        sources: Callable[[], Mapping[str, SourceModel]],
        var_dir: Path,
        timezone: Callable[[], str],
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.db = db
        self.config = config
        self.sources = sources
        self.var_dir = var_dir
        self.timezone = timezone
        self._now = now
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="outbox-delivery")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a bug must not end the task: the next poll tries again
                log.exception("[%s] outbox delivery failed", LOOP_FAILED)
            await self._sleep(self.config().delivery.poll_seconds)

    def _kinds(self, config: NotifyFile, now: dt.datetime) -> tuple[str, ...]:
        sms = config.sms.enabled and within(config.sms.hours, now, self.timezone())
        return (SMS, REPLY) if sms else (REPLY,)

    async def run_once(self) -> int:
        """One poll: claim what is due and send it. Returns how many were handled."""
        config = self.config()
        delivery = config.delivery
        now = self._now()
        lease = delivery.timeout_seconds * 2 + 60
        try:
            due = await asyncio.to_thread(
                claims.claim, self.db, now, self._kinds(config, now), delivery.batch, lease
            )
        except SQLAlchemyError as exc:
            log.error("[%s] outbox: database %s away: %s", LOOP_FAILED, self.db.safe_url, exc)
            return 0
        if self._http is None and due:
            self._http = aiohttp.ClientSession()
        by_ticket: dict[str, list[Claimed]] = {}
        for c in due:  # a ticket's messages in order (the receipt before the reply)
            by_ticket.setdefault(c.ticket_number, []).append(c)
        await asyncio.gather(*(self._in_order(config, group) for group in by_ticket.values()))
        return len(due)

    async def _in_order(self, config: NotifyFile, group: list[Claimed]) -> None:
        for c in group:
            await self._deliver(config, c)

    async def _send(self, config: NotifyFile, c: Claimed) -> None:
        assert self._http is not None
        timeout = config.delivery.timeout_seconds
        if c.kind == SMS:
            gateway = gateway_of(config.sms, self.var_dir, self._http, timeout)
            await asyncio.wait_for(gateway.send(c.target, str(c.body["text"]), c.key), timeout)
            return
        source = self.sources().get(c.target)
        if source is None or source.reply is None:
            raise SendFailed(f"source {c.target!r} has no reply in the ticket catalogue", True)
        await asyncio.wait_for(
            send_reply(source.reply, c.key, c.body, self.var_dir, self._http, timeout), timeout
        )

    async def _deliver(self, config: NotifyFile, c: Claimed) -> None:
        delivery = config.delivery
        try:
            await self._send(config, c)
        except (SendFailed, TimeoutError) as exc:
            error = str(exc) or f"no answer within {delivery.timeout_seconds:g} s"
            permanent = isinstance(exc, SendFailed) and exc.permanent
            await self._failed(delivery, c, error, permanent)
            return
        except Exception as exc:  # a bug: an attempt that failed, counted towards giving up
            log.exception("[%s] outbox: sending %s failed unexpectedly", LOOP_FAILED, c.key)
            await self._failed(delivery, c, f"{exc.__class__.__name__}: {exc}", False)
            return
        try:
            await asyncio.to_thread(claims.mark_sent, self.db, c, self._now())
        except SQLAlchemyError as exc:  # sent, not marked: its lease ends, it may go twice
            log.error("[%s] outbox %s sent, not marked: %s", LOOP_FAILED, c.key, exc)
            return
        metrics.SENT.labels(c.kind).inc()
        log.info("outbox: %s %s sent to %s (attempt %d)", c.kind, c.key, c.target, c.attempts)

    async def _failed(self, delivery: Delivery, c: Claimed, error: str, permanent: bool) -> None:
        try:
            if permanent or c.attempts >= delivery.max_attempts:
                await asyncio.to_thread(claims.mark_failed, self.db, c, error)
                metrics.FAILED.labels(c.kind).inc()
                code = NOWHERE if permanent else GAVE_UP
                log.error(
                    "[%s] outbox: %s %s to %s given up after %d attempt(s): %s; "
                    "`hotline outbox retry %d` sends it again",
                    code, c.kind, c.key, c.target, c.attempts, error, c.id,
                )  # fmt: skip
                return
            wait = backoff(delivery, c.attempts)
            at = self._now() + dt.timedelta(seconds=wait)
            await asyncio.to_thread(claims.mark_retry, self.db, c, error, at)
        except SQLAlchemyError as exc:
            log.error("[%s] outbox %s: cannot mark the attempt: %s", LOOP_FAILED, c.key, exc)
            return
        metrics.RETRIED.labels(c.kind).inc()
        log.warning(
            "[%s] outbox: %s %s to %s, attempt %d of %d failed: %s; again in %g s",
            RETRYING, c.kind, c.key, c.target, c.attempts, delivery.max_attempts, error, wait,
        )  # fmt: skip
