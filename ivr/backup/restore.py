"""``hotline restore``: an archive of :mod:`ivr.backup.archive` back into an install.

Everything is checked before anything changes: the archive against its manifest, the
database kind, the schema revision (not newer than this program's), a running server, and
what would be overwritten (a database that holds rows, config files unlike the archive's,
recordings unlike the archive's): refused unless ``--force``. Then the database, the config
and the recordings are put in place and the database is migrated to the newest revision.
"""

from __future__ import annotations

import datetime as dt
import filecmp
import json
import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from ivr.backup import (
    DatabaseMissing,
    FileProblem,
    KindMismatch,
    ServerRunning,
    TargetNotEmpty,
    dbdump,
)
from ivr.backup.archive import (
    CONFIG,
    INDEX,
    RECORDINGS,
    Install,
    read_archive,
    size_text,
    tree,
)
from ivr.db.database import Database


def _refuse_if_running(pidfile: Path) -> None:
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    except PermissionError:
        pass
    raise ServerRunning(
        f"the hotline server of this install is running (pid {pid}, {pidfile}): stop it first "
        "(systemctl stop hotline), then restore; a stale pid file can be removed"
    )


def _differing(ours: Path, theirs: Path) -> list[str]:
    """Files under ``ours`` that ``theirs`` does not have with the same content."""
    return [
        rel
        for rel in tree(ours)
        if not (theirs / rel).is_file() or not filecmp.cmp(ours / rel, theirs / rel, False)
    ]


def restore_backup(
    archive: Path, install: Install, *, force: bool, now: dt.datetime | None = None
) -> list[str]:
    """Bring ``archive`` back into ``install``; returns what was done, line by line."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    try:
        install.var_dir.mkdir(parents=True, exist_ok=True)
        _refuse_if_running(install.pidfile)
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=install.var_dir) as tmp:
            return _restore(archive, Path(tmp), install, force, stamp)
    except OSError as exc:
        raise FileProblem(f"restore stopped: {exc}") from exc


def _restore(archive: Path, staged: Path, install: Install, force: bool, stamp: str) -> list[str]:
    manifest = read_archive(archive, staged)
    db, rec = manifest["database"], manifest.get("recordings", {})
    url = install.database_url
    target_kind = dbdump.kind_of(url)
    if db["kind"] != target_kind:
        raise KindMismatch(
            f"{archive} holds a {db['kind']} database; this install uses {target_kind} "
            f"({dbdump.safe(url)}): set HOTLINE_DATABASE_URL (or --database-url) to a "
            f"{db['kind']} database"
        )
    # -- what would be overwritten: all refusals before anything changes ---------------
    rows = dbdump.tables_with_rows(url)
    config_diff = _differing(install.config_dir, staged / CONFIG)
    rec_diff = _differing(staged / RECORDINGS, install.recordings_dir)
    rec_diff = [rel for rel in rec_diff if (install.recordings_dir / rel).exists()]
    conflicts = []
    if rows:
        conflicts.append(
            f"database {dbdump.safe(url)} holds data ({len(rows)} table(s) with rows: "
            f"{', '.join(rows[:4])}{', ...' if len(rows) > 4 else ''})"
        )
    if config_diff:
        conflicts.append(
            f"config directory {install.config_dir} has {len(config_diff)} file(s) unlike the "
            f"archive's ({', '.join(config_diff[:3])})"
        )
    if rec_diff:
        conflicts.append(
            f"{len(rec_diff)} recording(s) in {install.recordings_dir} differ from the archive's"
        )
    if conflicts and not force:
        raise TargetNotEmpty(
            f"restore refused, nothing was changed: {'; '.join(conflicts)}. Restore onto a "
            "fresh install, or repeat with --force (the old database and config are kept "
            "aside, PostgreSQL tables are dropped)"
        )
    lines = [
        f"archive {archive}: made {manifest['created']} by hotline {manifest.get('hotline')}, "
        f"{db['kind']} database at revision {db['revision']}, "
        f"{manifest.get('config', {}).get('files', 0)} config file(s), "
        f"recordings: index of {rec.get('files', 0)} file(s)"
        + (" and the files" if rec.get("included") else "")
    ]
    aside: Path | None = None
    if rows and target_kind == "sqlite":
        target = dbdump.sqlite_path(url)
        aside = target.with_name(f"{target.name}.pre-restore-{stamp}")
    lines.append(dbdump.restore_database(db["kind"], staged / db["member"], url, aside))
    lines.append(_restore_config(staged / CONFIG, install.config_dir, bool(config_diff), stamp))
    lines.append(_restore_recordings(staged, install.recordings_dir, bool(rec.get("included"))))
    lines.append(_migrate(url, str(db["revision"])))
    return lines


def _restore_config(src: Path, dst: Path, replace: bool, stamp: str) -> str:
    kept = ""
    if replace:
        aside = dst.with_name(f"{dst.name}.pre-restore-{stamp}")
        try:
            os.rename(dst, aside)
        except OSError:  # a mount point: copy it aside, then empty it
            shutil.copytree(dst, aside)
            for child in dst.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        kept = f" (the config it replaced is kept as {aside})"
    dst.mkdir(parents=True, exist_ok=True)
    files = tree(src)
    for rel in files:
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(src / rel, dst / rel)
    return f"config {dst}: {len(files)} file(s) restored{kept}"


def _restore_recordings(staged: Path, dst: Path, included: bool) -> str:
    listing = staged / INDEX
    index = json.loads(listing.read_text(encoding="utf-8")) if listing.is_file() else []
    total = sum(int(e["size"]) for e in index)
    if included:
        src = staged / RECORDINGS
        files = tree(src)
        for rel in files:
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(src / rel, dst / rel)
        return f"recordings {dst}: {len(files)} file(s) restored ({size_text(total)})"
    here = [e for e in index if (dst / e["path"]).is_file()]
    same = [e for e in here if (dst / e["path"]).stat().st_size == int(e["size"])]
    missing = len(index) - len(here)
    line = (
        f"recordings {dst}: not in this archive (index of {len(index)} file(s), "
        f"{size_text(total)}); {len(same)} are here with the same size"
    )
    if missing or len(same) != len(here):
        line += (
            f", {missing} missing, {len(here) - len(same)} of another size: copy them from "
            "the old recordings directory (the index in the archive lists each with its sha256)"
        )
    return line


def _migrate(url: str, before: str) -> str:
    db = Database(url)
    try:
        after = db.upgrade()
    except SQLAlchemyError as exc:
        raise DatabaseMissing(f"database {db.safe_url}: migrations failed ({exc})") from exc
    finally:
        db.close()
    if after == before:
        return f"database schema at revision {after}, the newest: nothing to migrate"
    return f"database schema migrated from revision {before} to {after}"
