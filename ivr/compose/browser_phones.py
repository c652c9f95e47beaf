"""The desk's browser phones in ``hotline serve`` (docs/webrtc.md): their accounts and STUN/TURN
servers for the desk (:func:`browser_phones`), and their watcher
(:class:`queueing.phonewatch.PhoneWatch`, :func:`watch_phones`): the agents of agents.yaml
with a ``webrtc`` account and queue.yaml ``settings`` ``phone_offline_seconds`` (both read
again at each round, so a reload applies; ``phone_probe_seconds`` at the start), an AMI
connection of its own as the ``dialler`` user, and an audit row by ``system:phone-watch`` for
each pause. The watcher runs with the HTTP app (the desk is where browser phones live); none
when the dialler (AMI) is off. Agents given a browser phone by a reload are watched from the
next round; with none, a round is one Redis command."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

from aiohttp import web

from ivr.accounts import Accounts
from ivr.asterisk.conf_options import DEV_SECRETS_FILE, stored_password
from ivr.compose.transfers import open_manager
from ivr.config.queue_models import AgentSpec
from ivr.runtime import ConfigHolder
from ivr.settings import Settings
from ivr.web.ice_servers import parse_ice_servers
from ivr.web.phone_routes import BrowserPhones
from queueing.model import AgentState
from queueing.phonewatch import OFFLINE, PhoneWatch
from queueing.queue import RedisQueue

log = logging.getLogger(__name__)

ACTOR = "system:phone-watch"


def browser_phones(settings: Settings) -> BrowserPhones:
    """The browser phones' WebSocket URL, SIP passwords (agents.yaml ``webrtc.secret``:
    ``env:``, ``file:``, else the development one ``hotline asterisk up`` made in var/) and
    STUN/TURN servers (``HOTLINE_WEBRTC_ICE_SERVERS``: raises ``HL-SRV-015`` if wrong)."""

    def password(spec: AgentSpec) -> str | None:
        if spec.webrtc is None:
            return None
        secrets = settings.var_dir / DEV_SECRETS_FILE
        return stored_password(spec.webrtc.secret, spec.webrtc.username, secrets)

    ice = tuple(parse_ice_servers(settings.webrtc_ice_servers))
    return BrowserPhones(settings.webrtc_ws_url, password, ice)


def browser_interfaces(holder: ConfigHolder) -> dict[str, str]:
    """Agent id -> ``PJSIP/<webrtc username>`` for the agents with a browser phone."""
    return {
        a.id: a.browser_interface
        for a in holder.current.agents.agents
        if a.browser_interface is not None
    }


def watch_phones(
    app: web.Application,
    holder: ConfigHolder,
    queue: RedisQueue,
    accounts: Accounts,
    secret_file: Path,
) -> PhoneWatch | None:
    """Start the watcher with ``app`` and stop it with it (None: nothing to watch)."""
    ami = open_manager(holder.current.queue, secret_file)
    if ami is None:
        if browser_interfaces(holder):
            log.info("browser phones not watched: queue.yaml dialler (AMI) is off")
        return None

    async def audit(before: AgentState) -> None:
        was = {"state": before.state, "interface": before.interface}
        now = {"state": "paused", "reason": OFFLINE}
        try:
            await asyncio.to_thread(
                accounts.audit, ACTOR, "agent.pause", f"agent:{before.id}", before=was, after=now
            )
        except Exception as exc:  # the pause is made; the row is logged instead
            log.error("audit of the pause of agent %s not written: %s", before.id, exc)

    watch = PhoneWatch(
        queue,
        ami,
        lambda: browser_interfaces(holder),
        lambda: holder.current.queue.settings.phone_offline_seconds,
        probe=holder.current.queue.settings.phone_probe_seconds,
        on_pause=audit,
        server=f"{socket.gethostname()}-{id(app):x}",
    )

    async def start(_: web.Application) -> None:
        watch.start()

    async def stop(_: web.Application) -> None:
        await watch.stop()
        await ami.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return watch
