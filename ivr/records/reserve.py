"""A ticket number reserved for a call straight from the database (``HOTLINE_TICKET``): the
process-AGI script's way, and the store's fallback; a server takes its numbers from Redis
(:mod:`ivr.records.ticketno`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError

from ivr.db.database import Database
from ivr.tickets.numbering import reserve_number

log = logging.getLogger(__name__)


async def reserve_ticket(db: Database, tz: ZoneInfo, uniqueid: str) -> str | None:
    """The ticket number a call carries to its operator (``HOTLINE_TICKET``): reserved now,
    taken by the ticket the operator accepts for the call. None while the database is away:
    the call goes on, and its ticket gets a number when it is accepted."""

    def reserve() -> str:
        now = dt.datetime.now(dt.UTC)
        with db.session() as session:
            return reserve_number(session, uniqueid, now.astimezone(tz).date(), now)

    try:
        return await asyncio.to_thread(reserve)
    except DBAPIError as exc:
        log.warning("[HL-TKT-021] no ticket number for %s, database unavailable: %s", uniqueid,
                    exc)  # fmt: skip
        return None


class DatabaseTicketNumbers:
    """Ticket numbers for HOTLINE_TICKET straight from the database (the process AGI script,
    which has no ticket store of its own)."""

    def __init__(self, db: Database, timezone: str = "Asia/Shanghai") -> None:
        self.db = db
        self.tz = ZoneInfo(timezone)

    async def reserve_ticket(self, uniqueid: str) -> str | None:
        return await reserve_ticket(self.db, self.tz, uniqueid)
