"""Whether an object provides a runtime-checkable protocol, known once per class.

On Python 3.11 ``isinstance(obj, SomeProtocol)`` looks up every member of the protocol on
every check (8-13 us here), and a call's path asks several times (is the channel able to read
its state, is the waiter one that holds places ...): issue 13. A class provides a protocol's
methods or it does not, so the answer is kept per class. Protocols whose members an instance
may add on its own (not its class) are not for this.
"""

from __future__ import annotations

_known: dict[tuple[type, object], bool] = {}


def provides(obj: object, protocol: object) -> bool:
    """``isinstance(obj, protocol)`` for a ``@runtime_checkable`` protocol of methods."""
    key = (type(obj), protocol)
    known = _known.get(key)
    if known is None:
        assert isinstance(protocol, type)
        known = _known[key] = isinstance(obj, protocol)
    return known
