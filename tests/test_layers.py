"""Imports run one way, room by room up the floors of docs/architecture.md. ``queueing`` (the
Redis queue) is the lowest package and imports nothing from ``ivr``; the caller's side of the
queue (``ivr.queuewait``) sits above it and below the server. Read from the source (every
import statement, inside functions too)."""

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
    above = ("ivr.queuewait", "ivr.agi", "ivr.process_agi", "ivr.hotline", "ivr.tickets")
    assert offenders("ivr/engine", (*above, "ivr.web", "ivr.cli")) == []


def test_the_callers_side_of_the_queue_imports_nothing_above_it() -> None:
    above = ("ivr.hotline", "ivr.agi", "ivr.tickets", "ivr.web", "ivr.cli", "ivr.process_agi")
    assert offenders("ivr/queuewait", above) == []


def test_the_queues_plain_defaults_are_queue_yamls() -> None:
    validated = QueueSettings()
    for f in dataclasses.fields(PlainQueueOptions):
        assert getattr(PlainQueueOptions(), f.name) == getattr(validated, f.name), f.name
    assert PlainQueueOptions().priority_ms() == validated.priority_ms()


# The rooms from the ground up: a module may import its own room, its floor's other rooms and
# the floors below, never a floor above (docs/architecture.md draws the same floors).
FLOORS: tuple[tuple[str, ...], ...] = (
    ("queueing",),
    ("ivr.errors", "ivr.settings", "ivr.logfmt", "ivr.runinfo"),
    ("ivr.config",),
    ("ivr.prompts", "ivr.engine", "ivr.db"),
    (
        "ivr.runtime",
        "ivr.agi",
        "ivr.queuewait",
        "ivr.tickets",
        "ivr.accounts",
        "ivr.knowledge",
        "ivr.quality",
        "ivr.notify",
        "ivr.hotspots",
        "ivr.configsync",
    ),
    (
        "ivr.records",
        "ivr.reports",
        "ivr.asterisk",
        "ivr.web",
        "ivr.backup",
        "ivr.privacy",
        "ivr.citizen",
        "ivr.intake",
    ),
    ("ivr.hotline", "ivr.devtools"),
    ("ivr.compose", "ivr.console"),
    ("ivr.process_agi", "ivr.cli"),
)


def room_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "queueing":
        return "queueing"
    if parts[0] != "ivr" or len(parts) == 1:
        return None  # outside the product, or `from ivr import x` (read as ivr.x below)
    return f"ivr.{parts[1]}"


def floor_of(room: str) -> int:
    for n, rooms in enumerate(FLOORS):
        if room in rooms:
            return n
    raise AssertionError(f"room {room} is on no floor: add it to FLOORS and architecture.md")


def product_modules() -> list[tuple[Path, str]]:
    out = []
    for path in sorted([*ROOT.glob("ivr/**/*.py"), *ROOT.glob("queueing/**/*.py")]):
        parts = path.relative_to(ROOT).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if module != "ivr":
            out.append((path, module))
    return out


def imported_rooms(path: Path) -> list[tuple[int, str]]:
    rooms = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
            if node.module == "ivr":  # from ivr import runinfo
                names = [f"ivr.{alias.name}" for alias in node.names]
        rooms += [(node.lineno, room) for name in names if (room := room_of(name)) is not None]
    return rooms


def test_every_room_is_on_a_floor() -> None:
    for _, module in product_modules():
        room = room_of(module)
        assert room is not None
        floor_of(room)


def test_no_import_runs_up_a_floor() -> None:
    up = []
    for path, module in product_modules():
        room = room_of(module)
        assert room is not None
        for line, target in imported_rooms(path):
            if floor_of(target) > floor_of(room):
                up.append(f"{path.relative_to(ROOT)}:{line}: {room} imports {target}, a floor up")
    assert up == []


def test_no_two_rooms_import_each_other() -> None:
    edges: dict[str, set[str]] = {}
    for path, module in product_modules():
        room = room_of(module)
        assert room is not None
        edges.setdefault(room, set()).update(t for _, t in imported_rooms(path) if t != room)
    both = sorted(
        f"{a} <-> {b}" for a in edges for b in edges[a] if a < b and a in edges.get(b, set())
    )
    assert both == []


def test_the_accounts_import_only_the_ground_floor_and_the_database() -> None:
    allowed = ("ivr.accounts", "ivr.errors", "ivr.settings", "ivr.logfmt", "ivr.db")
    assert offenders("ivr/accounts", ("ivr", "queueing"), allowed=allowed) == []


def test_the_knowledge_base_imports_only_the_ground_floor_and_the_database() -> None:
    allowed = ("ivr.knowledge", "ivr.errors", "ivr.settings", "ivr.logfmt", "ivr.config", "ivr.db")
    assert offenders("ivr/knowledge", ("ivr", "queueing"), allowed=allowed) == []


def test_the_quality_checks_import_only_the_ground_floor_the_database_and_the_audit() -> None:
    allowed = ("ivr.quality", "ivr.errors", "ivr.settings", "ivr.config", "ivr.db", "ivr.accounts")
    assert offenders("ivr/quality", ("ivr", "queueing"), allowed=allowed) == []


def test_the_running_hotline_never_imports_the_development_aids() -> None:
    aids = ("ivr.devtools",)
    for package in ("queueing", "ivr/engine", "ivr/agi", "ivr/queuewait", "ivr/records",
                    "ivr/tickets", "ivr/web", "ivr/asterisk"):  # fmt: skip
        assert offenders(package, aids) == []
    for module in ("ivr/hotline.py", "ivr/process_agi.py", "ivr/compose/root.py",
                   "ivr/compose/script.py"):  # fmt: skip
        assert [n for _, n in imported(ROOT / module) if within(n, aids)] == []
