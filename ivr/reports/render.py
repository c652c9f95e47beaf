"""Markdown, HTML (with the PNG charts of :mod:`.charts`) and CSV renderings of a
:class:`Report`, and :func:`write_report` that writes them all.

Every time is shown in the report's zone (the centre's, ``hours.yaml`` ``timezone``) as
``YYYY-MM-DD HH:MM``, the zone stated once at the top (:func:`zone_line`). The CSV is tidy:
one file per table (``report-2020-02-departments.csv``: its header, then its rows, numbers
as numbers, no figure an empty cell), all of them also in one zip (``report-2020-02-csv.zip``)."""

from __future__ import annotations

import base64
import csv
import html
import io
import zipfile
from pathlib import Path

from ivr.reports.charts import charts
from ivr.reports.figures import Report
from ivr.reports.narrative import Narrative, narrative_html, narrative_markdown
from ivr.reports.opening import summary
from ivr.reports.report_tables import about, cell_text, generated, period_text, sections, zone_line

__all__ = ["csv_files", "csv_zip", "html_text", "markdown", "write_report"]


def title(report: Report) -> str:
    return f"{report.period.title}12345市民服务热线办理情况"


def markdown(report: Report, narrative: Narrative | None = None) -> str:
    """The report; with ``narrative``, its three sections after the opening paragraph."""
    lines = [f"# {title(report)}", "", f"_{period_text(report)}_", "", f"_{zone_line(report)}_"]
    lines += ["", summary(report), ""]
    if narrative is not None:
        lines += narrative_markdown(report.period, narrative)
    for table in sections(report):
        lines += [f"## {table.title}", "", "| " + " | ".join(table.header) + " |"]
        lines.append("|" + "|".join("---" for _ in table.header) + "|")
        lines += ["| " + " | ".join(cell_text(c) for c in row) + " |" for row in table.rows]
        lines.append("")
    lines.append(f"_{generated(report)}_")
    return "\n".join(lines) + "\n"


def csv_files(report: Report) -> dict[str, str]:
    """Each table as a CSV of its own, by file name (``report-<label>-<table>.csv``); the
    first, ``-about``, says what the report is (period, zone, when it was made)."""
    stem = f"report-{report.period.label}"
    out = {}
    for table in [about(report), *sections(report)]:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(table.header)
        writer.writerows(["" if c is None else c for c in row] for row in table.rows)
        out[f"{stem}-{table.key}.csv"] = buf.getvalue()
    return out


def csv_zip(files: dict[str, str]) -> bytes:
    """The CSV files in one zip, in the report's order."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def html_text(
    report: Report,
    images: list[Path],
    csvs: list[str] | None = None,
    narrative: Narrative | None = None,
    inline: bool = False,
) -> str:
    """The page; ``csvs``: the names of the CSV files beside it, each table linked to its
    own and the zip of all of them at the top; ``narrative``: its three sections after the
    opening paragraph; ``inline``: the charts inside the page (``data:`` URLs), a page that
    stands alone (the published version)."""
    e = html.escape
    csvs = csvs or []
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{e(report.period.title)}12345热线办理情况</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #999;"
        "padding:.2em .6em}td:not(:first-child){text-align:right}"
        "h2 a{font-size:.6em;font-weight:normal;margin-left:1em}</style></head><body>",
        f"<h1>{e(title(report))}</h1>",
        f"<p><em>{e(period_text(report))}</em></p>",
        f"<p><em>{e(zone_line(report))}</em></p>",
    ]
    stem = f"report-{report.period.label}"
    if csvs:
        parts.append(f"<p><a href='{e(stem)}-csv.zip' download>CSV（全部表格，zip）</a></p>")
    parts.append(f"<p>{e(summary(report))}</p>")
    if narrative is not None:
        parts += narrative_html(report.period, narrative)
    for image in images:
        src = image.name
        if inline:
            src = "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode()
        parts.append(f"<p><img src='{e(src)}' alt='{e(image.stem)}'></p>")
    for table in sections(report):
        name = f"{stem}-{table.key}.csv"
        link = f"<a href='{e(name)}' download>CSV</a>" if name in csvs else ""
        parts.append(f"<h2>{e(table.title)}{link}</h2><table><tr>")
        parts += [f"<th>{e(h)}</th>" for h in table.header]
        parts.append("</tr>")
        for row in table.rows:
            parts.append("<tr>" + "".join(f"<td>{e(cell_text(c))}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    parts.append(f"<p><em>{e(generated(report))}</em></p></body></html>")
    return "\n".join(parts)


def write_report(report: Report, directory: Path, narrative: Narrative | None = None) -> list[Path]:
    """Write ``report-<label>.md``, ``.html`` (+ PNGs), one CSV per table and their zip
    ``report-<label>-csv.zip``, with ``narrative`` when given; returns the files."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"report-{report.period.label}"
    md = directory / f"{stem}.md"
    md.write_text(markdown(report, narrative), "utf-8")
    images = charts(report, directory, stem)
    files = csv_files(report)
    tables = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, "utf-8")
        tables.append(path)
    bundle = directory / f"{stem}-csv.zip"
    bundle.write_bytes(csv_zip(files))
    page = directory / f"{stem}.html"
    page.write_text(html_text(report, images, list(files), narrative), "utf-8")
    return [md, page, bundle, *tables, *images]
