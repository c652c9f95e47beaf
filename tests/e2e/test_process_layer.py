"""The process-AGI layer (pyst2, one Python process per call) is the same hotline as a FastAGI
server: with every FastAGI URL dead, an answered caller gets the survey, the operator's
wrap-up ends on time, and a caller who hangs up while waiting is abandoned (ABANDON, out of
the Redis queue, a missed-call task).

The process script is wired as in a real install: it writes its call records into the
server's ``var/calls.jsonl``, which the running server imports into its database.
"""

from __future__ import annotations

from pathlib import Path

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
