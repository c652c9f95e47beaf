"""Markdown, CSV and HTML (with matplotlib PNG charts) renderings of a :class:`Report`."""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from ivr.tickets.reports import Report


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def sections(report: Report) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report as (title, header, rows) tables: the same content for every format."""
    r = report
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
                ["工单编号", "承办单位", "分类", "状态"],
                [list(row) for row in r.supervised_list],
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
            ],
        )
    )
    return out


REASONS = {"overdue": "超期", "repeated": "重复诉求未解决", "manual": "人工督办"}


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
    lines = [f"# {report.period.title}12345市民服务热线办理情况", "", summary(report), ""]
    for title, header, rows in sections(report):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join("---" for _ in header) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    lines.append(f"_生成时间 {report.generated_at:%Y-%m-%d %H:%M} UTC_")
    return "\n".join(lines) + "\n"


def csv_text(report: Report) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["section", "item", "value", "value2", "value3"])
    for title, _, rows in sections(report):
        for row in rows:
            writer.writerow([title, *row, *([""] * (4 - len(row)))])
    return buf.getvalue()


def charts(report: Report, directory: Path, stem: str) -> list[Path]:
    """PNG charts: calls and tickets per day, tickets per category, per department.
    Labels use the catalogue codes (ASCII), so no CJK font is needed on the server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []

    def save(fig: object, name: str) -> None:
        path = directory / f"{stem}-{name}.png"
        fig.savefig(path, dpi=90, bbox_inches="tight")  # type: ignore[attr-defined]
        plt.close(fig)  # type: ignore[arg-type]
        paths.append(path)

    fig, ax = plt.subplots(figsize=(8, 3))
    days = [d.strftime("%m-%d") for d, _, _ in report.daily]
    ax.plot(days, [c for _, c, _ in report.daily], label="calls", marker="o")
    ax.plot(days, [t for _, _, t in report.daily], label="tickets accepted", marker="o")
    ax.set_title(f"Calls and tickets per day, {report.period.label}")
    ax.legend()
    ax.tick_params(axis="x", labelrotation=90)
    save(fig, "daily")

    fig, ax = plt.subplots(figsize=(8, 3.5))
    cats = [(code, n) for code, _, n, _ in report.by_category if n]
    ax.bar([c for c, _ in cats], [n for _, n in cats])
    ax.set_title("Tickets by category (outside special topics)")
    ax.tick_params(axis="x", labelrotation=45)
    save(fig, "categories")

    if report.departments:
        fig, ax = plt.subplots(figsize=(8, 4))
        depts = report.departments[:15]
        names = [d for d, _, _, _ in depts]
        ax.barh(names, [n for _, _, n, _ in depts], label="received")
        ax.barh(names, [f for _, _, _, f in depts], label="finished")
        ax.invert_yaxis()
        ax.set_title("Departments: received and finished")
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
    parts.append("</body></html>")
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
