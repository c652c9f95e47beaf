"""A small asyncio client for the Asterisk Manager Interface (AMI), enough for the callback
dialler: log in, ``Originate`` (asynchronous, with its ``OriginateResponse`` event), follow a
callback through the ``UserEvent(HotlineCallback, ...)`` its dialplan sends (:meth:`watch`)
and wait for the ``Hangup`` of the channel it created.

AMI is line based: the server greets with ``Asterisk Call Manager/x.y.z``, then every
message is ``Key: Value`` lines ended by an empty line. Responses carry the ``ActionID`` of
their action; events come unasked. One reader task routes both.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from queueing.errors import AMIError as AMIError  # re-exported: raised here

log = logging.getLogger(__name__)

# OriginateResponse ``Reason``: the last control frame of the originated channel.
REASONS = {4: "ANSWER", 5: "BUSY", 3: "NOANSWER", 1: "NOANSWER", 8: "CONGESTION"}
_KEEP_HANGUPS = 1000
#: The ``UserEvent`` name of the callback dialplan (``hotline-callback.conf``), keyed by the
#: ``Callback`` header (the callback's uniqueid).
CALLBACK_EVENT = "HotlineCallback"
#: What a watch queue gets when the AMI connection is lost.
LOST: dict[str, str] = {"Event": "HotlineAMILost"}
#: The per-install secret of the local Asterisk's AMI user (under the var directory), used
#: when ``env:NAME`` is not set: written once by ``hotline asterisk up`` / ``asterisk-conf``.
SECRET_FILE = "ami-secret"


def resolve_secret(ref: str) -> str:
    """``env:NAME`` or ``file:/path`` (first line), as everywhere in the config."""
    kind, _, value = ref.partition(":")
    if kind == "env":
        secret = os.environ.get(value)
        if secret is None:
            raise AMIError(f"the AMI secret variable {value} is not set", code="HL-QUE-041")
        return secret
    if kind == "file":
        try:
            return Path(value).read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise AMIError(
                f"cannot read the AMI secret {value}: {exc}", code="HL-QUE-041"
            ) from None
    raise AMIError(f"unknown secret reference {ref!r} (env:NAME or file:/path)", code="HL-QUE-041")


def find_secret(ref: str, fallback: Path | None) -> str:
    """``ref`` (see :func:`resolve_secret`); for an ``env:NAME`` that is not set, the
    per-install secret file ``fallback`` (``var/ami-secret``) when it exists."""
    try:
        return resolve_secret(ref)
    except AMIError:
        if not ref.startswith("env:") or fallback is None or not fallback.is_file():
            raise
    try:
        return fallback.read_text(encoding="utf-8").splitlines()[0].strip()
    except (OSError, IndexError) as exc:
        raise AMIError(f"cannot read the AMI secret {fallback}: {exc}", code="HL-QUE-041") from None


def ensure_secret_file(path: Path) -> str:
    """The secret kept in ``path``, created (random, mode 0600) if missing."""
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text.splitlines()[0].strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(24)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secret + "\n")
    os.replace(tmp, path)
    return secret


@dataclass(frozen=True)
class OriginateResult:
    status: str  # ANSWER, NOANSWER, BUSY, CONGESTION, CHANUNAVAIL (as Dial's DIALSTATUS)
    channel: str = ""
    uniqueid: str = ""
    reason: int = 0

    @property
    def answered(self) -> bool:
        return self.status == "ANSWER"


def encode(fields: dict[str, str] | list[tuple[str, str]]) -> bytes:
    items = fields.items() if isinstance(fields, dict) else fields
    return "".join(f"{k}: {v}\r\n" for k, v in items).encode() + b"\r\n"


class AMIClient:
    """One AMI connection. Connects (and logs in) on first use and again after a loss."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str | Callable[[], str],
        *,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port = host, port
        # a callable is asked at each login: the secret may appear after the start
        self.username, self.secret = username, secret
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._responses: dict[str, asyncio.Future[dict[str, str]]] = {}
        self._originates: dict[str, asyncio.Future[dict[str, str]]] = {}
        self._hangups: dict[str, asyncio.Future[dict[str, str]]] = {}
        self._hung_up: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._watches: dict[str, asyncio.Queue[dict[str, str]]] = {}
        self._ties: dict[str, str] = {}  # channel uniqueid -> watch key
        self._lock = asyncio.Lock()
        self.banner = ""

    @property
    def connected(self) -> bool:
        return self._writer is not None and self._task is not None and not self._task.done()

    async def connect(self) -> None:
        async with self._lock:
            if self.connected:
                return
            async with asyncio.timeout(self.timeout):
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                self.banner = (await self._reader.readline()).decode("utf-8", "replace").strip()
            if not self.banner.startswith("Asterisk Call Manager"):
                await self._drop()
                raise AMIError(f"{self.host}:{self.port} is not AMI ({self.banner!r})")
            self._task = asyncio.create_task(self._read(), name="ami-reader")
        try:
            secret = self.secret() if callable(self.secret) else self.secret
        except AMIError:
            await self._drop()
            raise
        reply = await self.action("Login", Username=self.username, Secret=secret)
        if reply.get("Response") != "Success":
            await self.close()
            raise AMIError(
                f"AMI login as {self.username} at {self.host}:{self.port} refused "
                f"({reply.get('Message', '')}): the secret differs from manager.conf's; run "
                "`hotline asterisk reload` (or `asterisk-conf`) with the same secret"
            )

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.write(encode({"Action": "Logoff"}))
        await self._drop()

    async def _drop(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        self._fail_all(AMIError("AMI connection lost"))

    def _fail_all(self, exc: Exception) -> None:
        for table in (self._responses, self._originates, self._hangups):
            for fut in table.values():
                if not fut.done():
                    fut.set_exception(exc)
            table.clear()
        for queue in self._watches.values():
            queue.put_nowait(LOST)

    async def _read(self) -> None:
        assert self._reader is not None
        message: dict[str, str] = {}
        try:
            while True:
                raw = await self._reader.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line:
                    key, _, value = line.partition(":")
                    message[key.strip()] = value.strip()
                    continue
                if message:
                    self._route(message)
                message = {}
        except (OSError, asyncio.IncompleteReadError) as exc:
            log.warning("AMI connection to %s:%s failed: %s", self.host, self.port, exc)
        self._writer = None
        self._fail_all(AMIError("AMI connection closed"))

    def _route(self, msg: dict[str, str]) -> None:
        aid = msg.get("ActionID", "")
        if "Response" in msg and "Event" not in msg:  # OriginateResponse has a Response too
            fut = self._responses.pop(aid, None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
            return
        event = msg.get("Event", "")
        if event == "OriginateResponse":
            fut = self._originates.pop(aid, None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
        elif event == "UserEvent" and msg.get("UserEvent") == CALLBACK_EVENT:
            queue = self._watches.get(msg.get("Callback", ""))
            if queue is not None:
                queue.put_nowait(msg)
        elif event == "Hangup":
            uid = msg.get("Uniqueid", "")
            key = self._ties.pop(uid, None)
            if key is not None and key in self._watches:
                self._watches[key].put_nowait(msg)
            fut = self._hangups.pop(uid, None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
            else:
                self._hung_up[uid] = msg
                while len(self._hung_up) > _KEEP_HANGUPS:
                    self._hung_up.popitem(last=False)

    def _send(self, fields: list[tuple[str, str]]) -> None:
        if self._writer is None:
            raise AMIError("AMI is not connected")
        self._writer.write(encode(fields))

    async def action(self, name: str, *extra: tuple[str, str], **fields: Any) -> dict[str, str]:
        """Send an action and return its response (``extra`` for repeated keys)."""
        if not self.connected:
            await self.connect()
        aid = f"hl-{os.getpid()}-{next(self._ids)}"
        fut: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._responses[aid] = fut
        items = [("Action", name), ("ActionID", aid), *((k, str(v)) for k, v in fields.items())]
        self._send([*items, *extra])
        try:
            async with asyncio.timeout(self.timeout):
                return await fut
        finally:
            self._responses.pop(aid, None)

    async def originate(
        self,
        channel: str,
        *,
        context: str,
        exten: str,
        priority: int = 1,
        timeout: float = 30.0,
        caller_id: str = "",
        variables: dict[str, str] | None = None,
    ) -> OriginateResult:
        """Call ``channel``; once it answers it enters ``context,exten,priority``. Returns
        when the channel answered or failed (``OriginateResponse``)."""
        if not self.connected:
            await self.connect()
        aid = f"hl-{os.getpid()}-{next(self._ids)}"
        done: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._originates[aid] = done
        fut: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._responses[aid] = fut
        fields = [
            ("Action", "Originate"),
            ("ActionID", aid),
            ("Channel", channel),
            ("Context", context),
            ("Exten", exten),
            ("Priority", str(priority)),
            ("Timeout", str(int(timeout * 1000))),
            ("Async", "true"),
        ]
        if caller_id:
            fields.append(("CallerID", caller_id))
        fields += [("Variable", f"{k}={v}") for k, v in (variables or {}).items()]
        try:
            self._send(fields)
            async with asyncio.timeout(self.timeout):
                reply = await fut
            if reply.get("Response") != "Success":
                log.warning("AMI Originate %s refused: %s", channel, reply.get("Message", ""))
                return OriginateResult("CHANUNAVAIL", channel)
            async with asyncio.timeout(timeout + self.timeout):
                event = await done
        finally:
            self._responses.pop(aid, None)
            self._originates.pop(aid, None)
        reason = int(event.get("Reason", "0") or 0)
        status = "ANSWER" if event.get("Response") == "Success" else REASONS.get(reason, "")
        if status == "ANSWER" and event.get("Response") != "Success":
            status = "NOANSWER"
        return OriginateResult(
            status or "CHANUNAVAIL",
            event.get("Channel", channel),
            event.get("Uniqueid", ""),
            reason,
        )

    async def wait_hangup(self, uniqueid: str, timeout: float) -> bool:
        """Wait until the channel ``uniqueid`` hangs up; False after ``timeout``."""
        if uniqueid in self._hung_up:
            del self._hung_up[uniqueid]
            return True
        fut: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._hangups[uniqueid] = fut
        try:
            async with asyncio.timeout(timeout):
                await fut
            return True
        except TimeoutError:
            return False
        finally:
            self._hangups.pop(uniqueid, None)

    # -- following a callback -------------------------------------------------------------

    def watch(self, key: str) -> asyncio.Queue[dict[str, str]]:
        """The ``UserEvent(HotlineCallback)`` messages whose ``Callback`` header is ``key``,
        the ``Hangup`` of the channels :meth:`tie` d to it, and :data:`LOST` if the
        connection is lost. Call before the action that causes them."""
        queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._watches[key] = queue
        return queue

    def tie(self, key: str, uniqueid: str) -> None:
        """Report the ``Hangup`` of channel ``uniqueid`` to the watch ``key`` (also when it
        was seen already)."""
        queue = self._watches.get(key)
        if queue is None or not uniqueid:
            return
        seen = self._hung_up.pop(uniqueid, None)
        if seen is not None:
            queue.put_nowait(seen)
        else:
            self._ties[uniqueid] = key

    def unwatch(self, key: str) -> None:
        self._watches.pop(key, None)
        for uid in [u for u, k in self._ties.items() if k == key]:
            del self._ties[uid]

    async def ping(self) -> None:
        """``Ping``: raises if the connection or Asterisk does not answer in time."""
        reply = await self.action("Ping")
        if reply.get("Response") != "Success":
            raise AMIError(f"AMI Ping answered {reply.get('Response')}: {reply.get('Message', '')}")
