"""The JSON bodies of ``/api/knowledge...`` (the knowledge base, 常用提示): what
:mod:`ivr.web.knowledge_routes` reads and writes, listed in its part's ``models`` so that
``/api/openapi.json`` documents them. Times are ISO 8601 in the centre's zone with its
offset."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ivr.knowledge import Draft, Entry, Hit
from ivr.knowledge.entry import MAX_BODY, MAX_TAGS, MAX_TITLE

Tag: Any = Field(default_factory=list, max_length=MAX_TAGS, description="keywords, searched too")


class KnowledgeDraftBody(BaseModel):
    """A new entry (``POST /api/knowledge``)."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=MAX_TITLE, description="e.g. 城乡居民医保缴费")
    body: str = Field(min_length=1, max_length=MAX_BODY, description="the answer to read out")
    kind: Literal["answer", "phone"] = Field("answer", description="phone: a department's number")
    department: str | None = Field(None, max_length=40, description="a department code")
    phone: str | None = Field(None, max_length=40, description="a phone entry's number")
    tags: list[str] = Tag
    approve: bool | None = Field(
        None,
        description="a supervisor's or admin's entry is approved at once unless false; an "
        "operator's is a proposal (true: 403 HL-KNO-004)",
    )

    def draft(self) -> Draft:
        return Draft(
            self.title, self.body, self.kind, self.department, self.phone, tuple(self.tags)
        )


class KnowledgeEditBody(BaseModel):
    """New content for an entry (``POST /api/knowledge/{entry_id}``)."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    kind: Literal["answer", "phone"] = "answer"
    department: str | None = Field(None, max_length=40)
    phone: str | None = Field(None, max_length=40)
    tags: list[str] = Tag
    version: int | None = Field(
        None, description="the version read; another edit since is 409 HL-KNO-003"
    )

    def draft(self) -> Draft:
        return Draft(
            self.title, self.body, self.kind, self.department, self.phone, tuple(self.tags)
        )


class KnowledgeDecisionBody(BaseModel):
    """Approve, reject (a note is required) or retire an entry."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=500, description="why; kept with the entry")


class KnowledgeEntryOut(BaseModel):
    id: int
    title: str
    body: str
    kind: str = Field(description="answer or phone")
    department: str | None
    phone: str | None
    tags: list[str]
    state: str = Field(description="proposed, approved, rejected or retired")
    proposed_by: str
    proposed_at: str
    decided_by: str | None
    decided_at: str | None
    decision_note: str | None
    version: int
    updated_at: str


class KnowledgeHitOut(BaseModel):
    entry: KnowledgeEntryOut
    snippet: str = Field(description="up to 80 characters of the answer, around the match")
    marks: list[tuple[int, int]] = Field(description="[start, end) spans of snippet to mark")
    title_marks: list[tuple[int, int]] = Field(description="[start, end) spans of the title")
    score: float = Field(description="relevance (higher is better; 0 in a plain listing)")
    every: bool = Field(description="the entry holds every term of the query")


class KnowledgeSearchOut(BaseModel):
    query: str = Field(description="what was searched; empty: a listing, newest change first")
    state: str = Field(description="approved, or what a supervisor asked for")
    hits: list[KnowledgeHitOut]


def _iso(when: dt.datetime | None, tz: dt.tzinfo) -> str | None:
    return None if when is None else when.astimezone(tz).isoformat(timespec="seconds")


def entry_out(e: Entry, tz: dt.tzinfo) -> KnowledgeEntryOut:
    return KnowledgeEntryOut(
        id=e.id,
        title=e.title,
        body=e.body,
        kind=e.kind,
        department=e.department,
        phone=e.phone,
        tags=list(e.tags),
        state=e.state,
        proposed_by=e.proposed_by,
        proposed_at=_iso(e.proposed_at, tz) or "",
        decided_by=e.decided_by,
        decided_at=_iso(e.decided_at, tz),
        decision_note=e.decision_note,
        version=e.version,
        updated_at=_iso(e.updated_at, tz) or "",
    )


def hit_out(h: Hit, tz: dt.tzinfo) -> KnowledgeHitOut:
    return KnowledgeHitOut(
        entry=entry_out(h.entry, tz),
        snippet=h.snippet,
        marks=h.marks,
        title_marks=h.title_marks,
        score=h.score,
        every=h.every,
    )


KNOWLEDGE_MODELS: tuple[type[BaseModel], ...] = (
    KnowledgeDecisionBody,
    KnowledgeDraftBody,
    KnowledgeEditBody,
    KnowledgeEntryOut,
    KnowledgeHitOut,
    KnowledgeSearchOut,
)
