"""The hotline's staff HTTP API (aiohttp): sessions and roles, agent control, queue metrics,
health, OpenAPI. See :mod:`.app`.

Imports :mod:`queueing` (the queue it shows and drives, its live notices), :mod:`ivr.config`,
:mod:`ivr.db`, :mod:`ivr.accounts` (who may do what), and for the screen-pop the tickets' and
call records' words (``screenpop.py``). Must not import the engine, the transports
(``ivr.agi``), the server (``ivr.hotline``, ``ivr.compose``) or the CLI: the composition root
hands it what it serves."""

from ivr.web.app import create_app

__all__ = ["create_app"]
