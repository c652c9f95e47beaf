"""What the knowledge base holds and answers: an entry, a draft of one, who acts, a search
hit; the kinds, the states and who may decide."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

#: answer: a common answer (口径) for the operator to read out; phone: a department's number
KINDS = ("answer", "phone")
#: proposed -> approved | rejected; approved -> retired
STATES = ("proposed", "approved", "rejected", "retired")
#: the roles that approve, reject, edit, retire and see the proposals ("cli": the console)
DECIDERS = ("supervisor", "admin", "cli")

MAX_TITLE = 200
MAX_BODY = 4000
MAX_TAGS = 12
MAX_TAG = 20


@dataclass(frozen=True)
class Actor:
    """Who acts: a user name and its role, or ``cli:<login name>`` with role ``cli``; from
    which address (for the audit log)."""

    name: str
    role: str
    address: str = ""

    @property
    def decides(self) -> bool:
        return self.role in DECIDERS


@dataclass(frozen=True)
class Draft:
    """An entry's content, as proposed or edited."""

    title: str
    body: str
    kind: str = "answer"
    department: str | None = None
    phone: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry:
    id: int
    title: str
    body: str
    kind: str
    department: str | None
    phone: str | None
    tags: tuple[str, ...]
    state: str
    proposed_by: str
    proposed_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str | None
    version: int
    updated_at: dt.datetime

    def draft(self) -> Draft:
        return Draft(self.title, self.body, self.kind, self.department, self.phone, self.tags)


@dataclass(frozen=True)
class Hit:
    """One entry a search found. ``marks``: the [start, end) spans of ``snippet`` that match
    the query, ``title_marks`` those of the title; ``every``: it holds every query term;
    ``score``: the database's relevance (higher is better)."""

    entry: Entry
    score: float
    every: bool
    snippet: str
    marks: list[tuple[int, int]] = field(default_factory=list)
    title_marks: list[tuple[int, int]] = field(default_factory=list)
