"""The process-AGI layer (pyst2, one Python process per call) is the same hotline as a FastAGI
server: with every FastAGI URL dead, an answered caller gets the survey, the operator's
wrap-up ends on time, and a caller who hangs up while waiting is abandoned (ABANDON, out of
the Redis queue, a missed-call task).

The process script is wired as in a real install: it writes its call records into the
server's ``var/calls.jsonl``, which the running server imports into its database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from ivr.asterisk import conf
from ivr.config.loader import load_config
from queueing import keys
from tests.e2e.conftest import Stack, dead_agi_urls, poll, with_options
from tests.e2e.sipp import Operator

pytestmark = pytest.mark.asterisk

SURVEYED = "13800000071"  # answered by 1001, presses 4 in the survey
LEAVER = "13800000072"  # nobody on duty: hangs up while waiting

RING, TALK = 1.0, 3.0
# The survey question (18 s) starts once the operator hung up: about 3 s of menu ("0"),
# the ring and the talk after the caller's ACK; the key lands a few seconds into it.
SURVEY_KEY_AT = 3.0 + RING + TALK + 6.0


def test_the_process_layer_is_the_same_hotline(stack: Stack, tmp_path: Path) -> None:
    process = conf.process_agi_for_paths(
        config_dir=stack.config_dir,
        recordings_dir=stack.recordings,
        var_dir=stack.var,  # the server imports its var/calls.jsonl
        redis_url=stack.redis_url,
    )
    stack.wait_queue_empty()
    assert stack.install(with_options(stack, agi_urls=dead_agi_urls(1), process_agi=process)) == []
    phone: Operator | None = None
    try:
        phone = stack.softphone("1001", tmp_path, ring=RING, talk=TALK)
        assert stack.login("1001")["state"] == "ready"
        sipp = stack.call("12345", SURVEYED, keys=[(3.0, "0"), (SURVEY_KEY_AT, "4")])
        rec = stack.record(SURVEYED, timeout=120)  # imported from the process journal
        assert (rec["outcome"], rec["agent"] or rec["outcome_detail"]) == ("answered", "1001")
        assert rec["survey_score"] == 4, rec["events"]
        assert ("survey", "4") in [(e["kind"], e["detail"]) for e in rec["events"]]
        assert phone.wait(30) == 0, phone.errors()
        stack.finish(sipp, hang_up=False)  # the script finished: the dialplan hung up
        # wrap-up is 1 s: 1001 is ready for the next caller again
        poll(
            lambda: stack.agent("1001")["state"] == "ready" or None,
            lambda: f"1001 still {stack.agent('1001')}",
            timeout=15,
        )

        stack.logout("1001")  # nobody on duty: the next caller waits
        sipp = stack.call("12345", LEAVER, keys=[(3.0, "0")])
        uid = stack.wait_queued(LEAVER)
        stack.finish(sipp)  # the caller hangs up while waiting
        rec = stack.record(LEAVER, timeout=60)
        assert rec["uniqueid"] == uid
        assert rec["outcome"] == "abandoned", (rec["outcome"], rec["outcome_detail"])
        assert "ABANDON" in stack.wait_events(uid, {"ENTERQUEUE", "ABANDON"})
        centre = load_config(stack.config_dir, stack.recordings).queue.settings.centre
        client = redis.Redis.from_url(stack.redis_url)
        try:
            assert not client.exists(keys.entry(uid, centre))  # out of the queue at once
        finally:
            client.close()
        stack.wait_queue_empty(timeout=5)
        tasks = poll(
            lambda: (
                stack.query("SELECT kind, state FROM callback_tasks WHERE call_uniqueid = ?", uid)
                or None
            ),
            lambda: f"no missed-call task for {uid}",
            timeout=30,
        )
        assert [(t["kind"], t["state"]) for t in tasks] == [("missed", "open")]
    finally:
        if phone is not None:
            phone.stop()
        stack.logout("1001")
        assert stack.install() == []


ALONE_SURVEYED = "13800000073"  # answered while no server runs at all
ALONE_LEAVER = "13800000074"  # hangs up while waiting, no server running


def test_with_no_server_running_the_script_is_the_whole_hotline(
    stack: Stack, tmp_path: Path
) -> None:
    """The hotline server itself down (not only its FastAGI URL): the process script alone
    gives the survey, ends the operator's wrap-up on time and takes a caller who hangs up out
    of the queue. When the server returns it files both calls from the script's journal, with
    the missed-call task, and the queue holds nobody who has left."""
    process = conf.process_agi_for_paths(
        config_dir=stack.config_dir,
        recordings_dir=stack.recordings,
        var_dir=stack.var,
        redis_url=stack.redis_url,
    )
    stack.wait_queue_empty()
    assert stack.install(with_options(stack, agi_urls=dead_agi_urls(1), process_agi=process)) == []
    centre = load_config(stack.config_dir, stack.recordings).queue.settings.centre
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    journal = stack.var / "calls.jsonl"

    def state(agent_id: str) -> str:
        return client.hget(keys.agent(agent_id, centre), "state") or "offline"

    def queued(caller: str) -> str | None:
        uid = stack.uniqueid(caller)  # queued from the answer: and the menu behind it
        return (
            uid if uid and client.exists(keys.entry(uid, centre)) and stack.menu_done(uid) else None
        )

    def journaled(caller: str) -> Any:
        return next((r for r in stack._journal(journal) if r["caller"] == caller), None)

    def hotline(*args: str) -> None:
        env = dict(
            os.environ,
            HOTLINE_CONFIG_DIR=str(stack.config_dir),
            HOTLINE_RECORDINGS_DIR=str(stack.recordings),
            HOTLINE_REDIS_URL=stack.redis_url,
        )
        subprocess.run([sys.executable, "-m", "ivr.cli", *args], env=env, check=True)

    phone: Operator | None = None
    try:
        phone = stack.softphone("1001", tmp_path, ring=RING, talk=TALK)
        assert stack.login("1001")["state"] == "ready"
        stack.server.kill()  # no server at all from here on: no reaper, no pump, no HTTP
        stack.server.wait(10)

        sipp = stack.call("12345", ALONE_SURVEYED, keys=[(3.0, "0"), (SURVEY_KEY_AT, "4")])
        rec = poll(lambda: journaled(ALONE_SURVEYED), lambda: "no journal record", 120)
        assert (rec["outcome"], rec["outcome_detail"]) == ("answered", "1001")
        assert ("survey", "4") in [(e["kind"], e["detail"]) for e in rec["events"]]
        assert phone.wait(30) == 0, phone.errors()
        stack.finish(sipp, hang_up=False)
        # wrap-up is 1 s, ended by the script itself: nothing else reaps
        poll(lambda: state("1001") == "ready" or None, lambda: f"1001 {state('1001')}", 15)

        hotline("queue", "logout", "1001")  # the CLI works without a server too
        sipp = stack.call("12345", ALONE_LEAVER, keys=[(3.0, "0")])
        uid = poll(lambda: queued(ALONE_LEAVER), lambda: f"{ALONE_LEAVER} is not queued", 60)
        stack.finish(sipp)  # hangs up while waiting
        poll(lambda: not client.exists(keys.entry(uid, centre)) or None, lambda: "queued", 15)
        left = poll(lambda: journaled(ALONE_LEAVER), lambda: "no journal record", 60)
        assert left["outcome"] == "abandoned", (left["outcome"], left["outcome_detail"])

        stack.restart_server()  # the server returns: it files what the script journaled
        assert stack.record(ALONE_SURVEYED, timeout=60)["survey_score"] == 4
        assert stack.record(ALONE_LEAVER, timeout=60)["outcome"] == "abandoned"
        assert "ABANDON" in stack.wait_events(uid, {"ENTERQUEUE", "ABANDON"})
        tasks = poll(
            lambda: (
                stack.query("SELECT kind, state FROM callback_tasks WHERE call_uniqueid = ?", uid)
                or None
            ),
            lambda: f"no missed-call task for {uid}",
            timeout=30,
        )
        assert [(t["kind"], t["state"]) for t in tasks] == [("missed", "open")]
        stack.wait_queue_empty(timeout=5)  # nobody who has left is still queued
    finally:
        client.close()
        if phone is not None:
            phone.stop()
        if stack.server.poll() is not None:
            stack.restart_server()
        stack.logout("1001")
        assert stack.install() == []
