"""Errors of the database room. Their ids are stable and kept from when the database lived in
the ticket package (``HL-TKT-001``, ``HL-TKT-006``): see docs/errors.md."""

from __future__ import annotations

from ivr.errors import HotlineError


class DatabaseUnavailable(HotlineError):
    """The database cannot be reached (call records then go to the journal)."""

    code = "HL-TKT-001"


class SchemaOutOfDate(HotlineError):
    """The database schema is older than this program: run ``hotline db upgrade``."""

    code = "HL-TKT-006"
