"""``hotline import FILE --source CODE``: items forwarded by an upper-level platform, from a
JSON or CSV file, as tickets (docs/intake.md). Registered by :mod:`ivr.cli`.

One line per refused row (``FILE: row 3, column 电话: ... [HL-IMP-002]``) and per ticket kept
at the centre for an operator, then the batch's counts. The database is the ticket commands'
(``--database-url``, else ``HOTLINE_DATABASE_URL``, else SQLite in var/), migrated first as
the server does (a dry run only reads it). The batch is audited as ``cli:<login name>``.

Exit codes: 0 every item created or already there; 3 some rows refused, the others imported;
1 nothing imported (the file unreadable, the source unknown, the database away)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from ivr.console.cli_common import actor as actor_of
from ivr.console.cli_common import by_option, common_options, db_of, run, service_of, unavailable
from ivr.console.users_cli import cli_actor
from ivr.intake.importer import ALREADY, CREATED, REFUSED, BatchReport, Importer
from ivr.intake.item import IntakeError
from ivr.intake.parse import FORMATS, read_category_map, read_file
from ivr.settings import Settings

SOME_REFUSED = 3


def _format(args: argparse.Namespace, path: Path) -> str:
    if args.format:
        return str(args.format)
    suffix = path.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    raise IntakeError(f"{path}: say --format json or --format csv (the name does not tell)")


def summary(report: BatchReport, source_name: str) -> str:
    counts = report.counts()
    kept = sum(1 for i in report.items if i.outcome == CREATED and i.state == "accepted")
    verb = "would be created" if report.dry_run else "created"
    created = f"{counts[CREATED]} {verb}"
    if not report.dry_run and counts[CREATED]:
        created += f" ({counts[CREATED] - kept} dispatched, {kept} kept at the centre)"
    head = "dry run, nothing changed: " if report.dry_run else ""
    return (
        f"{head}{report.source} ({source_name}): {len(report.items)} items: {created}, "
        f"{counts[ALREADY]} already there, {counts[REFUSED]} refused"
    )


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    fmt = _format(args, path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IntakeError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        parsed = read_file(raw, fmt)
    except IntakeError as exc:
        raise IntakeError(f"{path}: {exc.message}") from None
    mapping = None
    if args.category_map:
        try:
            mapping = read_category_map(Path(args.category_map).read_bytes())
        except OSError as exc:
            raise IntakeError(f"{args.category_map}: cannot read: {exc.strerror or exc}") from None
        except IntakeError as exc:
            raise IntakeError(f"{args.category_map}: {exc.message}") from None
    service = service_of(args, settings, migrate_first=not args.dry_run)
    importer = Importer(service, actor_of(args))
    try:
        report = importer.run(
            parsed, args.source, default_category=args.default_category,
            category_map=mapping, dry_run=args.dry_run, auditor=cli_actor(),
        )  # fmt: skip
    except (OperationalError, InterfaceError) as exc:
        raise unavailable(db_of(args, settings), exc) from exc
    if parsed.encoding.startswith("GBK"):
        print(f"{path}: read as {parsed.encoding} (not UTF-8)")
    if parsed.ignored_columns:
        print(f"{path}: columns not read: {', '.join(parsed.ignored_columns)}")
    for item in report.items:
        if item.outcome == REFUSED:
            column = f", column {item.column}" if item.column else ""
            print(f"{path}: {item.where}{column}: {item.message} [{item.error_id}]")
        elif item.message:
            print(f"{path}: {item.where}: ticket {item.number} {item.message}")
    print(summary(report, service.catalogue.source_name(args.source)))
    return SOME_REFUSED if report.counts()[REFUSED] else 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "import",
        help="take the items an upper-level platform forwarded (JSON or CSV) as tickets, "
        "once per source and id; exit 3 when some rows were refused",
    )
    p.add_argument("file", metavar="FILE", help="the items: a JSON list, or CSV with a header")
    p.add_argument(
        "--source", required=True, help="the platform: a source of kind upper in the catalogue"
    )
    p.add_argument("--format", choices=FORMATS, help="default: by the file's name")
    p.add_argument(
        "--default-category",
        metavar="CATEGORY",
        help="for items whose category is missing or not in the catalogue (path or name)",
    )
    p.add_argument(
        "--category-map",
        metavar="FILE",
        help="YAML: the platform's categories and the catalogue's (供暖问题: utilities.heating)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="read and check every item; change nothing"
    )
    by_option(p)
    common_options(p)
    p.set_defaults(func=run(cmd_import))
