"""The hotline's HTTP API (aiohttp): agent control, queue metrics, OpenAPI. See :mod:`.app`."""

from ivr.web.app import create_app

__all__ = ["create_app"]
