"""A finished item's reply, back to the upper-level platform it was forwarded from (``reply``
of its source in the ticket catalogue): one JSON file per reply in a directory (written to a
temporary name, synced, then renamed: a reader never sees half a file), or a webhook (POST of
the JSON; any 2xx is sent).

A webhook with a ``secret`` is signed: ``X-Hotline-Timestamp`` (Unix seconds) and
``X-Hotline-Signature: sha256=<hex>``, the HMAC-SHA256 with the secret of
``<timestamp>.<body>`` (the body's bytes as sent); ``X-Hotline-Key`` is the message's
once-only key (a platform that sees it twice may drop the second)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import aiohttp

from ivr.config.catalogue_sources import ReplyModel
from ivr.notify.gateways import SendFailed, env_value, post_json

SIGNATURE = "X-Hotline-Signature"
TIMESTAMP = "X-Hotline-Timestamp"
KEY = "X-Hotline-Key"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of ``<timestamp>.<body>`` under ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def secret_of(ref: str) -> str:
    """``env:NAME`` (read now) or the key itself."""
    return env_value(ref)


def reply_file_name(key: str) -> str:
    """``T20261205-0001:finished:0`` -> ``T20261205-0001.finished.0.json``."""
    return re.sub(r"[^A-Za-z0-9_.-]", ".", key) + ".json"


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


async def send_reply(
    reply: ReplyModel,
    key: str,
    body: dict[str, Any],
    var_dir: Path,
    session: aiohttp.ClientSession,
    timeout: float,
) -> None:
    data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
    if reply.directory is not None:
        directory = Path(reply.directory)
        directory = directory if directory.is_absolute() else var_dir / directory
        try:
            await asyncio.to_thread(_write_atomic, directory / reply_file_name(key), data)
        except OSError as exc:
            raise SendFailed(f"cannot write the reply in {directory}: {exc}") from None
        return
    if reply.webhook is None:
        raise SendFailed("the source's reply has neither directory nor webhook", True)
    headers = {KEY: key}
    if reply.secret is not None:
        stamp = str(int(time.time()))
        headers[TIMESTAMP] = stamp
        headers[SIGNATURE] = signature(secret_of(reply.secret), stamp, data)
    await post_json(session, "POST", reply.webhook, data, headers, timeout)
