"""The accounts room (ivr/accounts): users, argon2 passwords, sessions and their expiry, the
login throttle, API tokens, the audit log, ``hotline user``, migration 0006. On SQLite and on
PostgreSQL (the throwaway cluster of tests/tickets/conftest.py), with a fake clock."""

from __future__ import annotations

import getpass
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from argon2 import PasswordHasher
from sqlalchemy import select, text

from ivr.accounts import (
    AccountInvalid,
    AccountNotFound,
    Accounts,
    LoginRefused,
    LoginThrottled,
    Principal,
)
from ivr.accounts.accounts import digest
from ivr.cli import main
from ivr.db.database import Database, _alembic_config, current_revision, head_revision, upgrade
from ivr.db.tables import ApiTokenRow, UserRow, UserSessionRow
from tests.conftest import CONFIG_DIR
from tests.tickets.conftest import pg_admin_url, pg_template, pg_url  # noqa: F401 (fixtures)

PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
START = 1_780_000_000.0  # 2026-05-28, a fixed moment
ACC = ("accounts", "users", "user_sessions", "api_tokens", "login_attempts", "audit_log")


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hotline.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    database = Database(url)
    database.upgrade()
    yield database
    database.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def acc(db: Database, clock: FakeClock) -> Accounts:
    return Accounts(db, session_hours=12, idle_minutes=120, clock=clock, hasher=CHEAP)


def add(acc: Accounts, name: str = "wangli", role: str = "operator", **kw: Any) -> Any:
    if role == "operator":
        kw.setdefault("agent_id", "1001")
    if role == "department":
        kw.setdefault("department", "heating")
    return acc.add_user(name, PASSWORD, role, actor="cli:root", **kw)


def actions(acc: Accounts) -> list[str]:
    return [row["action"] for row in reversed(acc.audit_log(1000))]


# ------------------------------------------------------------------ users


def test_add_and_list(acc: Accounts) -> None:
    user = add(acc, "WangLi", display_name="王丽")
    add(acc, "boss", "supervisor")
    add(acc, "heat", "department")
    add(acc, "root", "admin")
    assert (user.username, user.role, user.agent_id, user.display_name) == (
        "WangLi", "operator", "1001", "王丽"
    )  # fmt: skip
    assert not user.disabled and user.last_login_at is None
    assert user.created_at.timestamp() == START
    listed = acc.list_users()
    assert [u.username for u in listed] == ["boss", "heat", "root", "WangLi"]
    assert listed[1].department == "heating" and listed[1].agent_id is None
    row = acc.audit_log(1)[0]
    assert (row["actor"], row["role"], row["action"], row["target"]) == (
        "cli:root", "cli", "user.add", "root"
    )  # fmt: skip
    assert row["before"] is None and row["after"]["role"] == "admin"
    assert PASSWORD not in str(acc.audit_log(100))


@pytest.mark.parametrize(
    ("name", "role", "extra", "says"),
    [
        ("has space", "admin", {}, "user name"),
        ("x" * 65, "admin", {}, "user name"),
        ("", "admin", {}, "user name"),
        ("ok", "root", {}, "role 'root'"),
        ("ok", "operator", {"agent_id": ""}, "give --agent"),
        ("ok", "department", {"department": " "}, "give --department"),
        ("ok", "supervisor", {"agent_id": "1001"}, "only an operator"),
        ("ok", "admin", {"department": "heating"}, "only a department user"),
    ],
)
def test_invalid_users_are_refused(
    acc: Accounts, name: str, role: str, extra: dict[str, str], says: str
) -> None:
    with pytest.raises(AccountInvalid, match=says) as caught:
        acc.add_user(name, PASSWORD, role, actor="cli:root", **extra)
    assert caught.value.code == "HL-ACC-003" and caught.value.status == 400
    assert acc.list_users() == []


def test_short_password_and_taken_name(acc: Accounts) -> None:
    with pytest.raises(AccountInvalid, match="at least 10"):
        acc.add_user("ops", "123456789", "admin", actor="cli:root")
    add(acc, "Ops", "admin")
    with pytest.raises(AccountInvalid, match="taken"):
        add(acc, "oPS", "supervisor")  # names ignore case
    assert [u.username for u in acc.list_users()] == ["Ops"]


def test_one_enabled_operator_per_agent(acc: Accounts) -> None:
    add(acc, "first")
    with pytest.raises(AccountInvalid, match="already bound to operator first"):
        add(acc, "second")
    acc.set_disabled("first", True, actor="cli:root")
    add(acc, "second")
    with pytest.raises(AccountInvalid, match="now bound to operator second"):
        acc.set_disabled("first", False, actor="cli:root")


def test_unknown_user_is_not_found(acc: Accounts) -> None:
    with pytest.raises(AccountNotFound) as caught:
        acc.set_password("nobody", PASSWORD, actor="cli:root")
    assert caught.value.code == "HL-ACC-004" and caught.value.status == 404
    with pytest.raises(AccountNotFound):
        acc.set_disabled("nobody", True, actor="cli:root")
    with pytest.raises(AccountNotFound):
        acc.create_token("nobody", "", actor="cli:root")


# ------------------------------------------------------------------ logins and sessions


def test_login_gives_a_session(acc: Accounts, db: Database, clock: FakeClock) -> None:
    add(acc, "wangli", display_name="王丽")
    result = acc.login("WANGLI", PASSWORD, "10.0.0.7")  # the name in any case
    p = result.principal
    assert p == Principal(p.user_id, "wangli", "operator", "1001", None, "session")
    assert result.expires_at.timestamp() == START + 12 * 3600
    assert result.session_token != result.csrf_token
    assert acc.session(result.session_token) == (p, result.csrf_token)
    assert acc.list_users()[0].last_login_at is not None
    with db.session() as s:  # the token itself is nowhere in the database
        stored = s.scalars(select(UserSessionRow)).one()
        assert stored.token_hash == digest(result.session_token) != result.session_token
        assert stored.address == "10.0.0.7"
    row = acc.audit_log(1)[0]
    assert (row["actor"], row["role"], row["action"], row["address"]) == (
        "wangli", "operator", "session.login", "10.0.0.7"
    )  # fmt: skip
    assert acc.session("not-a-token") is None and acc.session("") is None


def test_refusals_look_the_same(acc: Accounts) -> None:
    add(acc, "wangli")
    add(acc, "gone", "admin")
    acc.set_disabled("gone", True, actor="cli:root")
    messages = set()
    for name, password in [("wangli", "wrong password!"), ("nobody", PASSWORD), ("gone", PASSWORD)]:
        with pytest.raises(LoginRefused) as caught:
            acc.login(name, password, "10.0.0.7")
        assert caught.value.code == "HL-ACC-001" and caught.value.status == 401
        messages.add(str(caught.value))
    assert messages == {"[HL-ACC-001] wrong user name or password"}
    failed = [r for r in acc.audit_log(100) if r["action"] == "session.login-failed"]
    reasons = [(r["target"], r["after"]["reason"]) for r in reversed(failed)]
    assert reasons == [("wangli", "wrong password"), ("nobody", "unknown user"),
                       ("gone", "disabled")]  # fmt: skip
    with pytest.raises(LoginRefused):
        acc.login("evil\nname", PASSWORD, "10.0.0.7")
    assert acc.audit_log(1)[0]["actor"] == "'evil\\nname'"  # no control character logged


def test_absolute_expiry(db: Database, clock: FakeClock) -> None:
    acc = Accounts(db, session_hours=1, idle_minutes=120, clock=clock, hasher=CHEAP)
    add(acc)
    token = acc.login("wangli", PASSWORD, "").session_token
    for _ in range(3):
        clock.advance(19 * 60)
        assert acc.session(token) is not None  # used, never idle
    clock.advance(3 * 60)  # 60 min after the login
    assert acc.session(token) is None
    clock.advance(-60)
    assert acc.session(token) is None  # an expired session is gone for good


def test_idle_expiry(db: Database, clock: FakeClock) -> None:
    acc = Accounts(db, session_hours=12, idle_minutes=10, clock=clock, hasher=CHEAP)
    add(acc)
    token = acc.login("wangli", PASSWORD, "").session_token
    clock.advance(9 * 60)
    assert acc.session(token) is not None  # touched: the idle clock starts again
    clock.advance(9 * 60)
    assert acc.session(token) is not None
    clock.advance(10 * 60)
    assert acc.session(token) is None


def test_logout(acc: Accounts) -> None:
    add(acc)
    token = acc.login("wangli", PASSWORD, "").session_token
    acc.logout(token)
    assert acc.session(token) is None
    acc.logout(token)  # twice: nothing
    acc.logout("")
    assert actions(acc)[-1] == "session.logout"
    assert actions(acc).count("session.logout") == 1


def test_new_password_ends_sessions(acc: Accounts) -> None:
    add(acc)
    token = acc.login("wangli", PASSWORD, "").session_token
    acc.set_password("wangli", "another long one", actor="cli:root")
    assert acc.session(token) is None
    with pytest.raises(LoginRefused):
        acc.login("wangli", PASSWORD, "")
    assert acc.login("wangli", "another long one", "").principal.username == "wangli"
    with pytest.raises(AccountInvalid, match="too short"):
        acc.set_password("wangli", "short", actor="cli:root")


def test_disabling_ends_sessions_and_revokes_tokens(acc: Accounts) -> None:
    add(acc)
    session = acc.login("wangli", PASSWORD, "").session_token
    token = acc.create_token("wangli", "wallboard", actor="cli:root")
    acc.set_disabled("wangli", True, actor="cli:root")
    assert acc.session(session) is None and acc.token_principal(token) is None
    with pytest.raises(AccountInvalid, match="disabled"):
        acc.create_token("wangli", "", actor="cli:root")
    acc.set_disabled("wangli", False, actor="cli:root")
    assert acc.token_principal(token) is None  # revoked for good
    assert acc.login("wangli", PASSWORD, "").principal.username == "wangli"
    assert actions(acc)[-3:] == ["user.disable", "user.enable", "session.login"]


def test_api_tokens(acc: Accounts, db: Database) -> None:
    add(acc, "boss", "supervisor")
    token = acc.create_token("boss", "wallboard", actor="cli:root")
    p = acc.token_principal(token)
    assert p is not None and (p.username, p.role, p.via) == ("boss", "supervisor", "token")
    assert acc.token_principal(token + "x") is None and acc.token_principal("") is None
    with db.session() as s:
        row = s.scalars(select(ApiTokenRow)).one()
        assert row.token_hash == digest(token) and row.label == "wallboard"
        assert row.last_used_at is not None
    assert acc.audit_log(1)[0]["action"] == "token.create"


def test_one_token_revoked_the_others_work(cli: Any) -> None:
    assert cli("add", "boss", "--role", "supervisor", "--password-stdin",
               stdin=PASSWORD + "\n")[0] == 0  # fmt: skip
    leaked = cli("token", "boss", "--label", "old script")[1].strip()
    kept = cli("token", "boss", "--label", "wallboard")[1].strip()
    code, out, _ = cli("tokens", "boss")
    assert code == 0 and len(out.splitlines()) == 2
    first = out.splitlines()[0].split()
    assert first[1:3] == ["boss", "active"] and out.splitlines()[0].endswith("old script")
    code, out, _ = cli("revoke-token", first[0])
    assert code == 0 and out == f"API token {first[0]} of boss (old script) revoked\n"
    acc = Accounts(Database(cli.url))
    assert acc.token_principal(leaked) is None
    assert acc.token_principal(kept) is not None  # the user and its other token go on
    assert "revoked" in cli("tokens")[1].splitlines()[0]
    assert acc.audit_log(1)[0]["action"] == "token.revoke"
    code, _, err = cli("revoke-token", "999")
    assert code != 0 and "HL-ACC-" in err and "no API token 999" in err


def test_rehash_on_login(db: Database, clock: FakeClock) -> None:
    """Users hashed with weaker parameters get argon2's defaults at their next login."""
    cheap = Accounts(db, clock=clock, hasher=CHEAP)
    add(cheap)
    with db.session() as s:
        before = s.scalars(select(UserRow.password_hash)).one()
    default = Accounts(db, clock=clock)
    default.login("wangli", PASSWORD, "")
    with db.session() as s:
        after = s.scalars(select(UserRow.password_hash)).one()
    assert after != before and PasswordHasher().check_needs_rehash(after) is False
    assert default.login("wangli", PASSWORD, "").principal.username == "wangli"


# ------------------------------------------------------------------ the throttle


def test_throttle_per_account(acc: Accounts, clock: FakeClock) -> None:
    add(acc)
    for n in range(5):
        with pytest.raises(LoginRefused):
            acc.login("wangli", "not the password", f"10.0.0.{n}")
        clock.advance(60)  # failures at 0, 60, ..., 240 s; now 300 s
    with pytest.raises(LoginThrottled) as caught:
        acc.login("WangLi", PASSWORD, "10.9.9.9")  # even the right password, from elsewhere
    assert caught.value.code == "HL-ACC-002" and caught.value.status == 429
    assert caught.value.retry_after == 900 - 300  # until the oldest failure leaves the window
    for _ in range(10):  # knocking while locked does not extend the lock
        clock.advance(59)
        with pytest.raises(LoginThrottled):
            acc.login("wangli", "not the password", "10.0.0.1")
    clock.advance(900 - 300 - 590)  # the first failure is 15 min old: four remain
    assert acc.login("wangli", PASSWORD, "10.0.0.1").principal.username == "wangli"
    assert "session.throttled" in actions(acc)


def test_throttle_per_address(acc: Accounts, clock: FakeClock) -> None:
    add(acc)
    for n in range(30):  # 30 names, 1 failure each: no account reaches its limit
        with pytest.raises(LoginRefused):
            acc.login(f"guess{n}", "not the password", "203.0.113.5")
        clock.advance(10)
    with pytest.raises(LoginThrottled) as caught:
        acc.login("wangli", PASSWORD, "203.0.113.5")
    assert caught.value.retry_after == 900 - 300
    assert acc.login("wangli", PASSWORD, "198.51.100.1").principal.username == "wangli"
    clock.advance(600)
    assert acc.login("wangli", PASSWORD, "203.0.113.5").principal.username == "wangli"


def test_old_attempts_are_pruned(acc: Accounts, db: Database, clock: FakeClock) -> None:
    add(acc)
    with pytest.raises(LoginRefused):
        acc.login("wangli", "not the password", "10.0.0.1")
    clock.advance(24 * 3600 + 1)
    acc.login("wangli", PASSWORD, "10.0.0.1")
    with db.session() as s:
        assert s.execute(text("SELECT count(*) FROM login_attempts")).scalar_one() == 1


# ------------------------------------------------------------------ audit


def test_audit_rows(acc: Accounts) -> None:
    add(acc)
    p = acc.login("wangli", PASSWORD, "10.0.0.7").principal
    acc.audit(p, "agent.pause", "1001", before={"state": "ready"}, after={"state": "paused",
              "reason": "午餐"}, address="10.0.0.7")  # fmt: skip
    acc.audit("wangli", "agent.ready", "1001")
    acc.audit("someone", "x.y", "z")
    newest = acc.audit_log(3)
    assert [r["action"] for r in newest] == ["x.y", "agent.ready", "agent.pause"]
    assert [r["role"] for r in newest] == ["", "operator", "operator"]
    assert newest[2]["before"] == {"state": "ready"}
    assert newest[2]["after"] == {"state": "paused", "reason": "午餐"}
    assert newest[2]["at"].timestamp() == START
    assert len(acc.audit_log(2)) == 2


# ------------------------------------------------------------------ hotline user


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HOTLINE_DATABASE_URL", url)
    monkeypatch.setenv("HOTLINE_CONFIG_DIR", str(CONFIG_DIR))
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(tmp_path / "var"))

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main(["user", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    run.url = url  # type: ignore[attr-defined]
    return run


def test_cli_users(cli: Any) -> None:
    code, out, err = cli("add", "wangli", "--role", "operator", "--agent", "1001", "--name",
                         "王丽", "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    assert code == 0, err
    assert out == "user wangli added: operator, agent 1001\n"
    assert f"revision {head_revision()}" in err  # a fresh database is migrated first
    code, out, _ = cli("list")
    assert code == 0 and "wangli" in out and "agent 1001" in out and "王丽" in out
    code, token, _ = cli("token", "wangli", "--label", "script")
    assert code == 0 and len(token.strip()) >= 40 and token.count("\n") == 1  # only the token
    db = Database(cli.url)
    acc = Accounts(db)
    assert acc.token_principal(token.strip()) is not None
    assert cli("passwd", "wangli", "--password-stdin", stdin="a new password\n")[0] == 0
    assert acc.login("wangli", "a new password", "").principal.agent_id == "1001"
    assert cli("disable", "wangli")[0] == 0
    assert acc.token_principal(token.strip()) is None
    assert cli("enable", "wangli")[0] == 0
    code, out, _ = cli("audit", "--limit", "3")
    assert code == 0 and out.splitlines()[0].split()[2:6] == [
        "cli:" + getpass.getuser(), "(cli)", "user.enable", "wangli"
    ]  # fmt: skip
    assert [r["action"] for r in acc.audit_log(3)] == ["user.enable", "user.disable",
                                                       "session.login"]  # fmt: skip
    db.close()


def test_cli_refusals(cli: Any) -> None:
    code, _, err = cli("add", "x1", "--role", "operator", "--agent", "9999", "--password-stdin",
                       stdin=PASSWORD + "\n")  # fmt: skip
    assert code == 1 and err.startswith("[HL-ACC-003] agent '9999' is not in ")
    code, _, err = cli("add", "x2", "--role", "department", "--department", "nowhere",
                       "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    assert code == 1 and "[HL-ACC-003] department 'nowhere'" in err
    code, _, err = cli("add", "x3", "--role", "admin", stdin=PASSWORD + "\n")  # no tty
    assert code == 1 and "--password-stdin" in err
    code, _, err = cli("add", "x4", "--role", "admin", "--password-stdin", stdin="short\n")
    assert code == 1 and "[HL-ACC-003]" in err and "at least 10" in err
    code, _, err = cli("disable", "nobody")
    assert code == 1 and err.startswith("[HL-ACC-004]")
    code, out, _ = cli("list")
    assert code == 0 and out.count("\n") == 1  # the header only


# ------------------------------------------------------------------ migration 0006


def test_migration_0006_up_and_down(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    assert upgrade(db.engine) == head_revision()
    assert set(ACC[1:]) <= set(db.table_names())
    command.downgrade(_alembic_config(db.engine), "0005")
    assert current_revision(db.engine) == "0005"
    assert not set(ACC[1:]) & set(db.table_names())
    assert "tickets" in db.table_names()
    assert upgrade(db.engine) == head_revision()
    acc = Accounts(db, hasher=CHEAP)
    add(acc, "again", "admin")
    assert [u.username for u in acc.list_users()] == ["again"]
    db.close()
