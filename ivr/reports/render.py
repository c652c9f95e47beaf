"""Markdown, CSV and HTML (with matplotlib PNG charts) renderings of a :class:`Report`.

Every time is shown in the report's zone (the centre's, ``hours.yaml`` ``timezone``) as
``YYYY-MM-DD HH:MM``, the zone stated once at the top (:func:`zone_line`)."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from matplotlib import font_manager, rc_context
from matplotlib.figure import Figure

from ivr.reports import Report
from ivr.reports.hot_section import hot_tables
from ivr.reports.quality_section import quality_table
from ivr.tickets.display import REASON_NAMES, in_zone, zone_label

log = logging.getLogger("hotline.tickets.reports")


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


DAY_LIST_HEADER = [
    "工单编号",
    "来电时间",
    "受理时间",
    "类型",
    "分类",
    "承办单位",
    "状态",
    "办理期限",
]


def zone_line(report: Report) -> str:
    """The one statement of the zone, at the top of every format:
    ``时间均为北京时间 (Asia/Shanghai, UTC+8)，按此时区的日期统计``."""
    return f"时间均为{zone_label(report.tz, report.generated_at)}，按此时区的日期统计"


def generated(report: Report) -> str:
    return f"生成时间 {in_zone(report.tz, report.generated_at)}"


def sections(report: Report) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report as (title, header, rows) tables: the same content for every format."""
    r = report

    def at(when: dt.datetime | None) -> str:
        return in_zone(r.tz, when)

    q = r.queue
    wait = "—" if q.average_wait is None else f"{q.average_wait:.1f}"
    out: list[tuple[str, list[str], list[list[str]]]] = [
        (
            "总体情况",
            ["项目", "数量"],
            [
                ["接到电话（个）", str(r.calls)],
                ["受理（件）", str(r.accepted)],
                ["办结（件）", str(r.finished)],
                ["正在办理（件）", str(r.in_progress)],
                ["办结率", pct(r.finish_rate)],
            ],
        ),
        ("按诉求类型", ["类型", "件数"], [[name, str(n)] for _, name, n in r.by_type]),
    ]
    for _, name, total, types in r.special:
        out.append(
            (
                f"专项：{name}（受理{total}件）",
                ["类型", "件数"],
                [[f"{name}{tname}", str(n)] for _, tname, n in types],
            )
        )
    out.append(
        (
            f"其他问题分类（受理{r.other_accepted}件）",
            ["分类", "件数", "占比"],
            [[name, str(n), f"{share * 100:.1f}%"] for _, name, n, share in r.by_category],
        )
    )
    out.append(
        (
            "县（市）区、市政府有关部门办理情况",
            ["部门", "件数", "办结"],
            [[name, str(n), str(f)] for _, name, n, f in r.departments],
        )
    )
    out.append(
        (
            "超期与督办",
            ["项目", "件数"],
            [
                ["超期未办结", str(r.overdue_open)],
                ["超期办结", str(r.finished_late)],
                ["督办", str(r.supervised)],
                *[
                    [f"督办：{REASONS.get(k, k)}", str(v)]
                    for k, v in sorted(r.supervised_by_reason.items())
                ],
            ],
        )
    )
    if r.supervised_list:
        out.append(
            (
                "督办中的工单",
                ["工单编号", "承办单位", "分类", "状态", "办理期限"],
                [[*row[:4], at(row[4])] for row in r.supervised_list],
            )
        )
    out.append(
        (
            f"回访满意度（回访{r.visited}件，满意率{pct(r.satisfaction_rate)}）",
            ["评价", "件数"],
            [[name, str(n)] for _, name, n in r.satisfaction],
        )
    )
    out.append(
        (
            "话务情况",
            ["项目", "数值"],
            [
                ["进入队列（个）", str(q.offered)],
                ["人工接通（个）", str(q.answered)],
                ["接通率", pct(q.answer_rate)],
                ["15秒内接通（个）", str(q.answered_in_target)],
                ["15秒接通率", pct(q.in_target_rate)],
                ["平均等待（秒）", wait],
                ["放弃（个）", str(q.abandoned)],
                ["排队超时（个）", str(q.timed_out)],
                ["菜单中选择自助服务（个）", str(q.self_service)],
            ],
        )
    )
    out.append(
        (
            "留言与回拨任务",
            ["任务", "生成（件）", "已处理（件）", "待处理（件）"],
            [[t.name, str(t.created), str(t.done), str(t.created - t.done)] for t in r.tasks],
        )
    )
    out.append(quality_table(r.quality))
    out += hot_tables(r.hotspots, r.tz)
    if r.period.kind == "day":
        out.append(
            (
                f"当日工单明细（{len(r.tickets)}件）",
                DAY_LIST_HEADER,
                [
                    [
                        t.number,
                        at(t.call_started_at),
                        at(t.accepted_at),
                        t.type,
                        t.category,
                        t.department or "-",
                        t.state,
                        at(t.deadline),
                    ]
                    for t in r.tickets
                ],
            )
        )
    return out


REASONS = REASON_NAMES  # one vocabulary with the console (ivr.tickets.display)


def summary(report: Report) -> str:
    r = report
    text = (
        f"{r.period.title}共接到群众各种诉求电话{r.calls}个，受理{r.accepted}件，"
        f"办结{r.finished}件，还有{r.in_progress}件正在办理中，办结率{pct(r.finish_rate)}。"
    )
    for _, name, total, types in r.special:
        if total:
            parts = "、".join(f"{name}{tn}{n}件" for _, tn, n in types)
            text += f"其中关于{name}方面受理{total}件，属于{parts}。"
    if r.other_accepted:
        parts = "；".join(
            f"{name}问题{n}件，占{share * 100:.1f}%" for _, name, n, share in r.by_category if n
        )
        text += f"其他问题受理{r.other_accepted}件，属于{parts}。"
    return text


def markdown(report: Report) -> str:
    lines = [f"# {report.period.title}12345市民服务热线办理情况", "", f"_{zone_line(report)}_", ""]
    lines += [summary(report), ""]
    for title, header, rows in sections(report):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join("---" for _ in header) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    lines.append(f"_{generated(report)}_")
    return "\n".join(lines) + "\n"


def csv_text(report: Report) -> str:
    """One row per table row: ``section, item, value, value2, ...``; first the report's zone
    and when it was made (``报表, 时区, 北京时间 (Asia/Shanghai, UTC+8)``)."""
    tables = sections(report)
    size = max([4, *(len(row) for _, _, rows in tables for row in rows)])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["section", "item", "value", *(f"value{i}" for i in range(2, size))])
    head = [["时区", zone_label(report.tz, report.generated_at)], generated(report).split(" ", 1)]
    for title, rows in [("报表", head), *((title, rows) for title, _, rows in tables)]:
        for row in rows:
            writer.writerow([title, *row, *([""] * (size - len(row)))])
    return buf.getvalue()


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
    depts = [(name if chinese else code, n, f) for code, name, n, f in report.departments[:15]]
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
            fig = Figure(figsize=(8, 4))
            ax = fig.subplots()
            names = [d for d, _, _ in words.departments]
            ax.barh(names, [n for _, n, _ in words.departments], label=words.departments_legend[0])
            ax.barh(names, [f for _, _, f in words.departments], label=words.departments_legend[1])
            ax.invert_yaxis()
            ax.set_title(words.departments_title)
            ax.legend()
            save(fig, "departments")
    return paths


def html_text(report: Report, images: list[Path]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{e(report.period.title)}12345热线办理情况</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #999;"
        "padding:.2em .6em}td:not(:first-child){text-align:right}</style></head><body>",
        f"<h1>{e(report.period.title)}12345市民服务热线办理情况</h1>",
        f"<p><em>{e(zone_line(report))}</em></p>",
        f"<p>{e(summary(report))}</p>",
    ]
    for image in images:
        parts.append(f"<p><img src='{e(image.name)}' alt='{e(image.stem)}'></p>")
    for title, header, rows in sections(report):
        parts.append(f"<h2>{e(title)}</h2><table><tr>")
        parts += [f"<th>{e(h)}</th>" for h in header]
        parts.append("</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    parts.append(f"<p><em>{e(generated(report))}</em></p></body></html>")
    return "\n".join(parts)


def write_report(report: Report, directory: Path) -> list[Path]:
    """Write ``report-<label>.md``, ``.html`` (+ PNGs) and ``.csv``; returns the files."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"report-{report.period.label}"
    md = directory / f"{stem}.md"
    md.write_text(markdown(report), "utf-8")
    images = charts(report, directory, stem)
    page = directory / f"{stem}.html"
    page.write_text(html_text(report, images), "utf-8")
    table = directory / f"{stem}.csv"
    table.write_text(csv_text(report), "utf-8")
    return [md, page, table, *images]
