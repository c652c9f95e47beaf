"""Reload while calls are in flight: new calls take the new config, calls in progress finish on
the one they started with, and a broken config is refused while the running one stays."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from ivr.config.loader import load_config
from ivr.engine.callstore import MemoryStore
from ivr.engine.channel import CallInfo
from ivr.engine.menu import MenuEngine
from ivr.prompts import build_prompts
from ivr.runtime import ConfigHolder
from queueing.queue import RedisQueue
from tests.fakes import FakeChannel


class HeldChannel(FakeChannel):
    """A caller who listens to the menu, then waits until released, then presses nothing."""

    def __init__(self) -> None:
        super().__init__(keys="")
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()

    async def wait_digit(self, timeout: float) -> str:
        self.waiting.set()
        await self.release.wait()
        return await super().wait_digit(timeout)


def set_operator_skill(config_dir: Path, skill: str) -> None:
    menu = config_dir / "menu.yaml"
    text = menu.read_text()
    anchor = "  operator:\n    type: queue\n"
    assert anchor in text
    menu.write_text(text.replace(anchor, f"{anchor}    skill: {skill}\n", 1))


async def run_call(holder: ConfigHolder, queue: RedisQueue, ch: FakeChannel, uid: str) -> str:
    engine = MenuEngine(holder.current, queue, MemoryStore())
    record = await engine.run(ch, CallInfo(uniqueid=uid, caller="13700000009", dnid="12345"))
    assert record.outcome == "queue"
    return f"{record.skill}@{record.config_version}"


async def test_reload_with_calls_in_flight(config_copy: Path, queue: RedisQueue) -> None:
    status = config_copy.parent / "var" / "reload-status.json"
    holder = ConfigHolder(config_copy, config_copy.parent / "recordings", status)
    old = holder.current.version

    held = HeldChannel()
    in_flight = asyncio.create_task(run_call(holder, queue, held, "old.1"))
    async with asyncio.timeout(10):
        await held.waiting.wait()

    set_operator_skill(config_copy, "reloaded")
    result = holder.reload()
    assert result.ok
    new = holder.current.version
    assert new != old
    assert '"ok": true' in status.read_text()

    assert await run_call(holder, queue, FakeChannel(), "new.1") == f"reloaded@{new}"
    held.release.set()
    assert await in_flight == f"general@{old}", "the call in progress kept its config"


async def test_broken_config_is_refused_and_the_running_one_stays(
    config_copy: Path, queue: RedisQueue
) -> None:
    holder = ConfigHolder(config_copy, config_copy.parent / "recordings")
    running = holder.current

    menu = config_copy / "menu.yaml"
    lines = menu.read_text().splitlines(keepends=True)
    target = next(i for i, line in enumerate(lines) if line.strip().startswith('"1": policy'))
    lines[target] = lines[target].replace("policy", "no_such_node")
    menu.write_text("".join(lines))

    result = holder.reload()
    assert not result.ok
    assert holder.current is running
    assert result.version == running.version
    assert any(
        p.startswith(f"{menu}:{target + 1}:") or f"menu.yaml:{target + 1}:" in p
        for p in result.problems
    ), result.problems
    assert any("no_such_node" in p for p in result.problems)

    # Calls go on being served by the running config.
    assert await run_call(holder, queue, FakeChannel(keys="0"), "still.1") == (
        f"general@{running.version}"
    )

    menu.write_text("settings: [unclosed\n")
    assert not holder.reload().ok
    assert holder.current is running


async def test_a_reload_never_stalls_the_event_loop(
    config_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading and validating run in a worker thread: the loop (every call in progress) keeps
    going while a slow reload works, and the new config is in place afterwards."""
    import time

    from ivr import runtime

    holder = ConfigHolder(config_copy)
    real = runtime.load_config

    def slow_load(*args: object, **kwargs: object) -> object:
        time.sleep(0.5)  # a huge file, a slow disk
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runtime, "load_config", slow_load)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        await asyncio.sleep(0)
        before = ticks
        result = await holder.reload_async()
        during = ticks - before
    finally:
        task.cancel()
    assert result.ok
    assert during >= 10, f"the loop ran {during} times during a 0.5 s reload"


needs_espeak = pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")),
    reason="espeak-ng and sox are installed by ./test.sh",
)


@needs_espeak
def test_reload_rebuilds_the_prompts_whose_text_changed(config_copy: Path) -> None:
    recordings = config_copy.parent / "recordings"
    build_prompts(load_config(config_copy, recordings))
    status = config_copy.parent / "var" / "reload-status.json"
    holder = ConfigHolder(config_copy, recordings, status)
    menu = config_copy / "menu.yaml"
    menu.write_text(menu.read_text().replace("您好，欢迎致电12345。", "欢迎致电12345热线。", 1))
    old_wav = (recordings / "prompts" / "welcome.wav").read_bytes()

    result = holder.reload()
    assert result.ok and result.prompts == ("welcome",) and result.warnings == ()
    bundle = holder.current
    assert bundle.prompt_current("welcome")
    assert (recordings / "prompts" / "welcome.wav").read_bytes() != old_wav
    assert "欢迎致电12345热线" in (recordings / "prompts" / "welcome.txt").read_text()
    pieces = bundle.prompt_pieces("welcome")
    assert pieces == [str(recordings / "prompts" / "pieces" / "welcome" / f"0{i}") for i in (1, 2)]
    assert '"prompts": [\n  "welcome"\n ]' in status.read_text()

    again = holder.reload()
    assert again.ok and again.prompts == ()


@needs_espeak
def test_a_prompt_that_cannot_be_built_is_a_warning_not_a_refusal(
    config_copy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    holder = ConfigHolder(config_copy, config_copy.parent / "recordings")
    set_operator_skill(config_copy, "reloaded")
    monkeypatch.setenv("PATH", "/nonexistent")  # no espeak-ng, no sox
    result = holder.reload()
    assert result.ok and holder.current.version == result.version
    assert result.prompts == ()
    assert len(result.warnings) == 1 and result.warnings[0].startswith("[HL-PRM-002] ")
    assert "hotline prompts build" in result.warnings[0]
    assert any(r.getMessage().startswith("[HL-PRM-002] ") for r in caplog.records)


def test_a_reload_reports_the_configs_warnings(config_copy: Path) -> None:
    holder = ConfigHolder(config_copy, config_copy.parent / "recordings")
    agents = config_copy / "agents.yaml"
    agents.write_text(agents.read_text().replace("PJSIP/1002", "PJSIP/2002", 1))
    result = holder.reload()
    assert result.ok
    assert [w for w in result.warnings if "HL-CFG-094" in w and "agent '1002'" in w]


def test_a_bare_sighup_refuses_a_broken_catalogue(config_copy: Path) -> None:
    """The server's reload (SIGHUP without `hotline reload` first) checks the ticket catalogue
    as `hotline reload` does: a department the catalogue lacks is refused, the running config
    stays, and the reload status names the problem."""
    status = config_copy.parent / "reload-status.json"
    holder = ConfigHolder(config_copy, config_copy.parent / "recordings", status)
    running = holder.current
    departments = config_copy / "departments.yaml"
    added = "  sports:\n    name: 呼和浩特市体育局\n    skill: general\n"
    departments.write_text(departments.read_text("utf-8") + added, "utf-8")
    result = holder.reload()
    assert not result.ok and holder.current is running
    assert any("HL-CAT-006" in p and "sports" in p for p in result.problems), result.problems
    assert "HL-CAT-006" in status.read_text("utf-8")
