"""Concurrent calls carried by ONE Asterisk box and by TWO behind Kamailio, in one run, with
the CPU of every process of the scale-out set per call and where the limit is (issue 18).

The set is :class:`ivr.devtools.local_cluster.LocalCluster` as the e2e tests of
``tests/e2e/test_scale_out.py`` bring it up (:func:`~tests.e2e.test_scale_out.scale_set`: two
Asterisk roots of its own taken like an e2e session's, the e2e config copy): Kamailio, two
chrooted Asterisk 22 boxes, two ``hotline serve --queue-wait``, a Redis Cluster of 3 masters
and 3 replicas, PostgreSQL. Five operators (SIPp UAS softphones registered at Kamailio, as in
the e2e test: ring 0.5 s, talk 1 s) are started once.

First with box 2 disabled in Kamailio's dispatcher (``kamcmd dispatcher.set_state d 1
<box 2>``: no call and no probe goes to it), then with both boxes active, for N = ``--start``,
``--start + --step``, ... up to ``--max``, a step:

1. ONE SIPp process places N calls at Kamailio (``place_callers`` of the e2e test: 10 new
   calls a second, each caller presses 0 after the welcome); every caller waits in the one
   Redis queue with music on hold until all N wait at once (the queue's metrics on server 1);
2. the operators log in (half on each server's API) and answer them one after another; each
   caller hears the survey and the hotline hangs up;
3. a call failed if SIPp counts it failed or its record in PostgreSQL is not ``answered`` by
   an operator; the series stops at the first step with a failed call (or one whose callers
   were never all waiting at once); a step in which waiting callers are not answered for
   90 s is given up (a box out of RTP ports cannot ring the operators);
4. CPU of every process (``/proc/<pid>/stat`` utime + stime, threads and child processes
   included, processes that start during the step counted from zero), over the step: in CPU
   seconds, in milliseconds per call, and in % of a core per call in progress (CPU seconds /
   the calls' summed durations from their records); and at its peak (1 s samples) against
   its ceiling: the limit is the process nearest it.

    sudo .venv/bin/python -m bench.scale_bench [--start 50] [--step 50] [--max 300]
    sudo .venv/bin/python -m bench.scale_bench --quick    # 10 callers, 1 box then 2
    sudo .venv/bin/python -m bench.scale_bench --boxes 2 --start 600 --max 600  # one series

Needs root, sipp, kamailio, redis-server and PostgreSQL, as the e2e tests of the set do.
The bench's own polling (one queue-metrics request a second to server 1) is in its figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from bench.sip_capacity import (
    NCPU,
    Pids,
    Sampler,
    Usage,
    _interrupt,
    saturation,
    sipp_counts,
    stop_sipp,
)
from ivr.asterisk import local
from tests.e2e.sipp import Operator
from tests.e2e.test_scale_out import (
    OPERATORS,
    ScaleSet,
    missing,
    place_callers,
    scale_set,
)

QUICK_CALLERS = 10
STALL = 90  # seconds without a caller answered while some wait: the step is given up
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"
SET = "the set (all but SIPp)"
NOT_THE_SET = ("SIPp callers", "SIPp operators", "machine")


# -- the processes of the set -----------------------------------------------------------------


class Procs:
    """Every process's parent, read from /proc (refreshed before each sample)."""

    def __init__(self) -> None:
        self.children: dict[int, list[int]] = {}
        self.refresh()

    def refresh(self) -> None:
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", encoding="ascii") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
        self.children = children

    def tree(self, pid: int | None) -> list[int]:
        """``pid`` and its descendants (none if ``pid`` is None)."""
        out: list[int] = []
        todo = [pid] if pid else []
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(self.children.get(p, []))
        return out


def postmaster(scale: ScaleSet) -> int | None:
    try:
        return int((scale.cluster.postgres.data / "postmaster.pid").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def groups(
    scale: ScaleSet, procs: Procs, sipp: list[int], phones: list[Operator]
) -> dict[str, tuple[int, Pids]]:
    """Process group -> (its ceiling in cores, its pids)."""
    cluster = scale.cluster

    def tree(pid: Callable[[], int | None]) -> Callable[[], list[int]]:
        return lambda: procs.tree(pid())

    out: dict[str, tuple[int, Pids]] = {"Kamailio": (NCPU, tree(cluster.kamailio.pid))}
    for i, box in enumerate(cluster.boxes, 1):
        out[f"Asterisk box {i}"] = (NCPU, tree(lambda b=box: local.status(b.root).pid))
    for i, server in enumerate(cluster.servers, 1):
        out[f"hotline serve {i}"] = (1, tree(server.pid))
    # summed over the six nodes; its ceiling one core: a centre's queue lives on one master
    out["Redis Cluster"] = (1, [n.pid for n in cluster.redis.nodes])
    out["PostgreSQL"] = (NCPU, tree(lambda: postmaster(scale)))
    out["SIPp callers"] = (1, sipp)
    out["SIPp operators"] = (min(len(phones), NCPU), [p.proc.pid for p in phones if p.proc])
    return out


def dispatch_to(scale: ScaleSet, boxes: int) -> None:
    """Kamailio sends calls to the first ``boxes`` boxes only (the others disabled: no call,
    no probe)."""
    control = f"unix:{scale.cluster.kamailio.control}"
    for i, box in enumerate(scale.cluster.boxes):
        state = "a" if i < boxes else "d"
        subprocess.run(
            [KAMCMD, "-s", control, "dispatcher.set_state", state, "1", f"sip:{box.address}"],
            check=True, capture_output=True, timeout=10,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        flags = [scale.box_flags(b) for b in scale.cluster.boxes]
        want = ["A" if i < boxes else "D" for i in range(len(flags))]
        if [f[:1] for f in flags] == want:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"Kamailio's dispatcher flags {flags}, wanted {want}")
        time.sleep(0.5)


# -- a step -------------------------------------------------------------------------------------


@dataclass
class Step:
    boxes: int
    calls: int
    peak: int = 0  # callers waiting in the queue at once
    all_waiting_after: float = 0.0
    sipp_ok: int = 0
    sipp_failed: int = 0
    answered: int = 0
    recorded: int = 0
    per_box: list[int] = field(default_factory=list)  # records by box (UNIQUEID's systemname)
    call_seconds: float = 0.0
    elapsed: float = 0.0
    load: float = 0.0
    usage: dict[str, Usage] = field(default_factory=dict)
    idle: dict[str, float] = field(default_factory=dict)  # CPU s per s with no call
    processes: dict[str, int] = field(default_factory=dict)
    note: str = ""

    @property
    def failed(self) -> int:
        return max(self.sipp_failed, self.calls - self.answered)

    @property
    def carried(self) -> bool:
        return not self.failed and self.peak >= self.calls

    @property
    def label(self) -> str:
        return "1 box" if self.boxes == 1 else f"{self.boxes} boxes"

    def net(self, name: str) -> float:
        """CPU seconds of ``name`` over the step beyond what it uses with no call (``SET``:
        every process of the set, the load generators and the machine left out)."""
        if name == SET:
            return sum(self.net(n) for n in self.usage if n not in NOT_THE_SET)
        u = self.usage[name]
        if name == "machine":  # its "idle" is the other sessions' use of the machine then
            return u.total
        return max(0.0, u.total - self.idle.get(name, 0.0) * u.seconds)

    def per_call_ms(self, name: str) -> float:
        return 1000 * self.net(name) / self.calls

    def per_live_call(self, name: str) -> float:
        """% of a core per call in progress."""
        return 100 * self.net(name) / self.call_seconds if self.call_seconds else 0.0


def first_error(workdir: Path) -> str:
    """The first unexpected answer in SIPp's error log (e.g. ``488 Not Acceptable Here``)."""
    for log in sorted(workdir.glob("*_errors.log")):
        for line in log.read_text("utf-8", "replace").splitlines():
            if "received '" in line:
                return line.split("received '", 1)[1].strip()
            if "Aborting" in line or "timeout" in line.lower():
                return line.strip()[-160:]
    return "?"


def records(scale: ScaleSet, prefix: str, step: Step) -> None:
    rows = scale.rows(
        "SELECT uniqueid, outcome, agent, duration FROM call_records WHERE caller LIKE :p",
        p=prefix + "%",
    )
    step.recorded = len(rows)
    step.answered = sum(1 for r in rows if r["outcome"] == "answered" and r["agent"] in OPERATORS)
    step.call_seconds = sum(float(r["duration"] or 0.0) for r in rows)
    step.per_box = [
        sum(1 for r in rows if str(r["uniqueid"]).startswith(f"box{i}-"))
        for i in range(1, len(scale.cluster.boxes) + 1)
    ]


def idle(scale: ScaleSet, procs: Procs, phones: list[Operator], seconds: float) -> dict[str, float]:
    """CPU seconds per second of every group with no call (Kamailio probing both boxes)."""
    sampler = Sampler(groups(scale, procs, [], phones))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(1.0)
        procs.refresh()
        sampler.sample()
    return {u.name: u.total / u.seconds if u.seconds else 0.0 for u in sampler.usage.values()}


def run_step(
    scale: ScaleSet,
    procs: Procs,
    phones: list[Operator],
    boxes: int,
    n: int,
    index: int,
    baseline: dict[str, float],
) -> Step:
    step = Step(boxes, n, idle=baseline)
    deadline = time.monotonic() + 120
    while scale.waiting():  # the last step's callers are gone
        if time.monotonic() > deadline:
            raise SystemExit("callers of the last step still wait after 120 s")
        time.sleep(1.0)
    prefix = f"1396{boxes}{index:02d}9"  # caller numbers <prefix><call number>
    sipp_pids: list[int] = []
    parts = groups(scale, procs, sipp_pids, phones)
    sampler = Sampler(parts)
    started = time.monotonic()
    sipp = place_callers(scale, scale.work / f"step-{boxes}-{n}", prefix, n)
    sipp_pids.append(sipp.pid)
    logged_in = False

    def sample() -> None:
        procs.refresh()
        sampler.sample()

    try:
        # 1. every caller waits in the queue at once
        deadline = started + 60 + 2 * n / 10
        while sipp.poll() is None:
            time.sleep(1.0)
            sample()
            step.peak = max(step.peak, scale.waiting())
            if step.peak >= n:
                step.all_waiting_after = time.monotonic() - started
                break
            if time.monotonic() > deadline:
                step.note += f" only {step.peak} of {n} callers waiting at once"
                break
        # 2. the operators answer them
        scale.login_all()
        logged_in = True
        deadline = started + 300 + 3 * n + 30  # SIPp's own timeout, and some
        last, moved = -1, time.monotonic()
        while sipp.poll() is None and time.monotonic() < deadline:
            time.sleep(1.0)
            sample()
            waiting = scale.waiting()
            if waiting != last:
                last, moved = waiting, time.monotonic()
            elif waiting and time.monotonic() - moved > STALL:
                step.note += f" {waiting} callers still waiting, none answered for {STALL} s"
                break
        if sipp.poll() is None:
            step.note += " SIPp stopped before its end"
            stop_sipp(sipp)
        sample()
        step.elapsed = time.monotonic() - started
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()
        if logged_in:
            scale.logout_all()
    step.load = os.getloadavg()[0]
    step.processes = {name: len(p() if callable(p) else p) for name, (_, p) in parts.items()}
    step.usage = sampler.usage
    step.sipp_ok, step.sipp_failed = sipp_counts(scale.work / f"step-{boxes}-{n}" / "stat.csv")
    if step.sipp_failed:
        step.note += f" first SIPp error: {first_error(scale.work / f'step-{boxes}-{n}')}"
    deadline = time.monotonic() + 30  # records are written as each call ends
    while True:
        records(scale, prefix, step)
        if step.recorded >= n or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if boxes == 1 and any(step.per_box[1:]):
        step.note += f" box 2 carried {step.per_box[1]} calls while disabled"
    for phone in phones:
        if phone.proc is not None and phone.proc.poll() is not None:
            step.note += f" operator {phone.user} stopped ({phone.proc.returncode})"
    return step


# -- report -------------------------------------------------------------------------------------


def ceiling(u: Usage) -> str:
    return "1 core" if u.cores == 1 else f"{u.cores} cores"


def step_report(step: Step) -> str:
    head = (
        f"\n{step.label}, {step.calls} callers: {step.peak} waiting at once"
        + (f" after {step.all_waiting_after:.0f} s" if step.peak >= step.calls else "")
        + f"; {step.failed} failed (SIPp {step.sipp_failed}); {step.answered}/{step.recorded} "
        f"answered; {step.elapsed:.0f} s; records per box {'/'.join(map(str, step.per_box))}; "
        f"{step.call_seconds:,.0f} call-seconds; load average {step.load:.1f}"
        + (f"; {step.note.strip()}" if step.note else "")
    )
    lines = [
        head,
        "| process (how many) | ceiling | CPU s | idle % | ms per call | "
        "% of a core per call in progress | avg / peak % |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, u in step.usage.items():
        count = f" ({step.processes[name]})" if name in step.processes else " (all, others too)"
        lines.append(
            f"| {name}{count} | {ceiling(u)} | {u.total:.1f} | {100 * step.idle.get(name, 0):.1f}"
            f" | {step.per_call_ms(name):.0f} | {step.per_live_call(name):.2f} | "
            f"{u.average:.0f} / {u.peak:.0f} |"
        )
    lines.append(f"| {SET} | | | | {step.per_call_ms(SET):.0f} | {step.per_live_call(SET):.2f} | |")
    lines.append(
        "(ms per call and % per call in progress: beyond the idle use; the machine's: all)"
    )
    lines.append(f"limit: {saturation(step.usage)}")
    return "\n".join(lines)


def side_by_side(one: Step, two: Step) -> str:
    lines = [
        f"\nCPU per call, 1 box beside 2 boxes, {one.calls} and {two.calls} callers "
        "(ms per call; % of a core per call in progress; peak %):",
        "| process | 1 box ms/call | 1 box %/call | 1 box peak | 2 boxes ms/call | "
        "2 boxes %/call | 2 boxes peak |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in [*one.usage, SET]:
        cells = []
        for s in (one, two):
            cells += [
                f"{s.per_call_ms(name):.0f}",
                f"{s.per_live_call(name):.2f}",
                f"{s.usage[name].peak:.0f}%" if name in s.usage else "",
            ]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def series(
    scale: ScaleSet,
    procs: Procs,
    phones: list[Operator],
    boxes: int,
    sizes: list[int],
    baseline: dict[str, float],
) -> list[Step]:
    dispatch_to(scale, boxes)
    out: list[Step] = []
    for index, n in enumerate(sizes, 1):
        step = run_step(scale, procs, phones, boxes, n, index, baseline)
        out.append(step)
        print(step_report(step), flush=True)
        if not step.carried:
            break
    return out


KINDS = ("Kamailio", "Asterisk", "hotline serve", "Redis Cluster", "PostgreSQL")


def fit(steps: list[Step], kind: str) -> tuple[float, float] | None:
    """Least squares over ``steps`` of CPU = a * calls + b * call-seconds for the processes
    whose name starts with ``kind`` (every box, every server): (a in CPU seconds per call,
    b in cores per call in progress); None without two different step sizes."""
    rows = [
        (float(s.calls), s.call_seconds, sum(s.net(n) for n in s.usage if n.startswith(kind)))
        for s in steps
    ]
    s11 = sum(x1 * x1 for x1, _, _ in rows)
    s12 = sum(x1 * x2 for x1, x2, _ in rows)
    s22 = sum(x2 * x2 for _, x2, _ in rows)
    det = s11 * s22 - s12 * s12
    if len({s.calls for s in steps}) < 2 or det <= 1e-9 * s11 * s22:
        return None
    y1 = sum(x1 * y for x1, _, y in rows)
    y2 = sum(x2 * y for _, x2, y in rows)
    return (s22 * y1 - s12 * y2) / det, (s11 * y2 - s12 * y1) / det


def fitted(runs: dict[int, list[Step]]) -> str:
    steps = [s for r in runs.values() for s in r if s.carried]
    lines = [
        f"\nfitted over the {len(steps)} steps carried (both series): CPU = a per call + b per "
        "second of each call in progress (waiting with music, mostly):",
        "| process (all of a kind) | a: ms per call | b: % of a core per call in progress |",
        "|---|---:|---:|",
    ]
    for kind in KINDS:
        got = fit(steps, kind)
        cells = f"{1000 * got[0]:.1f} | {100 * got[1]:.4f}" if got else "- | - (one step size)"
        lines.append(f"| {kind} | {cells} |")
    return "\n".join(lines)


def summary(runs: dict[int, list[Step]], top: int) -> str:
    lines = ["\n== carried with 0 failed calls =="]
    for steps in runs.values():
        ok = [s.calls for s in steps if s.carried]
        last = steps[-1]
        if last.carried:
            lines.append(
                f"{last.label}: {max(ok)} concurrent calls, 0 failed (no failure up to --max "
                f"{top}); limit at {last.calls}: {saturation(last.usage)}"
            )
        else:
            lines.append(
                f"{last.label}: {max(ok) if ok else 'none'} concurrent calls, 0 failed; at "
                f"{last.calls}: {last.failed} failed, {last.peak} waiting at once; limit: "
                f"{saturation(last.usage)}"
            )
    both = [r for r in runs.values() if r]
    if len(both) == 2:
        common = {s.calls for s in both[0] if s.carried} & {s.calls for s in both[1] if s.carried}
        n = max(common) if common else min(both[0][-1].calls, both[1][-1].calls)
        pick = [next(s for s in r if s.calls == n) for r in both if any(s.calls == n for s in r)]
        if len(pick) == 2:
            lines.append(side_by_side(pick[0], pick[1]))
    lines.append(fitted(runs))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--start", type=int, default=50)
    parser.add_argument("--step", type=int, default=50)
    parser.add_argument("--max", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CALLERS} callers, one step")
    parser.add_argument(
        "--boxes",
        choices=("1", "2", "both"),
        default="both",
        help="the series to run: one box, two boxes, or both (the default)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.start = args.max = QUICK_CALLERS
    reason = missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)  # a timeout or kill still takes the set down
    sizes = list(range(args.start, args.max + 1, max(args.step, 1)))
    work = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    print(f"work directory {work}; {NCPU} CPUs; load average {os.getloadavg()}", flush=True)
    runs: dict[int, list[Step]] = {}
    started = time.monotonic()
    try:
        measure(args, work, sizes, runs)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(summary(runs, args.max))
    print(f"\nthe run took {time.monotonic() - started:.0f} s; load average at the end "
          f"{os.getloadavg()}")  # fmt: skip
    return 0


def measure(args: argparse.Namespace, work: Path, sizes: list[int],
            runs: dict[int, list[Step]]) -> None:  # fmt: skip
    """Bring the set up in ``work``, run the series into ``runs``, take the set down."""
    with scale_set(work) as scale:
        procs = Procs()
        phones = scale.phones(work / "operators", ring=0.5, talk=1.0, once=False, timeout=6 * 3600)
        try:
            baseline = idle(scale, procs, phones, 5.0 if args.quick else 15.0)
            print("\nidle, % of a core: " + ", ".join(
                f"{name} {100 * rate:.1f}" for name, rate in baseline.items()))  # fmt: skip
            for boxes in (1, 2) if args.boxes == "both" else (int(args.boxes),):
                runs[boxes] = series(scale, procs, phones, boxes, sizes, baseline)
        finally:
            with suppress(OSError):
                scale.logout_all()
            for phone in phones:
                phone.stop()


if __name__ == "__main__":
    sys.exit(main())
