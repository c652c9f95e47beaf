"""The citizens' pages of ``hotline serve --citizen-port`` (docs/citizen.md): their own app."""

from __future__ import annotations

from aiohttp import web

from ivr.citizen.citizen_app import CitizenOptions, create_citizen_app
from ivr.citizen.limits import Limits, RateLimiter
from ivr.records.keeper import RecordKeeper
from ivr.settings import Settings
from queueing.queue import RedisQueue


def citizen_app(settings: Settings, queue: RedisQueue, records: RecordKeeper) -> web.Application:
    """The citizens' pages (``hotline serve --citizen-port``, docs/citizen.md): their own app,
    on the ticket service of this server and the queue's Redis for their rate limits."""
    limits = Limits.of(
        settings.citizen_submits_per_address,
        settings.citizen_submits_per_phone,
        settings.citizen_lookups_per_address,
        settings.citizen_lookups_per_ticket,
    )
    options = CitizenOptions(
        limits, settings.citizen_proxies, settings.citizen_origins, settings.cookie_secure
    )
    return create_citizen_app(
        lambda: records.sweeper, RateLimiter(queue.client, queue.centre), options
    )
