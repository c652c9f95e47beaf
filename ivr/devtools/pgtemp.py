"""A throwaway PostgreSQL cluster, for the tests and the benchmark.

``initdb`` into a temporary directory, listening on a unix socket only, started with
``pg_ctl`` from the installed server binaries (``/usr/lib/postgresql/<v>/bin``); run as the
``postgres`` user when we are root (PostgreSQL refuses to run as root). Stopped and removed
on exit. Not for production: it is a scratch server.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


class NoPostgres(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def pg_bindir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not found:
        raise NoPostgres("PostgreSQL server binaries not found (apt-get install postgresql)")
    return Path(found[-1]).parent


def _as_pg_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def initdb(data: Path) -> None:
    """``initdb`` a new cluster into ``data`` (trust auth, user ``postgres``, UTF8, C locale);
    its parent is given to the ``postgres`` user when we are root."""
    if os.geteuid() == 0:
        shutil.chown(data.parent, "postgres")
    cmd = [str(pg_bindir() / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
    cmd += ["-E", "UTF8", "--locale=C", "--no-sync"]
    subprocess.run([*_as_pg_user(), *cmd], check=True, capture_output=True)


def server_options(port: int, sock: Path, *, listen: str = "", durable: bool = False,
                   settings: Sequence[str] = ()) -> str:  # fmt: skip
    """``pg_ctl -o`` for a server on ``port``, its socket in ``sock``, TCP on ``listen``
    (empty: the unix socket only); ``durable=False`` turns fsync off."""
    if os.geteuid() == 0:
        shutil.chown(sock, "postgres")
    opts = f"-p {port} -k {sock} -c listen_addresses='{listen}'"
    if not durable:
        opts += " -c fsync=off -c full_page_writes=off"
    for setting in settings:
        opts += f" -c {setting}"
    return opts


def pg_ctl(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``pg_ctl -D data ARGS`` as the ``postgres`` user when we are root."""
    cmd = [*_as_pg_user(), str(pg_bindir() / "pg_ctl"), "-D", str(data), *args]
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


@contextmanager
def throwaway_postgres(*, durable: bool = False, settings: Sequence[str] = ()) -> Iterator[str]:
    """Start a scratch cluster; yields the URL of its ``postgres`` database.

    ``durable=False`` (the tests) turns fsync off; ``durable=True`` (the benchmark) keeps
    PostgreSQL's defaults, so that commits cost what they cost on a real server.
    ``settings`` are extra ``name=value`` server settings.
    """
    base = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    initdb(data)
    port = _free_port()
    opts = server_options(port, sock, durable=durable, settings=settings)
    pg_ctl(data, "-l", str(base / "log"), "-o", opts, "-w", "-t", "60", "start")
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={sock}&port={port}"
    finally:
        pg_ctl(data, "-m", "immediate", "stop", check=False)
        shutil.rmtree(base, ignore_errors=True)


def url_for(admin_url: str, name: str) -> str:
    """The same server, another database."""
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def admin(admin_url: str, *statements: str) -> None:
    """Run statements outside a transaction (CREATE/DROP DATABASE)."""
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


__all__ = [
    "NoPostgres",
    "admin",
    "initdb",
    "pg_bindir",
    "pg_ctl",
    "server_options",
    "throwaway_postgres",
    "url_for",
]
