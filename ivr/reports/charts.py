"""The report's PNG charts (matplotlib, no pyplot): calls and tickets per day, tickets per
category, and every department's received and finished tickets; labelled with the
catalogue's Chinese names in a CJK font, or with its codes when no such font is installed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.reports.figures import Report

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger("hotline.tickets.reports")


# Fonts with Chinese glyphs, first found wins: Debian's fonts-wqy-microhei (installed by
# scripts/bootstrap.sh), then other common CJK fonts.
CJK_FONT_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
_registered: dict[Path, str] = {}


def cjk_font(candidates: tuple[Path, ...] | None = None) -> str | None:
    """The family name of the first CJK font file present, registered with matplotlib's
    font manager (once per process); None when there is none."""
    # lazy: matplotlib (about 40 MiB) stays out of the server until a report is drawn
    from matplotlib import font_manager

    for path in CJK_FONT_FILES if candidates is None else candidates:
        if path in _registered:
            return _registered[path]
        if not path.is_file():
            continue
        try:
            font_manager.fontManager.addfont(str(path))
            name = font_manager.FontProperties(fname=str(path)).get_name()
        except (OSError, RuntimeError, ValueError) as exc:
            log.warning("font %s cannot be used for the report charts: %s", path, exc)
            continue
        _registered[path] = name
        return name
    return None


@dataclass
class ChartText:
    """Titles, legends and axis labels of the charts, in Chinese or in ASCII codes."""

    daily_title: str
    daily_legend: tuple[str, str]
    categories_title: str
    categories: list[tuple[str, int]]
    departments_title: str
    departments_legend: tuple[str, str]
    departments: list[tuple[str, int, int]]


def chart_text(report: Report, chinese: bool) -> ChartText:
    """The charts' words: the catalogue's Chinese names, or its codes without a CJK font."""
    label = report.period.label
    cats = [(name if chinese else code, n) for code, name, n, _ in report.by_category if n]
    depts = [(name if chinese else code, n, f) for code, name, n, f in report.departments]
    if chinese:
        return ChartText(
            f"每日来电与受理（{label}）",
            ("来电", "受理"),
            "按问题分类受理件数（不含专项）",
            cats,
            "承办单位件数与办结",
            ("件数", "办结"),
            depts,
        )
    return ChartText(
        f"Calls and tickets per day, {label}",
        ("calls", "tickets accepted"),
        "Tickets by category (outside special topics)",
        cats,
        "Departments: received and finished",
        ("received", "finished"),
        depts,
    )


def charts(
    report: Report, directory: Path, stem: str, fonts: tuple[Path, ...] | None = None
) -> list[Path]:
    """PNG charts: calls and tickets per day, tickets per category, per department.

    Labels are the catalogue's Chinese names, drawn with a CJK font (:data:`CJK_FONT_FILES`,
    or ``fonts``); when none is installed, the ASCII codes, with a note in the log."""
    # lazy: matplotlib (about 40 MiB) stays out of the server until a report is drawn
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    font = cjk_font(fonts)
    if font is None:
        log.warning(
            "no CJK font found (looked for %s): report charts are labelled with the catalogue "
            "codes; install fonts-wqy-microhei (scripts/bootstrap.sh) for Chinese labels",
            ", ".join(str(p) for p in (CJK_FONT_FILES if fonts is None else fonts)) or "none",
        )
    words = chart_text(report, chinese=font is not None)
    # the CJK font first; DejaVu Sans (matplotlib's own) for any glyph it lacks
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    paths = []

    def save(fig: Figure, name: str) -> None:
        path = directory / f"{stem}-{name}.png"
        fig.savefig(path, dpi=90, bbox_inches="tight")  # Agg, no pyplot: no backend to pick
        paths.append(path)

    with rc_context({"font.family": family, "axes.unicode_minus": False}):
        fig = Figure(figsize=(8, 3))
        ax = fig.subplots()
        days = [d.strftime("%m-%d") for d, _, _ in report.daily]
        ax.plot(days, [c for _, c, _ in report.daily], label=words.daily_legend[0], marker="o")
        ax.plot(days, [t for _, _, t in report.daily], label=words.daily_legend[1], marker="o")
        ax.set_title(words.daily_title)
        ax.legend()
        ax.tick_params(axis="x", labelrotation=90)
        save(fig, "daily")

        fig = Figure(figsize=(8, 3.5))
        ax = fig.subplots()
        ax.bar([c for c, _ in words.categories], [n for _, n in words.categories])
        ax.set_title(words.categories_title)
        ax.tick_params(axis="x", labelrotation=45)
        save(fig, "categories")

        if words.departments:
            # every department, one bar each: the figure grows with their number
            fig = Figure(figsize=(8, max(2.5, 0.32 * len(words.departments) + 1)))
            ax = fig.subplots()
            names = [d for d, _, _ in words.departments]
            ax.barh(names, [n for _, n, _ in words.departments], label=words.departments_legend[0])
            ax.barh(names, [f for _, _, f in words.departments], label=words.departments_legend[1])
            ax.invert_yaxis()
            ax.set_title(words.departments_title)
            ax.legend(loc="lower right")
            save(fig, "departments")
    return paths
