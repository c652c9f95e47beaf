"""The hotline's HTTP API (aiohttp): agent control, queue metrics, OpenAPI. See :mod:`.app`.

Imports :mod:`queueing` (the queue it shows and drives) and :mod:`ivr.config`. Must not import
the engine, the transports (``ivr.agi``), the tickets or the CLI: the composition root hands
it what it serves."""

from ivr.web.app import create_app

__all__ = ["create_app"]
