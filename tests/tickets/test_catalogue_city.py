"""One city in the shipped config (Hohhot): the ticket catalogue has every department that the
lines and the menu name, ``check-config`` refuses one it lacks, and seed 004's demonstration
(Siping) keeps its own catalogue in ``config/demo-siping``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from ivr.config.catalogue import catalogue_warnings, check_catalogue, load_catalogue
from ivr.devtools.seed004 import DEMO_CONFIG_DIR, check_demo_catalogue
from tests.conftest import CONFIG_DIR, ROOT

HOTLINE = [sys.executable, "-m", "ivr.cli"]


def hotline(*args: str, var: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HOTLINE_DATABASE_URL"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    if var is not None:
        env["HOTLINE_VAR_DIR"] = str(var)
    return subprocess.run(
        [*HOTLINE, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text("utf-8").splitlines(), 1) if line == text)


def test_check_config_refuses_a_line_department_the_catalogue_lacks(config_copy: Path) -> None:
    departments = config_copy / "departments.yaml"
    lines = config_copy / "lines.yaml"
    departments.write_text(
        departments.read_text("utf-8")
        + "  sports:\n    name: 呼和浩特市体育局\n    skill: general\n",
        "utf-8",
    )
    text = lines.read_text("utf-8")
    text = text.replace(
        "\nlines:\n",
        '\nlines:\n  - number: "6960999"\n    name: 全民健身服务热线\n'
        "    department: sports\n    mode: merged\n",
        1,
    )
    lines.write_text(text, "utf-8")
    result = hotline("check-config", str(config_copy))
    assert result.returncode == 1, result.stdout + result.stderr
    at = line_of(departments, "  sports:")
    assert result.stdout.splitlines() == [
        f"{departments}:{at}:3: department 'sports' is not in the ticket catalogue "
        f"{config_copy / 'tickets' / 'catalogue.yaml'}, so tickets from line(s) 6960999 cannot "
        "be dispatched to it; add 'sports: {name: 呼和浩特市体育局}' under departments there "
        "[HL-CAT-006]"
    ]
    assert result.stderr.strip() == f"1 problem(s) in {config_copy}"

    # `hotline reload` checks the same way first: refused, the running config stays
    result = hotline("reload", "--config", str(config_copy))
    assert result.returncode == 1 and "[HL-CAT-006]" in result.stdout
    assert "reload refused: the running config stays in place" in result.stderr

    catalogue = config_copy / "tickets" / "catalogue.yaml"
    catalogue.write_text(
        catalogue.read_text("utf-8").replace(
            "\n  police:", "\n  sports:                {name: 呼和浩特市体育局}\n  police:", 1
        ),
        "utf-8",
    )
    result = hotline("check-config", str(config_copy))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith(f"{config_copy}: OK")


def test_the_shipped_config_passes_and_names_each_department_once() -> None:
    result = hotline("check-config", str(CONFIG_DIR))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HL-CAT" not in result.stdout
    assert check_catalogue(CONFIG_DIR) == [] and catalogue_warnings(CONFIG_DIR) == []
    catalogue = load_catalogue(CONFIG_DIR)
    departments = yaml.safe_load((CONFIG_DIR / "departments.yaml").read_text("utf-8"))
    names = {code: d["name"] for code, d in departments["departments"].items()}
    assert {code: catalogue.departments[code].name for code in names} == names
    lines = yaml.safe_load((CONFIG_DIR / "lines.yaml").read_text("utf-8"))["lines"]
    assert {line["department"] for line in lines} <= set(catalogue.departments)
    # one city: Hohhot's districts and banners, no Siping unit left
    assert catalogue.departments["saihan"].name == "呼和浩特市赛罕区人民政府"
    assert catalogue.departments["tumote_zuoqi"].kind == "district"
    assert not [d.name for d in catalogue.departments.values() if "四平" in d.name]
    for category, department in [
        ("utilities.heating", "heating"),
        ("utilities.water", "water"),
        ("utilities.gas", "gas"),
        ("utilities.power", "power"),
        ("housing_fund", "housing_fund"),
        ("medical_insurance", "medical_insurance"),
        ("social_security", "social_security"),
        ("public_security", "police"),
    ]:
        assert catalogue.default_department(category) == department, category


def test_a_name_that_differs_is_a_warning_at_the_catalogue(config_copy: Path) -> None:
    departments = config_copy / "departments.yaml"
    departments.write_text(
        departments.read_text("utf-8").replace("name: 呼和浩特市医疗保障局", "name: 市医保局"),
        "utf-8",
    )
    catalogue = config_copy / "tickets" / "catalogue.yaml"
    at = line_of(catalogue, "  medical_insurance:     {name: 呼和浩特市医疗保障局}")
    assert check_catalogue(config_copy) == []  # the line runs
    [warning] = catalogue_warnings(config_copy)
    assert str(warning) == (
        f"{catalogue}:{at}:33: department 'medical_insurance' is '呼和浩特市医疗保障局' on "
        f"tickets but '市医保局' in {departments}; give both the same name unless the short "
        "name is meant [HL-CAT-007]"
    )
    checked = hotline("check-config", str(config_copy))  # what the admin sees
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"warning: {warning}" in checked.stdout.splitlines()


def test_the_demo_keeps_siping_in_a_directory_of_its_own() -> None:
    assert DEMO_CONFIG_DIR == ROOT / "config" / "demo-siping"
    assert check_catalogue(DEMO_CONFIG_DIR) == []  # a catalogue-only directory: no line files
    demo = load_catalogue(DEMO_CONFIG_DIR)
    check_demo_catalogue(demo)
    assert demo.departments["tiexi"].name == "铁西区政府"


def test_seed_demo_refuses_the_line_catalogue_and_uses_its_own_database(tmp_path: Path) -> None:
    var = tmp_path / "var"
    result = hotline("seed-demo", "--config", str(CONFIG_DIR), "--scale", "0.01", var=var)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("[HL-CAT-008] seed-demo reproduces seed 004 (Siping, 2020-02) and ")
    assert "lacks department tiexi" in line and f"--config {DEMO_CONFIG_DIR}" in line
    assert not var.exists() or not list(var.iterdir())  # no database made

    result = hotline("seed-demo", "--scale", "0.01", var=var)
    assert result.returncode == 0, result.stderr
    demo_db = var / "demo.db"
    assert result.stdout.startswith(f"sqlite:///{demo_db}: ")
    assert result.stdout.strip().endswith("now run: hotline report --month 2020-02 --demo")
    assert not (var / "hotline.db").exists()  # the line's database is not touched
    result = hotline("report", "--month", "2020-02", "--demo", "--out", str(tmp_path), var=var)
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "report-2020-02.md").read_text("utf-8")
    assert "铁西区政府" in report
