"""Call ids two Asterisk boxes could share: a guard of the scale-out (docs/scale-out.md).

The queue, the live calls and the records key a call by Asterisk's UNIQUEID. A box numbers
its channels ``<time>.<counter>``; two boxes without a ``systemname`` of their own (in
``asterisk.conf`` ``[options]``, which makes it ``<systemname>-<time>.<counter>``) can give
one id to two callers, and the hotline would then hold two callers under one key. The
generated config cannot set it (``asterisk.conf`` is the box's own), so the FastAGI server
watches for it and says so (HL-AGI-012), once per box:

* two sessions at once with one UNIQUEID (one channel never runs two FastAGI sessions at
  once): two boxes gave the same id;
* ids without a ``systemname`` from two or more box addresses: they may collide one day.
"""

from __future__ import annotations

import re

__all__ = ["BoxIds"]

_BARE = re.compile(r"^\d+\.\d+$")  # <time>.<counter>: no systemname
_HOW = "set systemname = <a name per box> in [options] of each box's asterisk.conf"


class BoxIds:
    """The UNIQUEIDs of the sessions running on this server, and the boxes they came from."""

    __slots__ = ("_bare_boxes", "_live", "_told")

    def __init__(self) -> None:
        self._live: dict[str, str] = {}  # uniqueid -> box
        self._bare_boxes: set[str] = set()
        self._told: set[str] = set()  # boxes (or ids) already warned about

    def opened(self, uniqueid: str, box: str) -> str | None:
        """A session started; a problem to log (with its id), or None."""
        if not uniqueid:
            return None
        other = self._live.get(uniqueid)
        if other is not None:
            return (
                f"[HL-AGI-012] two calls at once with the UNIQUEID {uniqueid} (from Asterisk "
                f"{other or '?'} and {box or '?'}): two boxes number their calls alike and the "
                f"hotline cannot tell the callers apart; {_HOW}"
            )
        self._live[uniqueid] = box
        if not _BARE.match(uniqueid) or box in self._bare_boxes:
            return None
        self._bare_boxes.add(box)
        if len(self._bare_boxes) < 2:
            return None
        boxes = ", ".join(sorted(b or "?" for b in self._bare_boxes))
        return (
            f"[HL-AGI-012] Asterisk boxes {boxes} give call ids without a systemname "
            f"({uniqueid}): two of them may one day give one id to two callers; {_HOW}"
        )

    def closed(self, uniqueid: str, box: str) -> None:
        """A session ended."""
        if self._live.get(uniqueid) == box:
            del self._live[uniqueid]
