"""The docs stay true to the code: the README's command table lists every ``hotline``
subcommand and nothing else; the migrations and error ids the docs name exist; the admin-config
guide names every admin file and gives the menu settings' real defaults."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ivr.cli import build_parser
from ivr.config.models import MenuSettings
from ivr.db.database import head_revision

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MIGRATIONS = ROOT / "ivr" / "db" / "migrations" / "versions"


def subcommands() -> set[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("hotline has no subcommands")


def readme_commands() -> set[str]:
    """The first word after ``hotline`` in each cell of the README's command table."""
    text = README.read_text(encoding="utf-8")
    table = text.split("## The `hotline` command", 1)[1].strip().split("\n\n", 1)[0]
    named: set[str] = set()
    for row in table.splitlines()[2:]:
        first_cell = row.replace("\\|", "/").split("|")[1]
        named |= set(re.findall(r"`hotline ([a-z][a-z-]*)", first_cell))
    return named


def test_readme_table_lists_every_subcommand_and_nothing_else() -> None:
    real, listed = subcommands(), readme_commands()
    assert listed - real == set(), f"README lists commands that do not exist: {listed - real}"
    assert real - listed == set(), f"README's table leaves out: {real - listed}"


def migration_ids() -> set[str]:
    return {p.name[:4] for p in MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.py")}


def test_migrations_named_in_the_docs_exist_and_the_newest_is_the_head() -> None:
    known = migration_ids()
    head = head_revision()
    assert head in known
    for path in [README, *DOCS]:
        text = path.read_text(encoding="utf-8")
        for n in re.findall(r"\bmigrations? (\d{4})\b", text):
            assert n in known, f"{path.name} names migration {n}, which does not exist"
        # "-> revision NNNN" / "newest revision NNNN": what a fresh install reaches today
        for n in re.findall(r"(?:-> |newest |head )revision (\d{4})\b", text):
            assert n == head, f"{path.name} says the schema reaches revision {n}; it is {head}"


def test_error_ids_named_in_the_docs_are_registered() -> None:
    registry = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    registered = set(re.findall(r"^\|\s*(HL-[A-Z]+-[0-9A-Z]+)\s*\|", registry, re.M))
    for path in [README, *DOCS]:
        text = path.read_text(encoding="utf-8")
        for code in re.findall(r"HL-[A-Z]+-[0-9]{3}", text):
            assert code in registered, f"{path.name} names {code}, not in docs/errors.md"


def test_admin_config_guide_names_every_admin_file() -> None:
    guide = (ROOT / "docs" / "admin-config.md").read_text(encoding="utf-8")
    shipped = [p.relative_to(ROOT / "config").as_posix() for p in (ROOT / "config").rglob("*.yaml")]
    for name in shipped:
        if name.startswith("demo-"):
            continue  # a demonstration's own config, described with the demo
        assert f"`{name}`" in guide or f"`{Path(name).name}`" in guide, (
            f"docs/admin-config.md does not describe config/{name}"
        )


def test_admin_config_guide_gives_the_real_menu_defaults() -> None:
    guide = (ROOT / "docs" / "admin-config.md").read_text(encoding="utf-8")
    defaults = MenuSettings()
    for name in ("max_no_input", "max_invalid"):
        for said in re.findall(rf"`settings\.{name}`[^(]*\(default (\d+)", guide):
            assert int(said) == getattr(defaults, name), (
                f"docs/admin-config.md gives {name} the default {said}; the code's is "
                f"{getattr(defaults, name)}"
            )
