"""The knowledge base's store: entries proposed, approved, rejected, edited, retired, found.

Synchronous (the web calls it in a thread). Every change is one transaction holding the
entry, its row of the full-text index (:mod:`ivr.knowledge.fulltext`) and its row of the
audit log (``knowledge.propose``, ``.approve``, ``.reject``, ``.edit``, ``.retire``,
``.import``: who, when, the entry before and after).

Who may: anyone at the desk proposes; a decider (supervisor, admin, the console) approves,
rejects, edits and retires, and may approve its own proposal at once. Search shows the
approved entries; a decider may ask for the proposals too.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.db.database import Database
from ivr.db.knowledge_tables import KnowledgeRow
from ivr.db.tables import AuditRow
from ivr.knowledge import fulltext
from ivr.knowledge.entry import (
    KINDS,
    MAX_BODY,
    MAX_TAG,
    MAX_TAGS,
    MAX_TITLE,
    STATES,
    Actor,
    Draft,
    Entry,
    Hit,
)
from ivr.knowledge.errors import (
    EntryInvalid,
    EntryNotFound,
    EntryStateConflict,
    KnowledgeForbidden,
)
from ivr.knowledge.highlight import snippet, spans
from ivr.knowledge.segment import joined, terms

MAX_QUERY = 100  # characters of a query that are searched


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _control(text: str, allowed: str = "") -> bool:
    """``text`` holds a control character (NUL ...) other than ``allowed``."""
    return any(unicodedata.category(c) == "Cc" and c not in allowed for c in text)


def printable(text: str) -> str:
    """``text`` without its control characters (a query; tabs and newlines are spaces)."""
    spaced = text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return "".join(c for c in spaced if unicodedata.category(c) != "Cc")


def check_draft(draft: Draft) -> Draft:
    """``draft`` trimmed, or :class:`EntryInvalid` naming what is wrong."""
    one_line = [draft.title, draft.kind, draft.department or "", draft.phone or "", *draft.tags]
    if _control(draft.body, "\n\r\t") or any(_control(t) for t in one_line):
        raise EntryInvalid("control characters (NUL ...) are not text: remove them")
    title, body = " ".join(draft.title.split()), draft.body.strip()
    phone = (draft.phone or "").strip() or None
    tags = tuple(dict.fromkeys(t.strip() for t in draft.tags if t.strip()))
    if not title or len(title) > MAX_TITLE:
        raise EntryInvalid(f"title: give 1 to {MAX_TITLE} characters")
    if not body or len(body) > MAX_BODY:
        raise EntryInvalid(f"body: give the answer, 1 to {MAX_BODY} characters")
    if draft.kind not in KINDS:
        raise EntryInvalid(f"kind {draft.kind!r}: one of {', '.join(KINDS)}")
    if draft.kind == "phone" and not phone:
        raise EntryInvalid("a phone entry needs its phone number (phone)")
    if phone is not None and len(phone) > 40:
        raise EntryInvalid("phone: at most 40 characters")
    if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG for t in tags):
        raise EntryInvalid(f"tags: at most {MAX_TAGS}, each at most {MAX_TAG} characters")
    department = (draft.department or "").strip() or None
    if department is not None and len(department) > 40:
        raise EntryInvalid("department: a department code of at most 40 characters")
    return Draft(title, body, draft.kind, department, phone, tags)


def to_entry(row: KnowledgeRow) -> Entry:
    return Entry(
        id=row.id,
        title=row.title,
        body=row.body,
        kind=row.kind,
        department=row.department,
        phone=row.phone,
        tags=tuple(row.tags or ()),
        state=row.state,
        proposed_by=row.proposed_by,
        proposed_at=row.proposed_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        version=row.version,
        updated_at=row.updated_at,
    )


def _brief(row: KnowledgeRow) -> dict[str, Any]:
    """What the audit log keeps of an entry."""
    return {
        "title": row.title,
        "body": row.body,
        "kind": row.kind,
        "department": row.department,
        "phone": row.phone,
        "tags": list(row.tags or ()),
        "state": row.state,
        "version": row.version,
    }


class KnowledgeBase:
    """The store on ``database``. ``departments`` (code -> name, from the ticket catalogue)
    puts a department's name among its entries' search terms, so that 供水总公司 finds the
    water company's number filed under ``water``."""

    def __init__(
        self,
        database: Database,
        departments: Mapping[str, str] | None = None,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.db = database
        self.departments = dict(departments or {})
        self.clock = clock

    # ------------------------------------------------------------------ helpers

    def _terms(self, row: KnowledgeRow) -> None:
        row.title_terms = joined(" ".join([row.title, *(row.tags or ())]))
        name = self.departments.get(row.department or "", "")
        row.body_terms = joined(" ".join([row.body, row.phone or "", row.department or "", name]))

    def _row(self, s: Session, entry_id: int) -> KnowledgeRow:
        row = s.get(KnowledgeRow, entry_id)
        if row is None:
            raise EntryNotFound(f"no knowledge entry {entry_id}")
        return row

    def _audit(self, s: Session, actor: Actor, action: str, row: KnowledgeRow, before: Any) -> None:
        def js(value: Any) -> str | None:
            return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

        s.add(
            AuditRow(
                at=self.clock(),
                actor=actor.name[:80],
                role=actor.role[:20],
                action=f"knowledge.{action}",
                target=f"knowledge:{row.id}",
                before_json=js(before),
                after_json=js(_brief(row)),
                address=actor.address[:64],
            )
        )

    @staticmethod
    def _decider(actor: Actor, what: str) -> None:
        if not actor.decides:
            raise KnowledgeForbidden(f"a {actor.role} may not {what}: ask a supervisor")

    @staticmethod
    def _fill(row: KnowledgeRow, draft: Draft) -> None:
        row.title, row.body, row.kind = draft.title, draft.body, draft.kind
        row.department, row.phone, row.tags = draft.department, draft.phone, list(draft.tags)

    # ------------------------------------------------------------------ changes

    def propose(self, draft: Draft, actor: Actor, *, approve: bool = False) -> Entry:
        """A new entry, proposed; approved at once when ``approve`` and ``actor`` decides."""
        draft = check_draft(draft)
        if approve:
            self._decider(actor, "approve an entry")
        now = self.clock()
        with self.db.session() as s:
            row = KnowledgeRow(
                state="approved" if approve else "proposed",
                proposed_by=actor.name[:80],
                proposed_at=now,
                decided_by=actor.name[:80] if approve else None,
                decided_at=now if approve else None,
                version=1,
                updated_at=now,
            )
            self._fill(row, draft)
            self._terms(row)
            s.add(row)
            fulltext.put(s, row)
            self._audit(s, actor, "propose", row, None)
            return to_entry(row)

    def _decide(
        self, entry_id: int, actor: Actor, state: str, note: str | None, action: str
    ) -> Entry:
        allowed = {"approved": ("proposed",), "rejected": ("proposed",), "retired": ("approved",)}
        self._decider(actor, f"{action} an entry")
        with self.db.session() as s:
            row = self._row(s, entry_id)
            if row.state not in allowed[state]:
                raise EntryStateConflict(
                    f"entry {entry_id} is {row.state}: only a {' or '.join(allowed[state])} "
                    f"entry can be {state}"
                )
            before = _brief(row)
            row.state, row.decided_by, row.decided_at = state, actor.name[:80], self.clock()
            row.decision_note = (note or "").strip() or None
            row.updated_at = row.decided_at
            self._audit(s, actor, action, row, before)
            return to_entry(row)

    def approve(self, entry_id: int, actor: Actor, note: str | None = None) -> Entry:
        return self._decide(entry_id, actor, "approved", note, "approve")

    def reject(self, entry_id: int, actor: Actor, note: str) -> Entry:
        if not note.strip():
            raise EntryInvalid("note: say why the proposal is rejected")
        return self._decide(entry_id, actor, "rejected", note, "reject")

    def retire(self, entry_id: int, actor: Actor, note: str | None = None) -> Entry:
        return self._decide(entry_id, actor, "retired", note, "retire")

    def edit(
        self, entry_id: int, draft: Draft, actor: Actor, *, version: int | None = None
    ) -> Entry:
        """New content for a proposed or approved entry (its state stays); ``version``: the
        version the editor read (another edit since is a conflict)."""
        self._decider(actor, "edit an entry")
        draft = check_draft(draft)
        with self.db.session() as s:
            row = self._row(s, entry_id)
            if row.state not in ("proposed", "approved"):
                raise EntryStateConflict(f"entry {entry_id} is {row.state}: it cannot be edited")
            if version is not None and version != row.version:
                raise EntryStateConflict(
                    f"entry {entry_id} was changed since (version {row.version}, not "
                    f"{version}): read it again"
                )
            before = _brief(row)
            self._fill(row, draft)
            self._terms(row)
            row.version += 1
            row.updated_at = self.clock()
            fulltext.put(s, row)
            self._audit(s, actor, "edit", row, before)
            return to_entry(row)

    def import_entries(self, drafts: Sequence[Draft], actor: Actor) -> tuple[int, int, int]:
        """Entries of an admin file, approved: a new title (of its kind) is added, an entry
        of that title and kind is edited if its content differs. Returns (added, changed,
        unchanged). All or nothing: one transaction."""
        self._decider(actor, "import entries")
        checked = [check_draft(d) for d in drafts]
        added = changed = same = 0
        now = self.clock()
        with self.db.session() as s:
            live = select(KnowledgeRow).where(KnowledgeRow.state.in_(("proposed", "approved")))
            by_title = {(r.title, r.kind): r for r in s.scalars(live)}
            for draft in checked:
                row = by_title.get((draft.title, draft.kind))
                if row is not None and row.state == "approved" and to_entry(row).draft() == draft:
                    same += 1
                    continue
                before = None if row is None else _brief(row)
                if row is None:
                    row = KnowledgeRow(proposed_by=actor.name[:80], proposed_at=now, version=0)
                    s.add(row)
                    by_title[(draft.title, draft.kind)] = row
                    added += 1
                else:
                    changed += 1
                self._fill(row, draft)
                self._terms(row)
                row.state, row.decided_by, row.decided_at = "approved", actor.name[:80], now
                row.version += 1
                row.updated_at = now
                fulltext.put(s, row)
                self._audit(s, actor, "import", row, before)
        return added, changed, same

    def reindex(self) -> int:
        """Segment every entry again and rebuild the index (after a jieba upgrade, or a
        change of the department names). Returns the number of entries."""
        with self.db.session() as s:
            fulltext.clear(s)
            rows = list(s.scalars(select(KnowledgeRow).order_by(KnowledgeRow.id)))
            for row in rows:
                self._terms(row)
                fulltext.put(s, row)
            return len(rows)

    # ------------------------------------------------------------------ reading

    def get(self, entry_id: int, viewer: Actor | None = None) -> Entry:
        """The entry; a ``viewer`` who does not decide sees approved entries and its own
        proposals only (others: :class:`EntryNotFound`)."""
        with self.db.session() as s:
            entry = to_entry(self._row(s, entry_id))
        if viewer is None or viewer.decides or entry.state == "approved":
            return entry
        if entry.proposed_by != viewer.name:
            raise EntryNotFound(f"no knowledge entry {entry_id}")
        return entry

    def entries(self, state: str | None = None, limit: int = 100) -> list[Entry]:
        """Entries (of ``state``), newest change first."""
        if state is not None and state not in STATES:
            raise EntryInvalid(f"state {state!r}: one of {', '.join(STATES)}")
        stmt = select(KnowledgeRow).order_by(KnowledgeRow.updated_at.desc(), KnowledgeRow.id)
        if state is not None:
            stmt = stmt.where(KnowledgeRow.state == state)
        with self.db.session() as s:
            return [to_entry(r) for r in s.scalars(stmt.limit(limit))]

    def search(self, query: str, limit: int = 10, include_proposed: bool = False) -> list[Hit]:
        """The approved entries (and the proposals, with ``include_proposed``) that match
        ``query``, best first, each with a highlighted snippet of its answer."""
        query = " ".join(printable(query).split())[:MAX_QUERY]
        words = terms(query)
        states = ("approved", "proposed") if include_proposed else ("approved",)
        with self.db.session() as s:
            found = fulltext.search(s, words, query, states, max(1, min(limit, 50)))
            rows = {
                r.id: r
                for r in s.scalars(
                    select(KnowledgeRow).where(KnowledgeRow.id.in_([f.id for f in found]))
                )
            }
        hits = []
        for f in found:
            entry = to_entry(rows[f.id])
            text, marks = snippet(entry.body, words)
            hits.append(Hit(entry, f.score, f.every, text, marks, spans(entry.title, words)))
        return hits
