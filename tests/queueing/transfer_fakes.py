"""A fake of what the transfer service asks of AMI (:class:`queueing.transfer.ManagerPort`),
answering as Asterisk 22 does: ``Getvar BRIDGEPEER`` of a bridged caller, ``Setvar``,
``Hangup``, ``Redirect`` (with ``ExtraChannel``), ``Originate`` of the third party."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from queueing.ami import AMIError, OriginateResult


@dataclass
class FakeManager:
    #: caller uniqueid -> the operator's channel it is bridged to
    peers: dict[str, str] = field(default_factory=dict)
    variables: dict[tuple[str, str], str] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    originates: list[dict[str, Any]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # actions answered with an error
    down: bool = False  # every action raises, as an AMIClient that cannot connect
    originate_status: str = "ANSWER"
    ringing: asyncio.Event | None = None  # set: the originated party answers (or not) then

    async def action(self, name: str, *extra: tuple[str, str], **fields: Any) -> dict[str, str]:
        if self.down:
            raise AMIError("AMI connection lost")
        self.actions.append({"Action": name, **{k: str(v) for k, v in fields.items()}})
        if name in self.refuse:
            return {"Response": "Error", "Message": f"{name} failed"}
        if name == "Getvar":
            value = self.peers.get(fields["Channel"], "")
            if fields["Variable"] != "BRIDGEPEER":
                value = self.variables.get((fields["Channel"], fields["Variable"]), "")
            return {"Response": "Success", "Variable": fields["Variable"], "Value": value}
        if name == "Setvar":
            self.variables[(fields["Channel"], fields["Variable"])] = str(fields["Value"])
        return {"Response": "Success", "Message": f"{name} successful"}

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
        if self.down:
            raise AMIError("AMI connection lost")
        self.originates.append(
            {"channel": channel, "context": context, "exten": exten, "caller_id": caller_id}
        )
        if self.ringing is not None:
            await self.ringing.wait()
        name = f"{channel}-00000042" if self.originate_status == "ANSWER" else channel
        return OriginateResult(self.originate_status, name, "third.1")

    def names(self) -> list[str]:
        return [a["Action"] for a in self.actions]
