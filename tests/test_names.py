"""Names that say what they are: no two modules and no two classes of the product share a name
for different things (issue 13). A package's ``errors.py`` (that package's errors) and the two
``channel.py`` (the engine's ``Channel`` interface and the AGI implementation of it) are one
concept each, named alike on purpose."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ivr", "queueing", "agi_scripts")
SAME_CONCEPT = {"__init__.py", "errors.py", "channel.py"}


def sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_no_two_modules_share_a_name() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for path in sources():
        if path.name not in SAME_CONCEPT:
            seen[path.name].append(str(path.relative_to(ROOT)))
    shared = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not shared, f"modules sharing a name: {shared}"


def test_no_two_classes_share_a_name() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for path in sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                seen[node.name].append(f"{path.relative_to(ROOT)}:{node.lineno}")
    shared = {name: places for name, places in seen.items() if len(places) > 1}
    assert not shared, f"classes sharing a name: {shared}"
