"""The report's opening paragraph, in the words of seed 004: first the items of the channels
other than the phone, by the sources' report ``group`` ("收到省长公开电话办公室转来的《人民网
领导留言板》、…共17件，已全部办结。"), then the calls ("2020年2月9日至2月29日共接到群众各种诉求
电话8570个，受理6610件，…其中关于疫情方面电话2408个，受理2150件，属于疫情咨询1665件、…")."""

from __future__ import annotations

import datetime as dt

from ivr.reports.channels import source_groups
from ivr.reports.figures import Report, SourceFigures
from ivr.reports.report_tables import pct_text, span_text


def _finished(items: int, finished: int) -> str:
    if finished == items:
        return "已全部办结" if items > 1 else "已办结"
    if finished == 0:
        return "正在办理中"
    return f"办结{finished}件，还有{items - finished}件正在办理中"


def _group(group: str, sources: list[SourceFigures]) -> str:
    names = "、".join(f"《{s.name}》" for s in sources)
    items = sum(s.items for s in sources)
    finished = sum(s.finished for s in sources)
    many = "共" if len(sources) > 1 else ""
    # a group named for who forwards ("省长公开电话办公室转来") precedes the titles
    head = f"{group}的{names}" if group.endswith("转来") else names
    return f"{head}{many}{items}件，{_finished(items, finished)}。"


def channels_paragraph(report: Report, receiver: str = "") -> str:
    """``2020年2月份，市长公开电话办公室收到…``: every group of sources with items (``receiver``
    the centre, seed 004's "市长公开电话办公室"); empty without any."""
    groups = source_groups(report.sources)
    if not groups:
        return ""
    parts = [_group(group, sources) for group, sources in groups]
    first = parts[0]
    if groups[0][0].endswith("转来"):
        first = f"{receiver}收到{first}"
    return f"{report.period.title}，{first}" + "".join(parts[1:])


def calls_paragraph(report: Report) -> str:
    r = report
    last = r.period.end - dt.timedelta(days=1)
    span = span_text(*r.covered) if r.covered else span_text(r.period.start, last)
    text = (
        f"{span}共接到群众各种诉求电话{r.calls}个，受理{r.accepted}件，"
        f"办结{r.finished}件，还有{r.in_progress}件正在办理中，办结率{pct_text(r.finish_rate)}。"
    )
    for code, name, total, types in r.special:
        calls = r.topic_calls.get(code, 0)
        if total or calls:
            text += f"其中关于{name}方面电话{calls}个，受理{total}件"
            parts = "、".join(f"{name}{tn}{n}件" for _, tn, n in types)
            text += f"，属于{parts}。" if parts else "。"
    if r.other_accepted or r.special:
        parts = "；".join(
            f"{name}问题{n}件，占{pct_text(share)}" for _, name, n, share in r.by_category if n
        )
        text += f"其他问题电话{r.other_calls}个，受理{r.other_accepted}件"
        text += f"，属于{parts}。" if parts else "。"
    return text


def summary(report: Report) -> str:
    """The opening paragraph: the other channels' items (when there are any), then the calls.
    The centre receiving the forwarded items is named after the phone channel's name
    (catalogue ``sources.phone.name``: 市长公开电话 -> 市长公开电话办公室)."""
    return channels_paragraph(report, report.receiver) + calls_paragraph(report)
