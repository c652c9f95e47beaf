"""Log lines carry the centre's time (北京时间 by default) with its offset, on a UTC host."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys

from ivr.logfmt import CentreTimeFormatter
from tests.conftest import ROOT


def record_at(when: dt.datetime) -> logging.LogRecord:
    record = logging.LogRecord("hotline", logging.WARNING, __file__, 1, "hello", None, None)
    record.created = when.timestamp()
    return record


def test_a_log_line_reads_in_beijing_time() -> None:
    line = CentreTimeFormatter().format(record_at(dt.datetime(2026, 12, 3, 23, 40, tzinfo=dt.UTC)))
    assert line == "2026-12-04T07:40:00.000+08:00 WARNING hotline: hello"


def test_another_centre_zone() -> None:
    fmt = CentreTimeFormatter(zone="Asia/Urumqi")
    line = fmt.format(record_at(dt.datetime(2026, 12, 3, 23, 40, tzinfo=dt.UTC)))
    assert line.startswith("2026-12-04T05:40:00.000+06:00 ")


def test_the_command_logs_in_beijing_time_on_a_utc_host(tmp_path: os.PathLike[str]) -> None:
    code = (
        "import logging, sys; from ivr import logfmt; logfmt.configure(logging.INFO); "
        "logging.getLogger('hotline').warning('x')"
    )
    env = {**os.environ, "TZ": "UTC", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       check=True, timeout=60)  # fmt: skip
    stamp = r.stderr.split(" ", 1)[0]
    assert stamp.endswith("+08:00"), r.stderr
    parsed = dt.datetime.fromisoformat(stamp)
    assert abs((parsed - dt.datetime.now(dt.UTC)).total_seconds()) < 60
