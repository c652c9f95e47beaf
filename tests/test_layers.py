"""Imports run one way: ``queueing`` (the Redis queue) is the lowest package and imports
nothing from ``ivr``; the caller's side of the queue (``ivr.queuewait``) sits above it and
below the server. Read from the source (every import statement, inside functions too)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from ivr.config.queue_models import QueueSettings
from queueing.options import PlainQueueOptions

ROOT = Path(__file__).resolve().parent.parent


def imported(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (absolute names), with its line."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside the same package
                package = path.relative_to(ROOT).parent.parts
                base = ".".join(package[: len(package) - node.level + 1])
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            out.append((node.lineno, name))
    return out


def within(name: str, modules: tuple[str, ...]) -> bool:
    return any(name == m or name.startswith(m + ".") for m in modules)


def offenders(package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    """The imports of ``package`` (a directory under the root) within ``forbidden`` and not
    within ``allowed``, as ``path:line: imports name``."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in imported(path):
            if within(name, forbidden) and not within(name, allowed):
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    return found


def test_the_reader_sees_every_import() -> None:
    names = {name for _, name in imported(ROOT / "ivr" / "queuewait" / "waiter.py")}
    assert {"queueing.hub", "ivr.engine.channel", "asyncio"} <= names


def test_queueing_imports_nothing_of_ivr() -> None:
    assert offenders("queueing", ("ivr",)) == []


def test_the_config_is_the_ground_floor() -> None:
    ground = ("ivr.config", "ivr.errors", "ivr.settings")
    assert offenders("ivr/config", ("ivr", "queueing"), allowed=ground) == []


def test_the_engine_imports_nothing_above_it() -> None:
    above = ("ivr.queuewait", "ivr.agi", "ivr.process_agi", "ivr.service", "ivr.tickets")
    assert offenders("ivr/engine", (*above, "ivr.web", "ivr.cli")) == []


def test_the_callers_side_of_the_queue_imports_nothing_above_it() -> None:
    above = ("ivr.service", "ivr.agi", "ivr.tickets", "ivr.web", "ivr.cli", "ivr.process_agi")
    assert offenders("ivr/queuewait", above) == []


def test_the_queues_plain_defaults_are_queue_yamls() -> None:
    validated = QueueSettings()
    for f in dataclasses.fields(PlainQueueOptions):
        assert getattr(PlainQueueOptions(), f.name) == getattr(validated, f.name), f.name
    assert PlainQueueOptions().priority_ms() == validated.priority_ms()
