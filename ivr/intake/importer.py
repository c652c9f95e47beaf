"""Taking a batch of forwarded items as tickets.

Each item is accepted (受理) as the desk's ticket form would accept it, with its source,
external id and received time: once per source and external id, so a batch sent again (a
retry, the same file imported twice) creates nothing new and reports those items as already
there. The items go in chunks of :data:`CHUNK`, each in one transaction
(:meth:`~ivr.tickets.service.TicketService.accept_forwarded`). Two imports of the same item at
the same moment both see it missing and race to the database's unique (source, external_id):
the loser's chunk is rolled back and its items are taken one by one
(:meth:`~ivr.tickets.service.TicketService.accept`), the raced one reading the winner's
ticket back (or losing once more, and reading it back then), so it too reports it as already
there.

A created ticket is dispatched (派单) as the desk's "dispatch" does: to the department the
item names (its hint), else to the catalogue's dispatch map's department for its category. A
category without one leaves the ticket accepted at the centre for an operator, and the batch
says so. An item refused (a field missing or wrong, a type, category or department the
catalogue does not know) is reported with its row and column and stops nothing else.

One audit row per batch (``intake.import``, target ``source:<code>``) holds the counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from ivr.accounts.audit import write_audit
from ivr.accounts.identity import Principal
from ivr.db.errors import DatabaseUnavailable
from ivr.db.tables import TicketRow
from ivr.errors import HotlineError
from ivr.intake.item import BAD_ITEM, NOT_IN_CATALOGUE, IntakeError, IntakeItem, UnknownSource
from ivr.intake.parse import Parsed, ParsedRow, RowError
from ivr.tickets.display import resolve
from ivr.tickets.errors import BadTicketInput
from ivr.tickets.forwarded import Forwarded
from ivr.tickets.lifecycle import State
from ivr.tickets.service import TicketService

CREATED, ALREADY, REFUSED = "created", "already", "refused"
MAX_MESSAGE = 300  # a refusal listing the whole catalogue is cut
LOOKUP_CHUNK = 500  # external ids looked up in one query
CHUNK = 200  # items accepted in one transaction
DISPATCH_NOTE = "forwarded item: dispatched by the catalogue"


@dataclass
class Outcome:
    where: str
    external_id: str
    outcome: str  # created | already | refused
    number: str | None = None
    state: str | None = None
    department: str | None = None
    error_id: str | None = None
    column: str | None = None
    message: str = ""


@dataclass
class BatchReport:
    source: str
    dry_run: bool = False
    encoding: str = "utf-8"
    ignored_columns: list[str] = field(default_factory=list)
    items: list[Outcome] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {CREATED: 0, ALREADY: 0, REFUSED: 0}
        for item in self.items:
            out[item.outcome] += 1
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "counts": self.counts(),
            "encoding": self.encoding,
            "ignored_columns": self.ignored_columns,
            "items": [asdict(i) for i in self.items],
        }


@dataclass(frozen=True)
class Resolved:
    item: IntakeItem
    type: str
    category: str
    department: str | None


@dataclass
class Batch:
    """What every item of one batch is read with."""

    source: str
    default: str | None  # the default category's path
    mapping: dict[str, str]  # the platform's category -> the catalogue's path
    dry_run: bool
    columns: dict[str, str]  # field -> the file's column name
    known: dict[str, TicketRow]  # external id -> its ticket, taken before this batch
    seen: set[str] = field(default_factory=set)  # external ids created in this batch


class Importer:
    """Imports batches into ``service``'s tickets; ``actor`` accepts them (a user name, or the
    console's ``--by``)."""

    def __init__(self, service: TicketService, actor: str, chunk: int = CHUNK) -> None:
        self.service = service
        self.actor = actor[:40]
        self.chunk = chunk  # items a transaction; 1: one by one, as the desk files them

    # ------------------------------------------------------------------ catalogue look-ups

    def check_source(self, source: str) -> None:
        uppers = self.service.catalogue.upper_sources()
        if source not in uppers:
            known = ", ".join(f"{c} ({s.name})" for c, s in uppers.items()) or "none"
            raise UnknownSource(
                f"source {source!r} is not an upper-level platform of the ticket catalogue "
                f"(sources of kind upper: {known})"
            )

    def category_of(self, value: str) -> str:
        cat = self.service.catalogue
        known = {c: i.full_name for c, i in cat.categories.items()}
        return resolve("category", value, known, " (a path such as housing.property or a name)")

    def default_category(self, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return self.category_of(value)
        except BadTicketInput as exc:
            raise IntakeError(f"default category: {exc.message}") from None

    def category_map(self, mapping: dict[str, str] | None) -> dict[str, str]:
        """The platform's category names -> the catalogue's paths, every one checked."""
        out = {}
        for theirs, ours in (mapping or {}).items():
            try:
                out[theirs.strip()] = self.category_of(ours)
            except BadTicketInput as exc:
                raise IntakeError(f"category map: {theirs!r}: {exc.message}") from None
        return out

    def _resolve(self, row: ParsedRow, b: Batch) -> Resolved | RowError:
        cat, item, source = self.service.catalogue, row.item, b.source
        assert item is not None

        def refused(column: str, error_id: str, message: str) -> RowError:
            if len(message) > MAX_MESSAGE:
                message = message[: MAX_MESSAGE - 1] + "…"
            return RowError(row.where, b.columns.get(column, column), error_id, message)

        if item.source is not None and item.source != source:
            return refused("source", BAD_ITEM, f"{item.source!r}, but this batch is {source!r}")
        try:
            kind = resolve("type", item.type, {c: t.name for c, t in cat.types.items()})
        except BadTicketInput as exc:
            return refused("type", NOT_IN_CATALOGUE, exc.message)
        category = b.mapping.get(item.category) or b.default
        if item.category and item.category not in b.mapping:
            try:
                category = self.category_of(item.category)
            except BadTicketInput as exc:
                if b.default is None:
                    return refused("category", NOT_IN_CATALOGUE, exc.message)
        if category is None:
            return refused(
                "category", NOT_IN_CATALOGUE, "none given and no default category for the batch"
            )
        department = None
        if item.department:
            names = {c: d.name for c, d in cat.departments.items()}
            try:
                department = resolve("department", item.department, names)
            except BadTicketInput as exc:
                return refused("department", NOT_IN_CATALOGUE, exc.message)
        return Resolved(item, kind, category, department)

    # ------------------------------------------------------------------ the batch

    def run(
        self,
        parsed: Parsed,
        source: str,
        *,
        default_category: str | None = None,
        category_map: dict[str, str] | None = None,
        dry_run: bool = False,
        auditor: Principal | str | None = None,
        address: str = "",
    ) -> BatchReport:
        """Import every item of ``parsed`` from ``source``: a category is looked up in
        ``category_map`` (the platform's names) first, then in the catalogue, and
        ``default_category`` stands for one missing or unknown. ``auditor`` (default: the
        actor) is who the audit row names. A dry run resolves and looks up, and changes
        nothing."""
        self.check_source(source)
        default = self.default_category(default_category)
        mapping = self.category_map(category_map)
        report = BatchReport(source, dry_run, parsed.encoding, list(parsed.ignored_columns))
        ids = [r.item.external_id for r in parsed.rows if r.item is not None]
        known = self.find_many(source, ids)
        batch = Batch(source, default, mapping, dry_run, parsed.columns, known)
        rows, step = parsed.rows, max(self.chunk, 1)
        try:
            for at in range(0, len(rows), step):
                report.items.extend(self._chunk(rows[at : at + step], batch))
        except (DatabaseUnavailable, OperationalError, InterfaceError) as exc:
            raise self._lost(exc, report, len(parsed.rows)) from exc
        if not dry_run:
            after = {**report.counts(), "items": len(report.items)}
            with self.service.db.session() as s:
                write_audit(
                    s, auditor or self.actor, "intake.import", f"source:{source}", None, after,
                    address, self.service.clock(),
                )  # fmt: skip
        return report

    def _lost(self, exc: Exception, report: BatchReport, total: int) -> DatabaseUnavailable:
        """The database went away in the middle of a batch: say how far it got."""
        cause = exc.__cause__ if isinstance(exc, DatabaseUnavailable) else exc
        reason = " ".join(str(getattr(cause, "orig", None) or cause).split())
        return DatabaseUnavailable(
            f"database {self.service.db.safe_url} went away after {len(report.items)} of "
            f"{total} items ({reason}): those stand; import the batch again when it is back "
            "(an item taken is not taken twice)"
        )

    def _chunk(self, rows: list[ParsedRow], b: Batch) -> list[Outcome]:
        outcomes: list[Outcome] = []
        pending: list[tuple[int, ParsedRow, Resolved]] = []
        for row in rows:
            first = self._check(row, b)
            if isinstance(first, Resolved):
                pending.append((len(outcomes), row, first))
                outcomes.append(Outcome(row.where, first.item.external_id, CREATED))
            else:
                outcomes.append(first)
        for i, outcome in self._take(pending, b.source):
            outcomes[i] = outcome
        return outcomes

    def _take(
        self, pending: list[tuple[int, ParsedRow, Resolved]], source: str
    ) -> list[tuple[int, Outcome]]:
        """Accept and dispatch the items of a chunk in one transaction; if another import
        took one of them at the same moment, one by one."""
        if self.chunk > 1 and pending:
            items = [self._forwarded(r, source) for _, _, r in pending]
            try:
                taken = self.service.accept_forwarded(items, actor=self.actor, note=DISPATCH_NOTE)
            except IntegrityError:
                pass  # nothing of the chunk was written: one by one below
            else:
                return [
                    (i, self._taken(row, ticket, created))
                    for (i, row, _), (ticket, created) in zip(pending, taken, strict=True)
                ]
        return [(i, self._accept(row, r, source)) for i, row, r in pending]

    def _forwarded(self, r: Resolved, source: str) -> Forwarded:
        item, tz = r.item, self.service.deadlines.calendar.tz
        return Forwarded(
            source=source, external_id=item.external_id,
            received_at=item.local_received(tz).astimezone(dt.UTC), caller=item.phone,
            content=item.content, type=r.type, category=r.category, caller_name=item.name,
            address=item.address, confidential=item.confidential, department=r.department,
        )  # fmt: skip

    def _taken(self, row: ParsedRow, ticket: TicketRow, created: bool) -> Outcome:
        if not created:
            return self._outcome(row, ALREADY, ticket)
        if ticket.state == State.ACCEPTED.value:
            note = (
                f"kept at the centre for an operator: category {ticket.category!r} has no "
                "department in the dispatch catalogue"
            )
            return self._outcome(row, CREATED, ticket, note)
        return self._outcome(row, CREATED, ticket)

    def _check(self, row: ParsedRow, b: Batch) -> Outcome | Resolved:
        """The item's outcome if it is refused, already there or a dry run; else what to
        accept."""
        if row.error is not None or row.item is None:
            error = row.error or RowError(row.where, None, BAD_ITEM, "unreadable")
            return self._refused(row, error)
        found = self._resolve(row, b)
        if isinstance(found, RowError):
            return self._refused(row, found)
        ext = row.item.external_id
        # taken before this batch, or earlier in it (an id given twice)
        existing = b.known.get(ext) or (self.find(b.source, ext) if ext in b.seen else None)
        if existing is not None or (b.dry_run and ext in b.seen):
            return self._outcome(row, ALREADY, existing)
        b.seen.add(ext)
        if b.dry_run:
            return Outcome(row.where, ext, CREATED, department=found.department)
        return found

    def _refused(self, row: ParsedRow, error: RowError) -> Outcome:
        return Outcome(
            row.where, row.external_id, REFUSED, error_id=error.error_id, column=error.column,
            message=error.message,
        )  # fmt: skip

    @staticmethod
    def _outcome(row: ParsedRow, outcome: str, t: TicketRow | None, message: str = "") -> Outcome:
        ext = row.item.external_id if row.item else row.external_id
        if t is None:
            return Outcome(row.where, ext, outcome, message=message)
        return Outcome(row.where, ext, outcome, t.number, t.state, t.department, message=message)

    def find_many(self, source: str, external_ids: list[str]) -> dict[str, TicketRow]:
        """The tickets already taken from ``source`` among ``external_ids``, by id."""
        found: dict[str, TicketRow] = {}
        with self.service.db.session() as s:
            for at in range(0, len(external_ids), LOOKUP_CHUNK):
                chunk = external_ids[at : at + LOOKUP_CHUNK]
                rows = s.scalars(
                    select(TicketRow).where(
                        TicketRow.source == source, TicketRow.external_id.in_(chunk)
                    )
                )
                found.update((str(t.external_id), t) for t in rows)
        return found

    def find(self, source: str, external_id: str) -> TicketRow | None:
        with self.service.db.session() as s:
            return s.scalar(
                select(TicketRow).where(
                    TicketRow.source == source, TicketRow.external_id == external_id
                )
            )

    def _accept(self, row: ParsedRow, r: Resolved, source: str) -> Outcome:
        item, service = r.item, self.service
        when = service.clock().astimezone(dt.UTC)
        try:
            ticket = service.accept(
                caller=item.phone, type=r.type, category=r.category, actor=self.actor,
                content=item.content, caller_name=item.name, address=item.address,
                dialled="", confidential=item.confidential, source=source,
                external_id=item.external_id,
                received_at=item.local_received(service.deadlines.calendar.tz).astimezone(dt.UTC),
                now=when,
            )  # fmt: skip
        except IntegrityError:
            # another import of the same item won the race to the unique (source, external_id)
            raced = self.find(source, item.external_id)
            if raced is None:
                raise
            return self._outcome(row, ALREADY, raced)
        if ticket.accepted_at != when or ticket.accepted_by != self.actor:
            return self._outcome(row, ALREADY, ticket)  # taken meanwhile by another import
        return self._dispatch(row, ticket, r.department)

    def _dispatch(self, row: ParsedRow, ticket: TicketRow, hint: str | None) -> Outcome:
        """派单 as the desk does: the hint, else the dispatch map; without either, or when the
        lifecycle refuses, the ticket stays accepted for an operator."""
        if ticket.state != State.ACCEPTED.value:
            return self._outcome(row, CREATED, ticket)
        try:
            done = self.service.act(
                ticket.number, "dispatch", actor=self.actor, department=hint,
                note=DISPATCH_NOTE,
            )  # fmt: skip
        except HotlineError as exc:
            note = f"kept at the centre for an operator: {exc.message}"
            return self._outcome(row, CREATED, ticket, note)
        return self._outcome(row, CREATED, done)
