"""What a running ``hotline serve`` tells the other ``hotline`` commands on the same machine:
its FastAGI URL, HTTP port and Redis, in ``var/server.json`` (mode 0600: the Redis URL may
hold a password) next to its pid file. ``hotline asterisk reload`` and ``asterisk-conf``
generate the dialplan for the server that runs, not for whatever this shell's environment
says, and print which they used."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ivr.settings import Settings

FILE = "server.json"


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    agi_url: str
    http_port: int | None
    redis_url: str
    database_url: str | None


def path(settings: Settings) -> Path:
    return settings.var_dir / FILE


def write(settings: Settings, server: ServerInfo) -> None:
    target = path(settings)
    tmp = target.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(server.__dict__, f)
    os.replace(tmp, target)


def remove(settings: Settings) -> None:
    path(settings).unlink(missing_ok=True)


def read(settings: Settings) -> ServerInfo | None:
    """The server running from this var directory, None when none runs (a file left by a
    server that died is ignored)."""
    try:
        data = json.loads(path(settings).read_text())
        server = ServerInfo(**data)
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(server.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # it runs, as another user
    return server
