"""Report charts with Chinese labels (a CJK font registered with matplotlib, or the ASCII
codes without one), and ``seed-demo`` / ``report`` on a fresh var directory: they migrate
the database first, as the server does, and say so."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from ivr.cli import main
from ivr.db.database import Database, current_revision, head_revision, upgrade
from ivr.reports import Period, Report, parse_period
from ivr.reports.charts import CJK_FONT_FILES, chart_text, charts, cjk_font
from tests.conftest import ROOT

WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def small_report() -> Report:
    period: Period = parse_period(month="2020-02")
    return Report(
        period=period,
        generated_at=dt.datetime(2020, 3, 1, tzinfo=dt.UTC),
        by_category=[
            ("housing", "住建", 765, 0.172),
            ("utilities", "水、电、气", 407, 0.091),
            ("rural_other", "农村、土地和其它", 1728, 0.387),
            ("dogs", "犬类", 0, 0.0),
        ],
        departments=[("tiexi", "铁西区政府", 133, 128), ("police", "市公安局", 40, 39)],
        daily=[(dt.date(2020, 2, d), 300 + d, 200 + d) for d in range(1, 30)],
    )


def glyph_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_chart_words_are_names_or_codes() -> None:
    report = small_report()
    zh = chart_text(report, chinese=True)
    assert [c for c, _ in zh.categories] == ["住建", "水、电、气", "农村、土地和其它"]
    assert [d for d, _, _ in zh.departments] == ["铁西区政府", "市公安局"]
    assert zh.daily_legend == ("来电", "受理") and "2020-02" in zh.daily_title
    en = chart_text(report, chinese=False)
    assert [c for c, _ in en.categories] == ["housing", "utilities", "rural_other"]
    assert [d for d, _, _ in en.departments] == ["tiexi", "police"]
    texts = [en.daily_title, *en.daily_legend, en.categories_title, en.departments_title]
    assert all(t.isascii() for t in texts)


@pytest.mark.skipif(not WQY.is_file(), reason=f"{WQY} not installed (scripts/bootstrap.sh)")
def test_charts_render_chinese_labels_with_the_cjk_font(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assert CJK_FONT_FILES[0] == WQY
    # the check can fail: Chinese text in matplotlib's own font warns of missing glyphs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
            fig, ax = plt.subplots()
            ax.set_title("住建")
            fig.savefig(tmp_path / "control.png")
            plt.close(fig)
    assert glyph_warnings(caught)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = charts(small_report(), tmp_path, "report-2020-02")
    assert glyph_warnings(caught) == []
    assert cjk_font() == "WenQuanYi Micro Hei"
    assert [p.name for p in paths] == [
        "report-2020-02-daily.png",
        "report-2020-02-categories.png",
        "report-2020-02-departments.png",
    ]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_charts_fall_back_to_codes_without_a_cjk_font(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = (tmp_path / "no-such-font.ttc",)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        paths = charts(small_report(), tmp_path, "r", fonts=missing)
    assert glyph_warnings(caught) == []  # ASCII codes only: nothing to miss
    assert len(paths) == 3
    [note] = [r.getMessage() for r in caplog.records if "CJK" in r.getMessage()]
    assert f"no CJK font found (looked for {missing[0]})" in note
    assert "catalogue codes" in note and "fonts-wqy-microhei" in note


def test_seed_demo_and_report_migrate_a_fresh_var_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k != "HOTLINE_DATABASE_URL"}
    env["HOTLINE_VAR_DIR"] = str(var)
    # the installed `hotline` command, in a fresh var directory: no `hotline db upgrade`
    hotline = Path(sys.executable).parent / "hotline"
    proc = subprocess.run(
        [str(hotline), "seed-demo", "--scale", "0.05"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    db_file = var / "demo.db"  # the demo's own database, not the line's hotline.db
    assert proc.stderr.strip().splitlines()[-1] == (
        f"sqlite:///{db_file}: database schema created -> revision {head_revision()} "
        "(migrated first, as `hotline db upgrade` and the server do)"
    )
    assert proc.stdout.startswith(f"sqlite:///{db_file}: ")
    assert "now run: hotline report --month 2020-02 --demo" in proc.stdout

    monkeypatch.setenv("HOTLINE_VAR_DIR", str(var))
    monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
    assert main(["report", "--month", "2020-02", "--demo"]) == 0
    out, err = capsys.readouterr()
    assert "database schema" not in err  # already at the newest revision: nothing said
    assert out.splitlines()[0] == str(var / "reports" / "report-2020-02.md")
    assert (var / "reports" / "report-2020-02.html").is_file()


def test_report_migrates_an_older_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    upgrade(db.engine, "0001")
    assert main(["report", "--day", "2020-02-09", "--database-url", url,
                 "--out", str(tmp_path / "out")]) == 0  # fmt: skip
    _, err = capsys.readouterr()
    assert f"database schema from revision 0001 -> revision {head_revision()}" in err
    assert current_revision(db.engine) == head_revision()
    assert (tmp_path / "out" / "report-2020-02-09-overview.csv").is_file()
    db.close()
