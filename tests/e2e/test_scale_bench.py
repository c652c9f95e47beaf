"""``bench/scale_bench.py --quick`` runs to its end on the local scale-out set (10 callers on
one Asterisk box, then on two behind Kamailio), so that the benchmark of issue 18 cannot rot
between the runs that measure. Its figures are printed, not judged, except that no call
failed (docs/scale-out.md "Figures of the whole set")."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import PROJECT
from tests.e2e.test_scale_out import missing

pytestmark = pytest.mark.asterisk


@pytest.mark.timeout(900)
def test_scale_bench_quick() -> None:
    reason = missing()
    if reason:
        pytest.skip(reason)
    started = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "bench.scale_bench", "--quick"],
        capture_output=True, text=True, timeout=840, cwd=PROJECT, check=False,
    )  # fmt: skip
    out = r.stdout + r.stderr
    print(f"\n{out}\n(the quick run took {time.monotonic() - started:.0f} s)")
    assert "Traceback" not in out, out[-4000:]
    assert r.returncode == 0, out[-4000:]
    for figure in ("1 box, 10 callers", "2 boxes, 10 callers", "limit: closest to its ceiling",
                   "CPU per call, 1 box beside 2 boxes", "Kamailio", "Redis Cluster",
                   "PostgreSQL", "fitted over"):  # fmt: skip
        assert figure in out, out[-4000:]
    assert "1 box: 10 concurrent calls, 0 failed" in out, out[-4000:]
    assert "2 boxes: 10 concurrent calls, 0 failed" in out, out[-4000:]
    assert "records per box 10/0" in out, out[-4000:]  # box 2 out of the dispatcher
