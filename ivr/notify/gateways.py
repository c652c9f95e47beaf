"""The SMS gateways: one interface, a file (one JSON line per SMS: tests, development, a
provider that picks files up) and a provider's HTTP API given as configuration (URL, method,
headers, a JSON body with ``{to}`` and ``{text}``; any 2xx is sent).

A send either returns (sent) or raises :class:`SendFailed`; ``permanent`` failures are not
retried. Every message carries its outbox key, once-only at our end: a provider that accepts
an idempotency key gets it as the ``Idempotency-Key`` header."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from ivr.config.notify_models import ENV_REF, FileGateway, HttpGateway, SmsSettings

#: how much of a refusing server's answer is kept in the error (a hostile one may send GBs)
ANSWER_BYTES = 300


class SendFailed(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class SmsGateway(Protocol):
    async def send(self, to: str, text: str, key: str) -> None: ...


class FileSms:
    """Appends ``{"key", "to", "text", "at"}`` as one line to ``path`` (flushed and synced
    before it counts as sent)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    async def send(self, to: str, text: str, key: str) -> None:
        at = dt.datetime.now(dt.UTC).isoformat()
        line = json.dumps({"key": key, "to": to, "text": text, "at": at}, ensure_ascii=False)
        try:
            await asyncio.to_thread(self._append, line + "\n")
        except OSError as exc:
            raise SendFailed(f"cannot append to {self.path}: {exc.strerror or exc}") from None


def env_value(value: str) -> str:
    """A header's value, ``env:NAME`` read from the environment (a missing one: permanent)."""
    match = ENV_REF.match(value)
    if match is None:
        return value
    found = os.environ.get(match.group(1))
    if found is None:
        raise SendFailed(f"the environment variable {match.group(1)} is not set", True)
    return found


def fill(template: Any, fields: dict[str, str]) -> Any:
    """The body template with ``{to}`` / ``{text}`` put into its strings."""
    if isinstance(template, str):
        return template.format(**fields)
    if isinstance(template, dict):
        return {k: fill(v, fields) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, fields) for v in template]
    return template


async def post_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
) -> None:
    """One request; 2xx returns, anything else (a status, a timeout, a refused connection)
    is :class:`SendFailed` with what the server said, cut short."""
    try:
        async with session.request(
            method,
            url,
            data=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as resp:
            if 200 <= resp.status < 300:
                return
            answer = (await resp.content.read(ANSWER_BYTES)).decode("utf-8", "replace")
            raise SendFailed(f"{url} answered HTTP {resp.status}: {answer.strip()}")
    except TimeoutError:
        raise SendFailed(f"{url} did not answer within {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise SendFailed(f"{url}: {exc.__class__.__name__}: {exc}") from None


class HttpSms:
    """A provider's HTTP API (``sms.http`` of notify.yaml)."""

    def __init__(self, spec: HttpGateway, session: aiohttp.ClientSession, timeout: float):
        self.spec = spec
        self.session = session
        self.timeout = timeout

    async def send(self, to: str, text: str, key: str) -> None:
        headers = {k: env_value(v) for k, v in self.spec.headers.items()}
        headers.setdefault("Idempotency-Key", key)
        body = json.dumps(fill(self.spec.body, {"to": to, "text": text}), ensure_ascii=False)
        await post_json(
            self.session, self.spec.method, self.spec.url, body.encode(), headers, self.timeout
        )


def gateway_of(
    sms: SmsSettings, var_dir: Path, session: aiohttp.ClientSession, timeout: float
) -> SmsGateway:
    """The gateway notify.yaml chooses (a relative file path is under var/)."""
    if sms.gateway == "http":
        assert sms.http is not None  # the model refuses gateway http without it
        return HttpSms(sms.http, session, timeout)
    return FileSms(file_path(sms.file, var_dir))


def file_path(spec: FileGateway, var_dir: Path) -> Path:
    path = Path(spec.path)
    return path if path.is_absolute() else var_dir / path
