"""The backup archive: write one ``.tar.gz`` of an install, check one, bring it back.

Members: ``database/hotline.db`` (SQLite) or ``database/hotline.pgdump`` (pg_dump custom
format), ``config/...`` (the admin config directory), ``recordings-index.json`` (every file
under the recordings directory: path, size, sha256), ``recordings/...`` (the files, with
``--with-recordings``) and, last, ``manifest.json`` listing every other member with its size
and sha256. The archive is written to ``FILE.part`` (mode 0600: it holds citizens' data) and
renamed when complete. A restore unpacks and checks everything against the manifest before it
changes anything.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path, PurePosixPath
from typing import IO, Any

from ivr.backup import (
    ArchiveUnreadable,
    FileProblem,
    NewerArchive,
    WrongArchive,
    dbdump,
)
from ivr.db.database import MIGRATIONS

FORMAT = "hotline-backup"
VERSION = 1
MANIFEST = "manifest.json"
INDEX = "recordings-index.json"
CONFIG = "config"
RECORDINGS = "recordings"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Install:
    """Where an install keeps its data (from the settings and the database URL)."""

    database_url: str
    config_dir: Path
    recordings_dir: Path
    var_dir: Path
    pidfile: Path


@dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def default_name(now: dt.datetime) -> str:
    return f"hotline-{now:%Y%m%d-%H%M%S}.tar.gz"


def tree(root: Path) -> list[str]:
    """Every file under ``root`` as a POSIX path relative to it, sorted."""
    if not root.is_dir():
        return []
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        for name in filenames:
            path = base / name
            if path.is_file():
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


class _Hashing:
    """A reader that hashes what goes through it (tarfile reads exactly the member size)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.digest.update(data)
        return data


class _Writer:
    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.files: list[dict[str, Any]] = []

    def add_file(self, name: str, path: Path) -> dict[str, Any]:
        st = path.stat()
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), st.st_mode & 0o777
        with path.open("rb") as f:
            reader = _Hashing(f)
            self.tar.addfile(info, reader)
        entry = {"path": name, "size": st.st_size, "sha256": reader.digest.hexdigest()}
        self.files.append(entry)
        return entry

    def add_bytes(self, name: str, data: bytes, *, listed: bool = True) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), int(dt.datetime.now().timestamp()), 0o644
        self.tar.addfile(info, io.BytesIO(data))
        if listed:
            digest = hashlib.sha256(data).hexdigest()
            self.files.append({"path": name, "size": len(data), "sha256": digest})


def _version() -> str:
    try:
        return version("hotline12345")
    except PackageNotFoundError:
        return "unknown"


def create_backup(
    install: Install, out: Path, *, with_recordings: bool, now: dt.datetime | None = None
) -> BackupResult:
    """Write the archive of ``install`` to ``out``."""
    now = now or dt.datetime.now(dt.UTC)
    if not install.config_dir.is_dir():
        raise FileProblem(
            f"config directory {install.config_dir} does not exist: check HOTLINE_CONFIG_DIR "
            "or --config"
        )
    part = out.with_name(out.name + ".part")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="hotline-backup-") as tmp:
            dump = dbdump.dump_database(install.database_url, Path(tmp))
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
                w = _Writer(tar)
                w.add_file(dump.member, dump.path)
                config = tree(install.config_dir)
                for rel in config:
                    w.add_file(f"{CONFIG}/{rel}", install.config_dir / rel)
                index: list[dict[str, Any]] = []
                for rel in tree(install.recordings_dir):
                    path = install.recordings_dir / rel
                    if with_recordings:
                        entry = w.add_file(f"{RECORDINGS}/{rel}", path)
                        size, digest = entry["size"], entry["sha256"]
                    else:
                        size, digest = _hash_file(path)
                    index.append({"path": rel, "size": size, "sha256": digest})
                w.add_bytes(INDEX, json.dumps(index, indent=1).encode())
                manifest = {
                    "format": FORMAT,
                    "version": VERSION,
                    "created": now.isoformat(timespec="seconds"),
                    "hotline": _version(),
                    "database": {
                        "kind": dump.kind,
                        "member": dump.member,
                        "revision": dump.revision,
                        "source": dbdump.safe(install.database_url),
                    },
                    "config": {"source": str(install.config_dir), "files": len(config)},
                    "recordings": {
                        "source": str(install.recordings_dir),
                        "files": len(index),
                        "bytes": sum(e["size"] for e in index),
                        "included": with_recordings,
                    },
                    "files": w.files,
                }
                w.add_bytes(MANIFEST, json.dumps(manifest, indent=1).encode(), listed=False)
        os.replace(part, out)
    except OSError as exc:
        raise FileProblem(f"backup not written: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)
    return BackupResult(out, manifest, _journal_notes(install.var_dir))


def _journal_notes(var_dir: Path) -> list[str]:
    """Records still waiting in a journal are not in the dump: say so."""
    notes = []
    for name in ("calls.jsonl", "tickets-journal.jsonl"):
        path = var_dir / name
        if path.is_file() and path.stat().st_size > 0:
            notes.append(
                f"[HL-BAK-020] {path} holds records not yet written to the database, so not in "
                "this backup: run `hotline tickets replay` (or wait for the server to do it), "
                "then back up again"
            )
    return notes


# ----------------------------------------------------------------------------- restore


def _member_name(archive: Path, name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise WrongArchive(f"{archive}: member {name!r} points outside the archive: refused")
    return path.as_posix()


def _unpack(archive: Path, staged: Path) -> dict[str, tuple[int, str]]:
    """Every member into ``staged``; returns name -> (size, sha256)."""
    seen: dict[str, tuple[int, str]] = {}
    try:
        raw = archive.open("rb")
    except OSError as exc:
        raise ArchiveUnreadable(f"cannot open the archive {archive}: {exc.strerror}") from exc
    with raw:
        try:
            with tarfile.open(fileobj=raw, mode="r|gz") as tar:
                for member in tar:
                    name = _member_name(archive, member.name)
                    if member.isdir():
                        continue
                    if not member.isfile():
                        raise WrongArchive(f"{archive}: member {name} is not a plain file")
                    dest = staged / name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(member)
                    assert src is not None
                    digest, size = hashlib.sha256(), 0
                    with dest.open("wb") as f:
                        while chunk := src.read(CHUNK):
                            digest.update(chunk)
                            size += len(chunk)
                            f.write(chunk)
                    os.chmod(dest, (member.mode & 0o777) | 0o600)
                    seen[name] = (size, digest.hexdigest())
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ArchiveUnreadable(
                f"{archive} is not a readable .tar.gz ({exc}): truncated, or not made by "
                "`hotline backup`"
            ) from exc
    return seen


def read_archive(archive: Path, staged: Path) -> dict[str, Any]:
    """Unpack ``archive`` into ``staged`` and check it; returns its manifest."""
    seen = _unpack(archive, staged)
    if MANIFEST not in seen:
        raise WrongArchive(f"{archive} is not a hotline backup (it has no {MANIFEST})")
    try:
        manifest = json.loads((staged / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            raise WrongArchive(f"{archive} is not a hotline backup ({MANIFEST} of another kind)")
        if int(manifest["version"]) > VERSION:
            raise NewerArchive(
                f"{archive} has backup format {manifest['version']}; this hotline reads up to "
                f"{VERSION}: restore it with the newer version that made it"
            )
        listed = {str(f["path"]): (int(f["size"]), str(f["sha256"])) for f in manifest["files"]}
        db = manifest["database"]
        kind, member, revision = str(db["kind"]), str(db["member"]), str(db["revision"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WrongArchive(f"{archive}: {MANIFEST} is damaged ({exc!r})") from exc
    extra = sorted(set(seen) - set(listed) - {MANIFEST})
    missing = sorted(set(listed) - set(seen))
    bad = sorted(name for name in set(listed) & set(seen) if listed[name] != seen[name])
    if extra or missing or bad or member not in listed or kind not in ("sqlite", "postgresql"):
        what = [f"missing {missing[:3]}"] if missing else []
        what += [f"changed {bad[:3]}"] if bad else []
        what += [f"not listed {extra[:3]}"] if extra else []
        raise WrongArchive(
            f"{archive} does not match its {MANIFEST} ({'; '.join(what) or 'no database'}): "
            "the archive is damaged; use another backup"
        )
    _check_revision(archive, revision)
    return dict(manifest)


def _check_revision(archive: Path, revision: str) -> None:
    # lazy: Alembic (slow to import) is for restore's revision check only; `hotline
    # backup` never loads it.
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        ScriptDirectory(str(MIGRATIONS)).get_revision(revision)
    except CommandError as exc:
        raise NewerArchive(
            f"{archive} holds a database at schema revision {revision}, which this hotline "
            "does not know: it comes from a newer version; restore it with that version"
        ) from exc


def size_text(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
