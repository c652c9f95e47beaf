"""The queue_log file beside the database (queueing.events.QueueLogFileSink): the lines
Asterisk's queue_log has, appended in order; its folder made when missing, also when it was
removed while the server runs."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from queueing.events import QueueEvent, QueueLogFileSink

AT = dt.datetime(2026, 12, 3, 1, 2, 3, tzinfo=dt.UTC)


def event(callid: str, name: str, *data: str) -> QueueEvent:
    return QueueEvent(AT, callid, "general", "1001", name, data)


async def test_lines_are_appended_in_order_and_the_folder_comes_back(tmp_path: Path) -> None:
    path = tmp_path / "var" / "queue_log"
    sink = QueueLogFileSink(path)
    await sink.queue_event(event("1.1", "ENTERQUEUE", "", "13800000000", "1"))
    await sink.queue_events(
        [event("1.1", "CONNECT", "4", "1.2", "1"), event("1.1", "COMPLETEAGENT")]
    )
    stamp = str(int(AT.timestamp()))
    assert path.read_text(encoding="utf-8").splitlines() == [
        f"{stamp}|1.1|general|1001|ENTERQUEUE||13800000000|1",
        f"{stamp}|1.1|general|1001|CONNECT|4|1.2|1",
        f"{stamp}|1.1|general|1001|COMPLETEAGENT",
    ]
    shutil.rmtree(tmp_path / "var")
    await sink.queue_events([event("2.1", "ABANDON", "1", "1", "30")])
    assert path.read_text(encoding="utf-8") == f"{stamp}|2.1|general|1001|ABANDON|1|1|30\n"
