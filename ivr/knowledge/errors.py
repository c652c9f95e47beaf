"""Errors of the knowledge base (``HL-KNO-nnn``, docs/errors.md), each with the HTTP status
the web answers it with."""

from __future__ import annotations

from ivr.errors import HotlineError


class KnowledgeError(HotlineError):
    """Base of the knowledge base's errors."""

    code = "HL-KNO-000"
    status: int = 400


class EntryNotFound(KnowledgeError):
    """No entry with that id (or, for an operator, none it may see)."""

    code = "HL-KNO-001"
    status = 404


class EntryInvalid(KnowledgeError):
    """An entry that cannot be saved: an empty or too long title or answer, a bad kind, a
    phone entry without a number, too many tags; or a search without words."""

    code = "HL-KNO-002"
    status = 400


class EntryStateConflict(KnowledgeError):
    """The entry's state does not allow this (approve what is not proposed, edit a retired
    entry ...), or it was changed since it was read (``version``)."""

    code = "HL-KNO-003"
    status = 409


class KnowledgeForbidden(KnowledgeError):
    """This role may not: only supervisors and admins approve, reject, edit, retire, and see
    the proposals."""

    code = "HL-KNO-004"
    status = 403


class KnowledgeFileInvalid(KnowledgeError):
    """The knowledge file (``config/knowledge.yaml``) cannot be read or does not match its
    schema."""

    code = "HL-KNO-005"
    status = 400
