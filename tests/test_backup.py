"""``hotline backup`` / ``hotline restore`` on real SQLite and PostgreSQL, and the systemd units.

An install (config, recordings, var directories and a database) is seeded with
``hotline seed-demo --database-url`` (the install's database, not the demo's own), backed up,
and restored into a fresh install: every row of every table, the monthly report, the config
and the recordings come out the same. Refusals and errors are one ``[HL-BAK-nnn]`` line with
exit status 1.
"""

from __future__ import annotations

import argparse
import configparser
import datetime as dt
import hashlib
import inspect
import io
import json
import os
import shlex
import shutil
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, select

import ivr.cli
from ivr.backup import dbdump
from ivr.config.catalogue import load_catalogue
from ivr.console import backup_cli
from ivr.db.database import Database, head_revision, normalize_url
from ivr.devtools.pgtemp import NoPostgres, admin, pg_bindir, throwaway_postgres, url_for
from ivr.devtools.seed004 import DEMO_CONFIG_DIR
from ivr.hotline import HotlineService
from ivr.reports import build_report, parse_period
from ivr.reports.render import csv_files, markdown
from tests.conftest import CONFIG_DIR

HEAD = head_revision()

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pg_admin_url() -> Iterator[str]:
    given = os.environ.get("HOTLINE_TEST_PG_URL")
    if given:
        yield normalize_url(given)
        return
    try:
        pg_bindir()
    except NoPostgres as exc:
        pytest.fail(f"{exc}: run ./test.sh (installs postgresql)")
    with throwaway_postgres() as url:
        yield url


@dataclass
class Site:
    """One install: its directories and, for PostgreSQL, its database URL."""

    root: Path
    database_url: str | None  # None: SQLite at var/hotline.db

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def recordings(self) -> Path:
        return self.root / "recordings"

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.var / 'hotline.db'}"


Hotline = Callable[..., tuple[int, str, str]]


def _parser() -> argparse.ArgumentParser:
    """``ivr.cli``'s parser, with ``backup``/``restore`` added if the CLI does not have them
    yet (the line ``backup_cli.register(sub)`` in ``build_parser``)."""
    parser = _build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "backup" not in sub.choices:
        backup_cli.register(sub)
    return parser


_build_parser = ivr.cli.build_parser


@pytest.fixture
def hotline(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Hotline:
    """``hotline ARGS...`` in ``site``'s environment: (exit status, stdout, stderr)."""
    monkeypatch.setattr(ivr.cli, "build_parser", _parser)

    def run(site: Site, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("HOTLINE_CONFIG_DIR", str(site.config))
        monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", str(site.recordings))
        monkeypatch.setenv("HOTLINE_VAR_DIR", str(site.var))
        if site.database_url:
            monkeypatch.setenv("HOTLINE_DATABASE_URL", site.database_url)
        else:
            monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
        capsys.readouterr()
        status = ivr.cli.main(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return status, out, err

    return run


def _pg_database(admin_url: str) -> str:
    name = f"bk_{uuid.uuid4().hex[:12]}"
    admin(admin_url, f"CREATE DATABASE {name}")
    return url_for(admin_url, name)


def _source(tmp_path: Path, url: str | None) -> Site:
    """An install with the shipped config and a few recordings (database not yet made)."""
    site = Site(tmp_path / "old", url)
    shutil.copytree(CONFIG_DIR, site.config)
    for rel, data in {
        "calls/2020/02/1581234567.1.wav": b"RIFF call one",
        "messages/1581234567.2.wav": b"RIFF a message",
        "studio/welcome.wav": b"RIFF studio welcome" * 100,
    }.items():
        (site.recordings / rel).parent.mkdir(parents=True, exist_ok=True)
        (site.recordings / rel).write_bytes(data)
    return site


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted."""
    db = Database(url)
    try:
        meta = MetaData()
        meta.reflect(db.engine)
        with db.engine.connect() as conn:
            return {
                name: sorted((tuple(r) for r in conn.execute(select(table))), key=repr)
                for name, table in sorted(meta.tables.items())
            }
    finally:
        db.close()


def _report(url: str) -> tuple[str, str]:
    db = Database(url)
    try:
        report = build_report(
            db,
            load_catalogue(DEMO_CONFIG_DIR),  # seed-demo's Siping catalogue
            parse_period(month="2020-02"),
            now=dt.datetime(2020, 3, 1, tzinfo=dt.UTC),
        )
        return markdown(report), "".join(csv_files(report).values())
    finally:
        db.close()


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _one_error(code: str, status: int, out: str, err: str) -> str:
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"[{code}] "), err
    return lines[0]


# ----------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_backup_and_restore_on_a_fresh_install(
    kind: str, tmp_path: Path, hotline: Hotline, request: pytest.FixtureRequest
) -> None:
    pg = str(request.getfixturevalue("pg_admin_url")) if kind == "postgresql" else None
    old = _source(tmp_path, _pg_database(pg) if pg else None)
    status, out, err = hotline(
        old, "seed-demo", "--database-url", old.url, "--month", "2020-02", "--scale", "0.05"
    )
    assert status == 0, err
    archive = tmp_path / "backups" / "hotline.tar.gz"
    status, out, err = hotline(old, "backup", "--out", str(archive), "--with-recordings")
    assert status == 0, err
    assert out.splitlines()[0].startswith(f"wrote {archive} (")
    assert f"database  {kind} " in out and f"schema revision {HEAD}" in out
    assert "recordings 3 file(s)" in out and "the files included" in out
    assert archive.stat().st_mode & 0o777 == 0o600  # citizens' data
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[-1] == "manifest.json" and "config/tickets/catalogue.yaml" in names
    assert "recordings/calls/2020/02/1581234567.1.wav" in names

    # a fresh install: no config, no recordings; SQLite: no database file yet, PostgreSQL:
    # an empty database the server has already migrated
    new = Site(tmp_path / "new", _pg_database(pg) if pg else None)
    if pg:
        assert hotline(new, "db", "upgrade")[0] == 0
    status, out, err = hotline(new, "restore", str(archive))
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"archive {archive}: made ")
    # the line config (knowledge.yaml, privacy.yaml, quality.yaml among them), the demo's catalogue
    # and hours in config/demo-siping: every file of the shipped config directory
    files = sum(1 for p in CONFIG_DIR.rglob("*") if p.is_file())
    assert files >= 12
    assert f"{kind} database at revision {HEAD}, {files} config file(s)" in lines[0]
    assert lines[1].startswith("database ") and "restored" in lines[1]
    assert lines[2] == f"config {new.config}: {files} file(s) restored"
    assert lines[3].startswith(f"recordings {new.recordings}: 3 file(s) restored")
    assert lines[4] == f"database schema at revision {HEAD}, the newest: nothing to migrate"

    before, after = _rows(old.url), _rows(new.url)
    assert len(before["tickets"]) > 100
    assert after == before  # every table, every row
    assert _report(new.url) == _report(old.url)
    assert _files(new.config) == _files(old.config)
    assert _files(new.recordings) == _files(old.recordings)
    status, out, err = hotline(new, "tickets", "list", "--state", "all", "--limit", "3")
    assert status == 0, err

    # the new install now holds data: a second restore is refused, and nothing changes
    (new.config / "menu.yaml").write_text("# edited\n", encoding="utf-8")
    status, out, err = hotline(new, "restore", str(archive))
    line = _one_error("HL-BAK-006", status, out, err)
    assert "nothing was changed" in line and "holds data" in line
    assert f"config directory {new.config} has 1 file(s) unlike the archive's (menu.yaml)" in line
    assert (new.config / "menu.yaml").read_text() == "# edited\n"
    # --force: the database is replaced (PostgreSQL: dropped and restored), the edited config
    # is kept aside
    status, out, err = hotline(new, "restore", str(archive), "--force")
    assert status == 0, err
    assert "the config it replaced is kept as" in out
    assert _rows(new.url) == before
    assert _files(new.config) == _files(old.config)
    [aside] = new.root.glob("config.pre-restore-*")
    assert (aside / "menu.yaml").read_text() == "# edited\n"


def test_index_only_backup_and_a_forced_sqlite_restore(tmp_path: Path, hotline: Hotline) -> None:
    old = _source(tmp_path, None)
    assert (
        hotline(
            old, "seed-demo", "--database-url", old.url, "--month", "2020-02", "--scale", "0.02"
        )[0]
        == 0
    )
    # --out a directory: the archive gets a dated name in it
    (tmp_path / "b").mkdir()
    status, out, err = hotline(old, "backup", "--out", str(tmp_path / "b"))
    assert status == 0, err
    [archive] = (tmp_path / "b").glob("hotline-*.tar.gz")
    assert "index only (--with-recordings adds them)" in out
    with tarfile.open(archive) as tar:
        assert not [n for n in tar.getnames() if n.startswith("recordings/")]
        index = json.load(tar.extractfile("recordings-index.json"))  # type: ignore[arg-type]
    assert {e["path"]: e["sha256"] for e in index} == _files(old.recordings)

    # an install with other data of its own: refused, then replaced with --force, the old
    # SQLite database kept aside whole
    new = Site(tmp_path / "new", None)
    shutil.copytree(CONFIG_DIR, new.config)  # the same config: not in the way
    assert (
        hotline(
            new, "seed-demo", "--database-url", new.url, "--month", "2020-03", "--scale", "0.02"
        )[0]
        == 0
    )
    theirs = _rows(new.url)
    status, out, err = hotline(new, "restore", str(archive))
    line = _one_error("HL-BAK-006", status, out, err)
    assert "database sqlite:///" in line and "config directory" not in line
    assert _rows(new.url) == theirs
    status, out, err = hotline(new, "restore", str(archive), "--force")
    assert status == 0, err
    assert _rows(new.url) == _rows(old.url)
    [aside] = new.var.glob("hotline.db.pre-restore-*")
    assert f"the database it replaced is kept as {aside}" in out
    assert _rows(f"sqlite:///{aside}") == theirs
    assert (
        f"recordings {new.recordings}: not in this archive (index of 3 file(s), 1.9 KB); "
        "0 are here with the same size, 3 missing, 0 of another size" in out
    )


# ----------------------------------------------------------------------------- errors


def _rewrite(archive: Path, out: Path, change: Callable[[str, bytes], bytes | None]) -> None:
    """A copy of ``archive`` with members changed (``None`` leaves a member out)."""
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            f = src.extractfile(member)
            data = change(member.name, f.read() if f else b"")
            if data is None:
                continue
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))


@pytest.fixture
def sqlite_archive(tmp_path: Path, hotline: Hotline) -> Path:
    old = _source(tmp_path, None)
    assert hotline(old, "db", "upgrade")[0] == 0
    archive = tmp_path / "a.tar.gz"
    assert hotline(old, "backup", "--out", str(archive))[0] == 0
    return archive


def test_unreadable_and_wrong_archives(
    tmp_path: Path, hotline: Hotline, sqlite_archive: Path
) -> None:
    new = Site(tmp_path / "new", None)

    def refused(code: str, archive: Path) -> str:
        line = _one_error(code, *hotline(new, "restore", str(archive)))
        assert not new.config.exists() and not (new.var / "hotline.db").exists()
        return line

    line = refused("HL-BAK-004", tmp_path / "nowhere.tar.gz")
    assert "cannot open the archive" in line and "No such file" in line
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar at all\n")
    assert "not a readable .tar.gz" in refused("HL-BAK-004", junk)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(sqlite_archive.read_bytes()[: sqlite_archive.stat().st_size // 2])
    assert "truncated" in refused("HL-BAK-004", cut)

    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        tar.add(CONFIG_DIR / "menu.yaml", arcname="menu.yaml")
    assert "is not a hotline backup (it has no manifest.json)" in refused("HL-BAK-005", other)
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    assert "points outside the archive" in refused("HL-BAK-005", evil)
    changed = tmp_path / "changed.tar.gz"
    _rewrite(sqlite_archive, changed, lambda n, d: b"# x\n" if n == "config/menu.yaml" else d)
    line = refused("HL-BAK-005", changed)
    assert "does not match its manifest.json (changed ['config/menu.yaml'])" in line

    def newer(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["database"]["revision"] = "9999"
        return json.dumps(manifest).encode()

    future = tmp_path / "future.tar.gz"
    _rewrite(sqlite_archive, future, newer)
    assert "revision 9999, which this hotline does not know" in refused("HL-BAK-008", future)


def test_restore_refusals_before_any_change(
    tmp_path: Path, hotline: Hotline, sqlite_archive: Path
) -> None:
    new = Site(tmp_path / "new", None)
    new.var.mkdir(parents=True)
    (new.var / "hotline.pid").write_text(str(os.getpid()))  # a live process
    line = _one_error("HL-BAK-009", *hotline(new, "restore", str(sqlite_archive)))
    assert f"is running (pid {os.getpid()}" in line and "stop it first" in line
    (new.var / "hotline.pid").write_text("999999999")  # stale: no such process
    pg = Site(tmp_path / "pg", "postgresql://hotline@127.0.0.1:1/hotline")
    line = _one_error("HL-BAK-007", *hotline(pg, "restore", str(sqlite_archive)))
    assert "holds a sqlite database; this install uses postgresql" in line
    assert hotline(new, "restore", str(sqlite_archive))[0] == 0


def test_backup_errors(tmp_path: Path, hotline: Hotline, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _source(tmp_path, None)
    out = tmp_path / "b.tar.gz"
    line = _one_error("HL-BAK-001", *hotline(site, "backup", "--out", str(out)))
    assert f"database file {site.var / 'hotline.db'} does not exist: nothing to back up" in line
    assert not out.exists() and not list(tmp_path.glob("b.tar.gz*"))
    # PostgreSQL away
    away = Site(site.root, "postgresql://hotline@127.0.0.1:1/hotline")
    line = _one_error("HL-BAK-001", *hotline(away, "backup", "--out", str(out)))
    assert "database postgresql+psycopg://hotline@127.0.0.1:1/hotline is unreachable" in line
    # no pg_dump anywhere
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(dbdump, "PG_BIN_GLOB", str(tmp_path / "no-postgresql" / "*" / "bin"))
    line = _one_error("HL-BAK-002", *hotline(away, "backup", "--out", str(out)))
    assert "pg_dump not found on PATH nor under" in line and "postgresql-client" in line
    assert not out.exists()


# ----------------------------------------------------------------------------- systemd


def _unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name, encoding="utf-8")
    return parser


def _serve_unit(name: str, **env: str) -> None:
    service = _unit(name)["Service"]
    command = service["ExecStart"]
    for key, value in env.items():
        command = command.replace("${" + key + "}", value)
    argv = shlex.split(command)
    assert argv[0] == "/opt/hotline/.venv/bin/hotline"
    args = ivr.cli.build_parser().parse_args(argv[1:])
    assert args.func is ivr.cli.cmd_serve and args.queue_wait and args.http_port == 8080
    assert service["Restart"] == "always" and service["RestartSec"] == "1"
    assert service["KillSignal"] == "SIGTERM" and service["KillMode"] == "mixed"
    # the graceful stop lets talking calls finish for up to the server's own limit:
    # systemd does not kill it before
    limit = inspect.signature(HotlineService.stop).parameters["limit"].default
    assert int(service["TimeoutStopSec"]) > limit
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["User"] == "hotline"


def test_hotline_units_run_real_subcommands() -> None:
    _serve_unit("hotline.service")
    assert _unit("hotline.service")["Service"]["EnvironmentFile"] == "/etc/hotline/env"
    _serve_unit("hotline@.service", HOTLINE_HTTP_PORT="8080")
    assert _unit("hotline.service")["Unit"]["StartLimitIntervalSec"] == "0"


def test_the_other_units() -> None:
    redis = _unit("redis-server.service.d/hotline.conf")["Service"]
    assert "--appendonly yes" in redis["ExecStart"]  # the last ExecStart, after the reset
    assert redis["Restart"] == "always"
    assert _unit("asterisk.service.d/hotline.conf")["Service"]["Restart"] == "on-failure"
    backup = _unit("hotline-backup.service")["Service"]
    argv = shlex.split(backup["ExecStart"])
    args = _parser().parse_args(argv[1:])
    assert args.command == "backup" and args.out == "/var/lib/hotline/backups"
    assert _unit("hotline-backup.timer")["Timer"]["Unit"] == "hotline-backup.service"
