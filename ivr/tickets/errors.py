"""Errors of the ticket package. Codes are stable (``HL-TKT-...``), see docs/tickets.md."""

from __future__ import annotations

from ivr.errors import HotlineError


class TicketError(HotlineError):
    code = "HL-TKT-000"


class TransitionRefused(TicketError):
    """The state machine does not allow this action in the ticket's state."""

    code = "HL-TKT-002"


class TicketNotFound(TicketError):
    code = "HL-TKT-003"


class BadTicketInput(TicketError):
    """A value given to a ticket action is missing or wrong (unknown type, no reason...)."""

    code = "HL-TKT-004"


class ConcurrentUpdate(TicketError):
    """Someone else changed the ticket at the same moment; read it again and retry."""

    code = "HL-TKT-005"


class OwnExtensionRefused(TicketError):
    """The person who asked for an extension tried to approve or reject it themselves."""

    code = "HL-TKT-008"
