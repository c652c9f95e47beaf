"""The outbox inside a real `hotline serve`: an admin turns SMS on in config/notify.yaml, an
operator files a ticket from the console and answers it at once (直接办结), and the server's
delivery loop sends the receipt and the reply through the file gateway (var/sms-outbox.jsonl)
while the server runs; `hotline outbox list` shows them sent."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.test_cli import Server, hotline


def test_the_running_server_sends_the_receipt_and_the_reply(
    config_copy: Path, redis_url: str
) -> None:
    notify = config_copy / "notify.yaml"
    text = notify.read_text("utf-8").replace("enabled: false", "enabled: true", 1)
    text = text.replace('lookup_url: ""', 'lookup_url: "https://12345.example/q"', 1)
    text = text.replace("  poll_seconds: 5 ", "  poll_seconds: 0.2 ", 1)
    text = text.replace('    start: "08:00"\n    end: "21:00"\n', "", 1)
    notify.write_text(text.replace("  hours:  ", "  hours: null  # ", 1), "utf-8")  # any time
    server = Server(config_copy, redis_url)
    try:
        accepted = hotline(
            "tickets", "accept", "cli-call-1", "--type", "complaint", "--category",
            "housing.property", "--content", "电梯坏了", "--caller", "13900000009",
            "--answer", "已联系物业今日修复", "--by", "op1", env=server.env,
        )  # fmt: skip
        assert accepted.returncode == 0, accepted.stderr
        number = accepted.stdout.split()[1]
        sent = server.var / "sms-outbox.jsonl"
        deadline = time.monotonic() + 30
        lines: list[str] = []
        while len(lines) < 2:
            assert time.monotonic() < deadline, "the server sent nothing within 30 s"
            time.sleep(0.1)
            lines = sent.read_text("utf-8").splitlines() if sent.exists() else []
        texts = [json.loads(line) for line in lines]
        assert [t["key"] for t in texts] == [f"{number}:accepted", f"{number}:finished:0"]
        assert texts[1]["text"] == (
            f"【12345热线】您的工单{number}已办结。答复：已联系物业今日修复 "
            "详情：https://12345.example/q"
        )
        listed = hotline("outbox", "list", env=server.env)
        assert listed.returncode == 0 and listed.stdout.startswith("outbox: sms sent 2;")
    finally:
        server.stop()
