"""What the generated Asterisk config needs besides the admin config (:class:`ConfOptions`):
the operators with their SIP passwords resolved (:func:`load_agents`), the callback dialler's
AMI user (:func:`ami_user`), the FastAGI URLs and the process-AGI command line.

SIP passwords come from ``env:NAME`` or ``file:/path``; for the local development Asterisk an
unset variable gets a random password kept in ``var/asterisk-secrets.json`` (mode 0600). The
AMI user's secret is ``dialler.secret`` of queue.yaml (``env:HOTLINE_AMI_SECRET``); when that
variable is not set, a random one is made once per install into ``var/ami-secret`` (mode 0600),
where ``hotline serve`` finds it too.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ivr.asterisk.chroot import project_dir
from ivr.asterisk.errors import AsteriskConfigError
from ivr.asterisk.ws_options import WebSocketOptions
from ivr.config.bundle import ConfigBundle
from ivr.config.queue_models import DiallerSettings
from ivr.settings import Settings
from queueing.ami import SECRET_FILE, AMIError, ensure_secret_file, resolve_secret
from queueing.client import CLUSTER_SCHEME

__all__ = [
    "DEV_CALLER",
    "DEV_SECRETS_FILE",
    "Agent",
    "AmiUser",
    "ConfOptions",
    "ProcessAGI",
    "ami_user",
    "default_agi_urls",
    "dev_caller_password",
    "load_agents",
    "process_agi_for",
    "process_agi_for_paths",
    "stored_password",
]

#: the development SIP passwords (var/, mode 0600), made by ``hotline asterisk up``
DEV_SECRETS_FILE = "asterisk-secrets.json"
DEV_CALLER = "citizen"  # a softphone account that calls in like a citizen (development only)


@dataclass(frozen=True)
class Agent:
    """An operator: a member of the static queue (``interface``, any dial string) and, when
    the agent has a ``sip`` account in agents.yaml, a PJSIP endpoint ``endpoint`` (the SIP user
    name) with ``password``, whose calls go to ``context``."""

    agent_id: str
    name: str
    interface: str
    endpoint: str | None = None
    password: str = ""
    context: str = "operators"
    max_contacts: int = 1
    #: the browser phone (agents.yaml ``webrtc``): a ``webrtc = yes`` endpoint of its own
    webrtc: str | None = None
    webrtc_password: str = ""
    webrtc_context: str = "operators"


@dataclass(frozen=True)
class ProcessAGI:
    """How Asterisk starts the pyst2 process script: ``AGI(/usr/bin/env,K=V,...,python,script)``.

    Going through env(1) hands the script its HOTLINE_* settings without touching Asterisk's
    own environment."""

    python: str
    script: str
    env: Mapping[str, str] = field(default_factory=dict)

    def command(self) -> list[str]:
        args = ["/usr/bin/env", *(f"{k}={v}" for k, v in sorted(self.env.items()))]
        return [*args, self.python, self.script]


@dataclass(frozen=True)
class ConfOptions:
    agi_urls: tuple[str, ...]
    sip_bind: str = "0.0.0.0"
    sip_port: int = 5060
    #: addresses (or networks) the carrier's gateway sends from
    carrier_match: tuple[str, ...] = ("127.0.0.1",)
    #: where calls to the carrier go (``sip:gw.example:5060``); empty: inbound only
    carrier_contact: str = ""
    process_agi: ProcessAGI | None = None
    moh_dir: Path | None = None
    agents: tuple[Agent, ...] = ()
    agents_source: str = "no config/agents.yaml yet"
    static_queue_timeout: int = 300
    #: A queued caller whose FastAGI session broke off while a server's queue waiter held it
    #: (the server died or was stopped, see [hotline-serve]) is held on music this many
    #: seconds, then every FastAGI URL is tried again (a restarted server takes it back) ...
    agi_retry_seconds: int = 2
    #: ... for this long in all, before the process script; None: half of queue.yaml's
    #: ``lease_seconds`` (its place in the Redis queue is kept for the lease); 0: no retry
    agi_retry_window: float | None = None
    #: password of the development softphone account ``citizen`` (None: no such account)
    dev_caller_password: str | None = None
    #: the callback dialler's AMI user (None: AMI off), see :func:`ami_user`
    ami: AmiUser | None = None
    #: the browser phones' WebSocket (ws on loopback by default; None: no browser phones)
    websocket: WebSocketOptions | None = field(default_factory=WebSocketOptions)
    #: the Kamailio front door this box stands behind (``sip:host:port``; empty: none), see
    #: :mod:`ivr.asterisk.conf_behind`
    kamailio: str = ""


@dataclass(frozen=True)
class AmiUser:
    """The one manager.conf user: the callback dialler's. AMI listens on loopback only."""

    username: str
    secret: str
    port: int = 5038
    bind: str = "127.0.0.1"


def ami_user(dialler: DiallerSettings, var_dir: Path | None) -> AmiUser | None:
    """The AMI user for queue.yaml's ``dialler`` (None when the dialler is off).

    The secret is ``dialler.secret``: ``file:/path``, or ``env:NAME``; when that variable is
    not set, the per-install secret ``<var_dir>/ami-secret``, made once (random, mode 0600),
    which ``hotline serve`` reads as well. It is never written into the repository."""
    if not dialler.enabled:
        return None
    kind = dialler.secret.partition(":")[0]
    try:
        secret = resolve_secret(dialler.secret)
    except AMIError as exc:
        if kind != "env" or var_dir is None:
            raise AsteriskConfigError(
                f"queue.yaml dialler.secret: {exc.message}; set it, or turn the dialler off "
                "(dialler.enabled: false)"
            ) from None
        secret = ensure_secret_file(var_dir / SECRET_FILE)
    if not secret or not re.match(r"^[^\s;,]+$", secret):
        raise AsteriskConfigError(
            f"the AMI secret from {dialler.secret} is empty or holds a space, ';' or ',' "
            "(manager.conf cannot take it): choose another"
        )
    return AmiUser(dialler.username, secret, dialler.port)


def default_agi_urls(settings: Settings) -> tuple[str, ...]:
    """``$HOTLINE_AGI_URLS`` (space or comma separated), else the local server's URL."""
    raw = os.environ.get("HOTLINE_AGI_URLS", "").replace(",", " ").split()
    if raw:
        return tuple(raw)
    host = settings.agi_host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return (f"agi://{host}:{settings.agi_port}/hotline",)


def process_agi_for(settings: Settings, config_dir: Path | None = None) -> ProcessAGI:
    """The process script of this checkout, run by this checkout's Python, with ``settings``."""
    return process_agi_for_paths(
        config_dir=Path(config_dir or settings.config_dir),
        recordings_dir=settings.recordings_dir,
        var_dir=settings.var_dir,
        redis_url=settings.redis_url,
        database_url=os.environ.get("HOTLINE_DATABASE_URL") or None,
    )


def process_agi_for_paths(
    *,
    config_dir: Path,
    recordings_dir: Path,
    var_dir: Path,
    redis_url: str,
    database_url: str | None = None,
) -> ProcessAGI:
    """The process script of this checkout with explicit HOTLINE_* settings (the database:
    ``database_url``, else SQLite in ``var_dir``, as for the server)."""
    project = project_dir()
    venv_python = project / ".venv" / "bin" / "python"
    python = venv_python if venv_python.exists() else Path(sys.executable)
    return ProcessAGI(
        python=str(python),
        script=str(project / "agi_scripts" / "hotline.agi"),
        env={
            "HOTLINE_CONFIG_DIR": str(config_dir.resolve()),
            "HOTLINE_RECORDINGS_DIR": str(recordings_dir.resolve()),
            "HOTLINE_VAR_DIR": str(var_dir.resolve()),
            "HOTLINE_REDIS_URL": dialplan_redis_url(redis_url),
            **({"HOTLINE_DATABASE_URL": database_url} if database_url else {}),
        },
    )


def dialplan_redis_url(url: str) -> str:
    """``url`` as a dialplan argument: a Redis Cluster's nodes joined by ``+`` (a comma
    separates the arguments of a dialplan application; the cluster URL takes either)."""
    return url.replace(",", "+") if url.startswith(CLUSTER_SCHEME) else url


def load_agents(
    bundle: ConfigBundle, secrets_file: Path | None, *, dev: bool = False
) -> tuple[list[Agent], str]:
    """The operators of ``agents.yaml`` (already validated in ``bundle``), with their SIP
    passwords resolved, and a line saying where they came from.

    A password is ``env:NAME`` (the variable must be set) or ``file:/path`` (first line). For
    the local development Asterisk (``dev``) an unset variable gets a random password instead,
    kept in ``secrets_file`` so that a softphone keeps working."""
    specs = list(bundle.agents.agents)
    if not specs:
        return [], f"no agents in {bundle.directory / 'agents.yaml'}"
    stored = _read_secrets(secrets_file)
    changed = False

    def password(agent_id: str, username: str, ref: str) -> str:
        nonlocal changed
        found = _resolve_secret(ref)
        if found is not None:
            return found
        if not dev:
            raise AsteriskConfigError(
                f"agent {agent_id}: {ref} is not set; the SIP password of {username} must be "
                "in the environment of `hotline asterisk-conf`"
            )
        if username not in stored:
            stored[username] = secrets.token_urlsafe(12)
            changed = True
        return stored[username]

    agents: list[Agent] = []
    for spec in specs:
        agent = Agent(spec.id, spec.name, spec.interface)
        if spec.sip is not None:
            sip = spec.sip
            agent = replace(
                agent,
                endpoint=sip.username,
                password=password(spec.id, sip.username, sip.secret),
                context=sip.context,
                max_contacts=sip.max_contacts,
            )
        if spec.webrtc is not None:
            web = spec.webrtc
            agent = replace(
                agent,
                webrtc=web.username,
                webrtc_password=password(spec.id, web.username, web.secret),
                webrtc_context=web.context,
            )
        agents.append(agent)
    if changed and secrets_file is not None:
        _write_secrets(secrets_file, stored)
    with_sip = sum(1 for a in agents if a.endpoint)
    with_web = sum(1 for a in agents if a.webrtc)
    return agents, (
        f"{len(agents)} operator(s) from {bundle.directory / 'agents.yaml'}, "
        f"{with_sip} with a SIP account, {with_web} with a browser phone"
    )


def _resolve_secret(ref: str) -> str | None:
    kind, _, value = ref.partition(":")
    if kind == "env":
        return os.environ.get(value) or None
    if kind == "file":
        try:
            return Path(value).read_text(encoding="utf-8").splitlines()[0].strip() or None
        except (OSError, IndexError) as exc:
            raise AsteriskConfigError(f"cannot read the SIP password file {value}: {exc}") from exc
    raise AsteriskConfigError(f"unknown secret reference {ref!r} (env:NAME or file:/path)")


def stored_password(ref: str, username: str, secrets_file: Path | None) -> str | None:
    """The SIP password of ``username`` as :func:`load_agents` gave it to Asterisk: from
    ``ref`` (``env:NAME``, ``file:/path``), else the development one kept in ``secrets_file``
    (None when there is none). ``hotline serve`` hands it to the operator's browser phone."""
    try:
        found = _resolve_secret(ref)
    except AsteriskConfigError:
        return None
    return found if found is not None else _read_secrets(secrets_file).get(username)


def dev_caller_password(secrets_file: Path) -> str:
    """The password of the development softphone account, created once."""
    stored = _read_secrets(secrets_file)
    if DEV_CALLER not in stored:
        stored[DEV_CALLER] = secrets.token_urlsafe(9)
        _write_secrets(secrets_file, stored)
    return stored[DEV_CALLER]


def _read_secrets(path: Path | None) -> dict[str, str]:
    if path is None or not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_secrets(path: Path, data: Mapping[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(dict(sorted(data.items())), f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
