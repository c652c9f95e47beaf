"""Imports sit at the top of a module. One inside a function is allowed only with a reason: a
``# lazy:`` comment on the line above it (or above a contiguous block of imports it heads)
saying which cycle it breaks, or which slow dependency stays out of which command."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ivr", "queueing", "agi_scripts", "bench")
MARK = "# lazy:"


def sources() -> list[Path]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.is_file() and (path.suffix == ".py" or path.suffix == ".agi"):
                out.append(path)
    return out


def imports_in_functions(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: dict[int, ast.Import | ast.ImportFrom] = {}
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(func):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    found[id(node)] = node
    return sorted(found.values(), key=lambda n: n.lineno)


def unexplained(path: Path, root: Path = ROOT) -> list[str]:
    """``path:line`` of every import inside a function without a ``# lazy:`` reason."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    imports = imports_in_functions(ast.parse(text, str(path)))
    import_lines = {n for node in imports for n in range(node.lineno, (node.end_lineno or 0) + 1)}
    out = []
    for node in imports:
        n = node.lineno - 1  # the line above, 1-based
        while n >= 1 and n in import_lines:  # up through the block of imports it belongs to
            n -= 1
        while n >= 1 and lines[n - 1].strip().startswith("#"):  # a comment of several lines
            if lines[n - 1].strip().startswith(MARK):
                break
            n -= 1
        if n < 1 or not lines[n - 1].strip().startswith(MARK):
            out.append(f"{path.relative_to(root)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return out


def test_every_import_inside_a_function_says_why() -> None:
    missing = [line for path in sources() for line in unexplained(path)]
    assert missing == [], (
        "imports inside a function without a '# lazy:' comment above them (move them to the "
        "top, or say which cycle or which slow dependency they keep out):\n" + "\n".join(missing)
    )


def test_the_check_sees_a_bare_import_and_accepts_a_reason(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    good = "\n".join(
        [
            "def f():",
            "    # lazy: heavy, for one command only; the others",
            "    # never load it.",
            "    import json",
            "    from os import path",
            "",
            "    return json, path",
        ]
    )
    probe.write_text("import os\n\ndef f():\n    import json\n    return json\n", "utf-8")
    assert unexplained(probe, tmp_path) == ["probe.py:4: import json"]
    probe.write_text(good, "utf-8")
    assert unexplained(probe, tmp_path) == []
    probe.write_text(good.replace("    from os", "\n    from os"), "utf-8")  # not in the block
    assert unexplained(probe, tmp_path) == ["probe.py:6: from os import path"]
    probe.write_text(good.replace("# lazy:", "# heavy:"), "utf-8")
    assert unexplained(probe, tmp_path) == [
        "probe.py:4: import json",
        "probe.py:5: from os import path",
    ]
