"""One concept per module: no product module over 400 lines, and every package says in its
``__init__`` docstring what it holds and what it must not import (docs/architecture.md draws
the rooms; ``tests/test_layers.py`` checks the imports themselves)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("ivr", "queueing", "agi_scripts")
PACKAGES = ("ivr", "queueing")
MAX_LINES = 400


def product_sources() -> list[Path]:
    """Every Python module of the product (the process-AGI script ``*.agi`` is Python too)."""
    found: list[Path] = []
    for tree in PRODUCT:
        found += [*(ROOT / tree).rglob("*.py"), *(ROOT / tree).rglob("*.agi")]
    return sorted(p for p in found if "__pycache__" not in p.parts)


def package_dirs() -> list[Path]:
    """Every directory of ``ivr`` and ``queueing`` (themselves included) holding Python."""
    dirs = {p.parent for tree in PACKAGES for p in (ROOT / tree).rglob("*.py")}
    return sorted(d for d in dirs if "__pycache__" not in d.parts)


def test_the_sources_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in product_sources()}
    assert {"ivr/cli.py", "queueing/hub.py", "agi_scripts/hotline.agi"} <= names
    assert {ROOT / "ivr", ROOT / "ivr" / "agi", ROOT / "queueing"} <= set(package_dirs())


def test_no_product_module_is_over_400_lines() -> None:
    over = []
    for path in product_sources():
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > MAX_LINES:
            over.append(f"{path.relative_to(ROOT)}: {count} lines")
    assert over == [], f"modules over {MAX_LINES} lines (split them by concept): {over}"


def test_every_package_says_what_it_holds_and_must_not_import() -> None:
    unsaid = []
    for directory in package_dirs():
        init = directory / "__init__.py"
        where = init.relative_to(ROOT)
        if not init.is_file():
            unsaid.append(f"{directory.relative_to(ROOT)}: no __init__.py")
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"), str(init)))
        if not doc or not doc.strip():
            unsaid.append(f"{where}: no module docstring (what the package holds)")
        elif "must not" not in doc.lower() and "imports nothing" not in doc.lower():
            unsaid.append(f"{where}: the docstring does not say what it must not import")
    assert unsaid == [], unsaid
