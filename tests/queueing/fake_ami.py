"""A small fake Asterisk Manager Interface: banner, Login, Ping, Originate (Response, then an
OriginateResponse event as Asterisk sends it for ``Async: true``), the callback dialplan's
``UserEvent(HotlineCallback)`` for the citizen's leg (``Stage: answer`` at once when the
citizen answers; ``Stage: hangup`` with the DIALSTATUS when not), and the hangup of an
answered channel when the test says so."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field


@dataclass
class FakeAMI:
    secret: str = "s3cret"
    #: per Originate in turn: "ANSWER", "NOANSWER", "BUSY"; then "ANSWER"
    outcomes: list[str] = field(default_factory=list)
    #: per answered Originate in turn, the citizen's leg: "ANSWER", "NOANSWER", "BUSY" ...;
    #: then "ANSWER"
    citizen: list[str] = field(default_factory=list)
    originates: list[dict[str, list[str]]] = field(default_factory=list)
    logins: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    answered: list[str] = field(default_factory=list)  # uniqueids of answered channels

    _callbacks: dict[str, str] = field(default_factory=dict)  # channel uniqueid -> callback

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for w in self._writers:
            w.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def hangup(self, uniqueid: str, by: str = "agent", status: str = "ANSWER") -> None:
        """The agent's channel ``uniqueid`` hangs up: the agent hung up (the dialplan's Dial
        had not returned), or the citizen did (``by="citizen"``: Dial returned ``status``)."""
        callback = self._callbacks.pop(uniqueid, "")
        for w in self._writers:
            if callback:
                w.write(_user_event(callback, "hangup", status if by == "citizen" else ""))
            w.write(_msg([("Event", "Hangup"), ("Uniqueid", uniqueid), ("Cause", "16")]))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        authed = False
        msg: dict[str, list[str]] = {}
        while raw := await reader.readline():
            line = raw.decode().rstrip("\r\n")
            if line:
                k, _, v = line.partition(":")
                msg.setdefault(k.strip(), []).append(v.strip())
                continue
            if not msg:
                continue
            action, aid = msg["Action"][0].lower(), msg.get("ActionID", [""])[0]
            if action == "login":
                if msg.get("Secret", [""])[0] == self.secret:
                    authed = True
                    self.logins += 1
                    writer.write(_msg([("Response", "Success"), ("ActionID", aid),
                                       ("Message", "Authentication accepted")]))  # fmt: skip
                else:
                    writer.write(_msg([("Response", "Error"), ("ActionID", aid),
                                       ("Message", "Authentication failed")]))  # fmt: skip
            elif action == "originate" and authed:
                self.originates.append(msg)
                writer.write(_msg([("Response", "Success"), ("ActionID", aid),
                                   ("Message", "Originate successfully queued")]))  # fmt: skip
                await writer.drain()
                await asyncio.sleep(0.01)  # the agent rings
                outcome = self.outcomes.pop(0) if self.outcomes else "ANSWER"
                uid = f"1790000000.{next(self._ids)}"
                ok = outcome == "ANSWER"
                reason = {"ANSWER": "4", "NOANSWER": "3", "BUSY": "5"}[outcome]
                if ok:
                    self.answered.append(uid)
                writer.write(_msg([
                    ("Event", "OriginateResponse"), ("ActionID", aid),
                    ("Response", "Success" if ok else "Failure"),
                    ("Channel", msg["Channel"][0]), ("Context", msg["Context"][0]),
                    ("Exten", msg["Exten"][0]), ("Reason", reason),
                    ("Uniqueid", uid if ok else "<null>"),
                ]))  # fmt: skip
                if ok:
                    await self._citizen_leg(writer, msg, uid)
            elif action == "ping":
                writer.write(_msg([("Response", "Success"), ("ActionID", aid), ("Ping", "Pong")]))
            elif action == "logoff":
                writer.write(_msg([("Response", "Goodbye"), ("ActionID", aid)]))
            else:
                writer.write(_msg([("Response", "Error"), ("ActionID", aid),
                                   ("Message", "Permission denied")]))  # fmt: skip
            await writer.drain()
            msg = {}

    async def _citizen_leg(
        self, writer: asyncio.StreamWriter, msg: dict[str, list[str]], uid: str
    ) -> None:
        """The dialplan of the answered agent's channel dials the citizen."""
        variables = dict(v.partition("=")[::2] for v in msg.get("Variable", []))
        callback = variables.get("HOTLINE_CALLBACK", "")
        await writer.drain()
        await asyncio.sleep(0.01)  # the citizen's phone rings
        outcome = self.citizen.pop(0) if self.citizen else "ANSWER"
        if outcome == "ANSWER":
            self._callbacks[uid] = callback
            writer.write(_user_event(callback, "answer", ""))
        else:  # the agent hears the prompt, then the dialplan hangs up
            writer.write(_user_event(callback, "hangup", outcome))
            writer.write(_msg([("Event", "Hangup"), ("Uniqueid", uid), ("Cause", "16")]))


def _user_event(callback: str, stage: str, status: str) -> bytes:
    fields = [("Event", "UserEvent"), ("UserEvent", "HotlineCallback"),
              ("Callback", callback), ("Stage", stage)]  # fmt: skip
    if stage == "hangup":
        fields.append(("Status", status))
    return _msg(fields)


def _msg(fields: list[tuple[str, str]]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n").encode()
