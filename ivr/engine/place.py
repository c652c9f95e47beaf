"""A caller's queue place, held from the moment the call is answered while the menu plays.

The national rule is a person within 15 s, and no menu holds a caller back. So the engine
places the caller in the operator queue at answer (the line's skill, the default priority)
and plays the welcome and the menu while the caller waits there. Between the pieces of every
prompt, and each second of a digit wait, it asks whether an operator has been reserved for
the caller: if so the menu stops (:class:`OfferArrived`) and the operator is rung at once.
Only the must-hear notices (a merged line's "your number has moved", the recording notice)
always play to their end first.

Keys keep or give up the place: a key that picks another skill moves the caller there with
its original enqueue time; a key that chooses self-service (a lookup, a message, a transfer)
leaves the queue; a caller who hangs up during the menu has abandoned it (a caller whose
Asterisk box went away has left it too, without abandoning it: ``pbx-lost``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol, TypeGuard, runtime_checkable

from ivr.engine.provides import provides
from queueing.queue import QueuePlace, QueueRequest


@runtime_checkable
class PlaceHolder(Protocol):
    """A waiter that holds a caller's place during the menu
    (:class:`ivr.queuewait.waiter.RedisQueueWaiter`)."""

    def hold(self, request: QueueRequest) -> None: ...

    def offer_waiting(self, uniqueid: str) -> bool: ...

    async def move(self, uniqueid: str, skill: str, reason: str) -> QueuePlace: ...

    async def leave(self, uniqueid: str, target: str, reason: str) -> None: ...

    async def abandon(self, uniqueid: str, lost_box: str | None = None) -> float | None: ...


def holds_places(waiter: object) -> TypeGuard[PlaceHolder]:
    """Whether ``waiter`` is a :class:`PlaceHolder` (known once per waiter class)."""
    return provides(waiter, PlaceHolder)


class OfferArrived(Exception):
    """An operator is reserved for the held caller: the menu stops here."""


@dataclass
class HeldPlace:
    """One caller's place while the menu plays."""

    holder: PlaceHolder
    request: QueueRequest
    place: QueuePlace

    @property
    def uniqueid(self) -> str:
        return self.request.uniqueid

    @property
    def skill(self) -> str:
        return self.request.skill

    def check(self) -> None:
        """Raise :class:`OfferArrived` when an operator waits for this caller."""
        if self.holder.offer_waiting(self.request.uniqueid):
            raise OfferArrived(self.request.uniqueid)

    async def move(self, skill: str, priority: int, reason: str) -> None:
        """To ``skill`` (a key picked it), keeping the enqueue time."""
        if skill != self.request.skill:
            self.place = await self.holder.move(self.request.uniqueid, skill, reason)
        self.request = dataclasses.replace(self.request, skill=skill, priority=priority)

    async def leave(self, target: str, reason: str) -> None:
        await self.holder.leave(self.request.uniqueid, target, reason)

    async def abandon(self, lost_box: str | None = None) -> float | None:
        """The caller hung up (ABANDON); with ``lost_box``, its Asterisk box went away
        (PBXLOST: not the caller's doing)."""
        return await self.holder.abandon(self.request.uniqueid, lost_box)
