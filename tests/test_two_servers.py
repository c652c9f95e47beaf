"""Two real ``hotline serve`` processes (FastAGI + HTTP) sharing one Redis and one database
(an SQLite file both open, and PostgreSQL), each with a config directory of its own, as on two
machines (docs/scale-out.md, several hotline servers). Calls are played by the simulator, which
speaks FastAGI to a server as Asterisk does.

- An operator's desk connected to server B gets the screen-pop of a caller whose FastAGI session
  is on server A, then the answer and the end of the call; both wallboards show the same queue.
- The same in Chromium: the desk page on B rings for a caller on A.
- B killed: the desk reconnects to A with the same session and CSRF token (nothing sticky),
  still ready, and gets the next call.
- Two servers of one machine sharing a config directory both run a save.
- Two admins saving one file on A and B at once: both servers end on the same last save.
- An admin's save on A (session cookie and CSRF token, as the console sends it) runs on B within
  a couple of seconds, a rollback too; a refused edit changes neither server; a server restarted
  after the save, and one started fresh, catch up at their start.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import time
import uuid
import wave
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from ivr.accounts import Accounts
from ivr.agi.simulator import simulate_call
from ivr.config.loader import load_config
from ivr.db.config_tables import ConfigSaveRow
from ivr.db.database import Database
from ivr.devtools.pgtemp import NoPostgres, admin, pg_bindir, throwaway_postgres, url_for
from ivr.prompts import build_prompts
from tests.conftest import CONFIG_DIR
from tests.redis_clients import redis_db, sync_client
from tests.test_outages import Server

HOTLINE = [sys.executable, "-m", "ivr.cli"]
PASSWORD = "two-servers-pass-1"
CALLER = "13900000518"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

QUEUE_YAML = """
settings: {wrapup_seconds: 0, lease_seconds: 6, tick_seconds: 0.5, heartbeat_seconds: 30}
callback: {enabled: false}
survey: {enabled: false}
overflow: {}
dialler: {enabled: false}
"""

NEW_OPERATOR = """
  - id: "1099"
    name: 新坐席
    interface: PJSIP/1099
    skills: {general: 5}
"""


class ServeProcess(Server):
    """One ``hotline serve --queue-wait --http-port`` with a config directory of its own (as
    test_outages' server, which it is, on a machine of its own)."""

    start_seconds = 60.0  # two or three start at once, each checking its directory

    def __init__(self, root: Path, shipped: Path, redis_url: str, database: str) -> None:
        self.root = root
        config = root / "config"
        if not config.exists():  # a machine of its own: its own copy of the admin files
            shutil.copytree(shipped, config)  # and of the prompts, built
            shutil.copytree(shipped.parent / "recordings", root / "recordings")
        super().__init__(config, redis_url, root / "var", database)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log(self) -> str:
        """The whole log (what a save did is looked for in all of it)."""
        path = self.var / "serve.log"
        return path.read_text("utf-8", "replace") if path.exists() else ""


class StaffSession:
    """A browser's session on one server: its cookie, and its CSRF token sent on every POST
    as the console's script sends it."""

    def __init__(self, server: ServeProcess) -> None:
        self.base = server.base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def login(self, username: str) -> StaffSession:
        body = {"username": username, "password": PASSWORD}
        async with self.http.post(self.base + "/api/login", json=body) as r:
            assert r.status == 200, await r.text()
            self.csrf = (await r.json())["csrf_token"]
        return self

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf}
        async with self.http.post(self.base + path, json=body, headers=headers) as r:
            return r.status, await r.json()

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.base + path) as r:
            return r.status, await r.json()

    async def socket(self, path: str) -> aiohttp.ClientWebSocketResponse:
        url = self.base.replace("http://", "ws://") + path
        return await self.http.ws_connect(url, headers={"Origin": self.base})

    async def close(self) -> None:
        await self.http.close()


async def until(fetch: Callable[[], Awaitable[Any]], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await fetch()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def next_message(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 20) -> Any:
    """The desk's next message of ``kind`` (others before it skipped), within ``timeout``."""

    async def read() -> Any:
        while True:
            msg = json.loads(await ws.receive_str())
            if msg["type"] == kind:
                return msg

    return await asyncio.wait_for(read(), timeout)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    try:
        pg_bindir()
    except NoPostgres as exc:
        pytest.fail(f"{exc}: run ./test.sh (installs postgresql)")
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The database both servers use, migrated, with an admin and operator 1001's account."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        name = ""
    else:
        server = request.getfixturevalue("pg_server")
        name = f"two_{uuid.uuid4().hex[:10]}"
        admin(server, f"CREATE DATABASE {name}")
        url = url_for(server, name)
    db = Database(url)
    db.upgrade()
    accounts = Accounts(db, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    accounts.add_user("admin1", PASSWORD, "admin", actor="tests")
    accounts.add_user("op1001", PASSWORD, "operator", agent_id="1001", actor="tests")
    db.close()
    yield url
    if name:
        admin(request.getfixturevalue("pg_server"), f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def built_prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped prompts, built once (as a deployed server has them)."""
    recordings = tmp_path_factory.mktemp("prompts") / "recordings"
    (recordings / "studio").mkdir(parents=True)
    build_prompts(load_config(CONFIG_DIR, recordings))
    return recordings


@pytest.fixture
def shipped(config_copy: Path, built_prompts: Path) -> Path:
    """The shipped config with a short lease and no survey, and its prompts built (every
    server starts from a copy of them)."""
    (config_copy / "queue.yaml").write_text(QUEUE_YAML)
    shutil.rmtree(config_copy.parent / "recordings")
    shutil.copytree(built_prompts, config_copy.parent / "recordings")
    return config_copy


@pytest.fixture
def shared_redis(redis_url: str) -> str:
    url = redis_db(redis_url, 9)
    sync_client(url).flushdb()
    return url


@pytest.fixture
def servers(
    tmp_path: Path, shipped: Path, shared_redis: str, shared_database: str
) -> Iterator[list[ServeProcess]]:
    """Servers A and B, started; a test may add more to the list (stopped at the end)."""
    started = [
        ServeProcess(tmp_path / n, shipped, shared_redis, shared_database).start() for n in "ab"
    ]
    yield started
    for s in started:
        s.stop()


async def test_a_desk_on_b_gets_the_call_held_by_a_and_both_wallboards_agree(
    servers: list[ServeProcess],
) -> None:
    a, b = servers
    desk = await StaffSession(b).login("op1001")
    boards = [await StaffSession(s).login("admin1") for s in (a, b)]
    uid = f"17900{uuid.uuid4().int % 10**5:05d}.0001"
    try:
        ws = await desk.socket("/api/desk/socket")
        assert (await next_message(ws, "hello"))["agent"]["state"] == "offline"
        status, _ = await desk.post("/api/agents/1001/login", {"ready": False})
        assert status == 200
        call = asyncio.create_task(
            simulate_call(
                "127.0.0.1", a.agi_port, to="12345", caller=CALLER, digits="0",
                uniqueid=uid, dial_status="ANSWER", timeout=60,
            )
        )  # fmt: skip

        async def same_queue_on_both() -> Any:
            seen = [(await board.get("/api/wallboard"))[1] for board in boards]
            views = [
                (s["total"]["waiting"], {x["id"]: x["state"] for x in s["agents"]}) for s in seen
            ]
            return views[0] == views[1] and views[0][0] == 1 and seen

        await until(same_queue_on_both, "both wallboards to show the caller waiting")
        # the operator on B goes ready: the queue offers A's caller, B's desk pops it
        status, _ = await desk.post("/api/agents/1001/ready", {})
        assert status == 200, _
        pop = (await next_message(ws, "offer"))["pop"]
        assert (pop["uniqueid"], pop["caller"], pop["agent"]) == (uid, CALLER, "1001")
        connected = await next_message(ws, "connected")
        assert connected["uniqueid"] == uid
        result = await asyncio.wait_for(call, 60)
        assert any("Dial" in c for c in result.commands), result.commands
        # the call's end: the operator is free again (wrap-up 0), told on B's desk
        ended = await next_message(ws, "agent")
        assert ended["agent"]["state"] in ("wrapup", "ready")

        async def empty_on_both() -> bool:
            seen = [(await board.get("/api/wallboard"))[1] for board in boards]
            return all(s["total"]["waiting"] == 0 for s in seen)

        await until(empty_on_both, "both wallboards to show the queue empty")
        await ws.close()
    finally:
        for session in (desk, *boards):
            await session.close()


def saved_rows(database: str) -> list[tuple[str, str]]:
    """The saves recorded in the shared database, in order."""
    db = Database(database)
    try:
        with db.session() as session:
            rows = session.execute(
                select(ConfigSaveRow.name, ConfigSaveRow.version).order_by(ConfigSaveRow.id)
            )
            return [(n, v) for n, v in rows]
    finally:
        db.close()


async def _agent_known(server: ServeProcess, agent_id: str) -> bool:
    """Whether ``server``'s running config has operator ``agent_id`` (its agents.yaml)."""
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
        http.post(server.base + "/api/login", json={"username": "admin1", "password": PASSWORD}),
        http.get(f"{server.base}/api/agents/{agent_id}") as r,
    ):
        assert r.status in (200, 404), await r.text()
        return r.status == 200


async def test_a_desk_whose_server_dies_goes_on_on_the_other_without_a_new_login(
    servers: list[ServeProcess],
) -> None:
    a, b = servers
    desk = await StaffSession(b).login("op1001")
    try:
        ws = await desk.socket("/api/desk/socket")
        await next_message(ws, "hello")
        status, _ = await desk.post("/api/agents/1001/login", {"ready": True})
        assert status == 200
        assert b.proc is not None
        b.proc.send_signal(signal.SIGKILL)  # B dies with the desk connected to it
        b.proc.wait(10)

        async def closed() -> aiohttp.WSMsgType:
            while (msg := await ws.receive()).type == aiohttp.WSMsgType.TEXT:
                pass  # the notices sent before B died
            return msg.type

        assert await asyncio.wait_for(closed(), 10) in (
            aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR,
        )  # fmt: skip
        # the page reconnects through the load balancer, to A: the same cookie and CSRF token
        desk.base = a.base
        ws = await desk.socket("/api/desk/socket")
        hello = await next_message(ws, "hello")
        assert hello["agent"]["state"] == "ready", hello  # nobody was logged out
        status, agent = await desk.post("/api/agents/1001/heartbeat", {})
        assert status == 200, agent
        uid = f"17901{uuid.uuid4().int % 10**5:05d}.0001"
        result = await simulate_call(
            "127.0.0.1", a.agi_port, to="12345", caller=CALLER, digits="0",
            uniqueid=uid, dial_status="ANSWER", timeout=60,
        )  # fmt: skip
        assert any("Dial" in c for c in result.commands), result.commands
        pop = (await next_message(ws, "offer"))["pop"]
        assert (pop["uniqueid"], pop["agent"]) == (uid, "1001")
        await ws.close()
    finally:
        await desk.close()


async def test_an_admins_save_on_a_runs_on_b_and_on_a_server_started_later(
    servers: list[ServeProcess], tmp_path: Path, shipped: Path
) -> None:
    a, b = servers
    console = await StaffSession(a).login("admin1")
    try:
        status, before = await console.get("/api/config/file?name=agents.yaml")
        assert status == 200
        assert not await _agent_known(a, "1099") and not await _agent_known(b, "1099")
        # a refused edit changes neither server (files, running config, the saves recorded)
        bad = (
            before["text"].rstrip("\n")
            + "\n"
            + NEW_OPERATOR.replace("1099", "1098").replace("general: 5", "general: 99")
        )  # a skill's level is 1..10
        status, refused = await console.post(
            "/api/config/file", {"name": "agents.yaml", "text": bad, "version": before["version"]}
        )
        assert (status, refused["error_id"]) == (400, "HL-WEB-017"), refused
        assert refused["details"]["problems"][0]["file"] == "agents.yaml"
        for server in (a, b):
            assert (server.config / "agents.yaml").read_text("utf-8") == before["text"]
        # an accepted save on A
        text = before["text"].rstrip("\n") + "\n" + NEW_OPERATOR
        t0 = time.monotonic()
        status, saved = await console.post(
            "/api/config/file", {"name": "agents.yaml", "text": text, "version": before["version"]}
        )
        assert status == 200, saved
        assert saved["reloaded"] and saved["shared"] is True
        answered = time.monotonic()
        await until(lambda: _agent_known(b, "1099"), "B to run A's save", timeout=10)
        latency = time.monotonic() - t0
        print(f"\nsave on A -> running on B: {latency:.2f} s ({answered - t0:.2f} s A's answer)")
        assert (b.config / "agents.yaml").read_text("utf-8") == text
        assert not await _agent_known(b, "1098") and not await _agent_known(a, "1098")
        assert saved_rows(a.database) == [("agents.yaml", saved["version"])]
        # B's log: the save applied once, nothing refused; A wrote nothing back
        assert "config saves applied: agents.yaml" in b.log()
        assert "config saves applied" not in a.log()

        # B stops; A saves again (a rollback to the first version); B comes back: caught up
        b.stop()
        status, versions = await console.get("/api/config/history?name=agents.yaml")
        assert status == 200 and versions[0]["version"] == before["version"], versions
        status, rolled = await console.post(
            "/api/config/rollback",
            {"name": "agents.yaml", "version_id": versions[0]["id"], "version": saved["version"]},
        )
        assert status == 200 and rolled["shared"] is True, rolled
        assert not await _agent_known(a, "1099")
        b.start()
        assert not await _agent_known(b, "1099"), "B started with the save it missed applied"
        # a server on a new machine, started from the shipped files after the saves
        c = ServeProcess(tmp_path / "c", shipped, a.redis_url, a.database)
        servers.append(c)
        (c.config / "agents.yaml").write_text(text, "utf-8")  # an older copy of the files
        c.start()
        assert not await _agent_known(c, "1099")
        assert (c.config / "agents.yaml").read_text("utf-8") == before["text"]
        # and a save on C runs on A and B
        on_c = await StaffSession(c).login("admin1")
        status, saved = await on_c.post(
            "/api/config/file", {"name": "agents.yaml", "text": text, "version": before["version"]}
        )
        await on_c.close()
        assert status == 200 and saved["shared"] is True, saved
        for server in (a, b):
            await until(lambda s=server: _agent_known(s, "1099"), "A and B to run C's save", 5)
        for server in servers:
            assert "HL-CFG-097" not in server.log(), server.log()[-4000:]
    finally:
        await console.close()


async def test_two_servers_of_one_machine_on_one_config_directory_both_run_a_save(
    servers: list[ServeProcess], tmp_path: Path, shipped: Path
) -> None:
    a = servers[0]
    twin = ServeProcess(tmp_path / "twin", shipped, a.redis_url, a.database)
    twin.config = a.config  # hotline@1 and hotline@2: one config directory
    servers.append(twin.start())
    console = await StaffSession(a).login("admin1")
    try:
        status, before = await console.get("/api/config/file?name=agents.yaml")
        text = before["text"].rstrip("\n") + "\n" + NEW_OPERATOR
        status, saved = await console.post(
            "/api/config/file", {"name": "agents.yaml", "text": text, "version": before["version"]}
        )
        assert status == 200 and saved["shared"] is True, saved
        # the file was on disk already for the twin: it reloads all the same
        await until(lambda: _agent_known(twin, "1099"), "the twin to run A's save", timeout=10)
        assert "already on disk here" in twin.log()
    finally:
        await console.close()


async def test_a_save_that_b_cannot_run_leaves_b_on_its_config_until_it_can(
    servers: list[ServeProcess],
) -> None:
    a, b = servers
    # a recording copied into A's config directory only
    (a.config / "sounds").mkdir()
    with wave.open(str(a.config / "sounds" / "holiday.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"\0\0" * 4000)  # 0.5 s of silence, as Asterisk plays WAV
    running_on_b = json.loads((b.var / "reload-status.json").read_text())["version"]
    console = await StaffSession(a).login("admin1")
    try:
        status, menu = await console.get("/api/config/file?name=menu.yaml")
        text = menu["text"].replace(
            "\nprompts:\n", "\nprompts:\n  holiday_notice:\n    file: sounds/holiday.wav\n", 1
        )
        assert status == 200 and text != menu["text"]
        status, saved = await console.post(
            "/api/config/file", {"name": "menu.yaml", "text": text, "version": menu["version"]}
        )
        assert status == 200 and saved["reloaded"] and saved["shared"] is True, saved

        async def refused_on_b() -> bool:
            return "HL-CFG-097" in b.log()

        await until(refused_on_b, "B to refuse A's save", 10)
        refusal = [line for line in b.log().splitlines() if "HL-CFG-097" in line]
        assert len(refusal) == 1 and "menu.yaml" in refusal[0] and "holiday.wav" in refusal[0]
        assert (b.config / "menu.yaml").read_text("utf-8") == menu["text"]
        assert json.loads((b.var / "reload-status.json").read_text())["version"] == running_on_b
        # another save wakes B again: the refusal is not logged twice, the other file runs
        status, agents = await console.get("/api/config/file?name=agents.yaml")
        status, saved = await console.post(
            "/api/config/file",
            {"name": "agents.yaml", "text": agents["text"].rstrip("\n") + "\n" + NEW_OPERATOR,
             "version": agents["version"]},
        )  # fmt: skip
        assert status == 200, saved
        await until(lambda: _agent_known(b, "1099"), "B to run A's next save", timeout=10)
        assert b.log().count("HL-CFG-097") == 1
        assert (b.config / "menu.yaml").read_text("utf-8") == menu["text"]
        # the recording copied to B too, B restarted: it takes the save at its start
        b.stop()
        shutil.copytree(a.config / "sounds", b.config / "sounds")
        b.start()
        assert (b.config / "menu.yaml").read_text("utf-8") == text
        assert b.log().count("HL-CFG-097") == 1
    finally:
        await console.close()


async def test_two_admins_saving_one_file_on_two_servers_at_once_end_alike_everywhere(
    servers: list[ServeProcess],
) -> None:
    a, b = servers
    consoles = [await StaffSession(s).login("admin1") for s in (a, b)]
    try:
        read = [(await c.get("/api/config/file?name=agents.yaml"))[1] for c in consoles]
        assert read[0]["version"] == read[1]["version"]
        ids = ("1097", "1099")  # A's draft adds 1097, B's 1099, both on the same version
        drafts = [
            r["text"].rstrip("\n") + "\n" + NEW_OPERATOR.replace("1099", agent_id)
            for r, agent_id in zip(read, ids, strict=True)
        ]
        answers = await asyncio.gather(
            *(
                c.post(
                    "/api/config/file",
                    {"name": "agents.yaml", "text": d, "version": r["version"]},
                )
                for c, d, r in zip(consoles, drafts, read, strict=True)
            )
        )
        statuses = sorted(status for status, _ in answers)
        print(f"\ntwo saves at once: {statuses}")
        assert statuses in ([200, 200], [200, 409]), answers  # 409: the other's save came first
        rows = saved_rows(a.database)
        assert len(rows) == statuses.count(200)
        last = rows[-1][1]
        winner = next(i for i, (_, body) in enumerate(answers) if body.get("version") == last)

        async def alike() -> bool:
            files = [(s.config / "agents.yaml").read_text("utf-8") for s in (a, b)]
            return files[0] == files[1] == drafts[winner]

        await until(alike, "both servers to end on the last save", timeout=10)
        for server in (a, b):  # running, not only written
            await until(lambda s=server: _agent_known(s, ids[winner]), "the last save to run", 10)
            assert not await _agent_known(server, ids[1 - winner])
    finally:
        for c in consoles:
            await c.close()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is needed")
@pytest.mark.parametrize("shared_database", ["sqlite"], indirect=True)
async def test_the_desk_page_on_b_rings_for_a_caller_on_a_in_chromium(
    servers: list[ServeProcess],
) -> None:
    playwright = pytest.importorskip("playwright.async_api")
    a, b = servers
    caller = "13900000519"
    async with playwright.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            expect = playwright.expect
            await page.goto(b.base + "/desk")
            await page.fill("#username", "op1001")
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            await expect(page).to_have_url(b.base + "/desk")
            await expect(page.locator("#link")).to_contain_text("在线")
            await page.click("#ready")
            await expect(page.locator("#state")).to_contain_text("就绪")
            result = await simulate_call(
                "127.0.0.1", a.agi_port, to="12345", caller=caller, digits="0",
                dial_status="ANSWER", timeout=60,
            )  # fmt: skip
            assert any("Dial" in c for c in result.commands), result.commands
            # the pop of A's caller stays on B's desk once answered (class "pop": on the call)
            await expect(page.locator("#pop-caller")).to_contain_text(caller)
            await expect(page.locator("#pop")).to_have_class("pop")
            await expect(page.locator("#pop-ticket")).not_to_be_empty()
        finally:
            await browser.close()
