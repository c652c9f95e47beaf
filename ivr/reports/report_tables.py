"""A :class:`Report` as tables: the same content for every format (Markdown, HTML, one CSV
per table). Cells keep their kind - counts are ``int``, rates and shares ``float`` in per
cent (the column says ``（%）``), ``None`` where there is no figure - so that the CSV has
numbers as numbers and the text formats print them alike (:func:`cell_text`).

A new section is a function ``Report -> Table`` in a module of its own (as
:mod:`.quality_section`), its figures a field of the report; :func:`sections` places it."""

from __future__ import annotations

import datetime as dt

from ivr.reports.figures import Cell, Report, Table
from ivr.reports.hot_section import hot_tables
from ivr.reports.quality_section import quality_table
from ivr.tickets.display import REASON_NAMES, in_zone, zone_label


def pct(value: float | None) -> float | None:
    """A rate as a number of per cent, one decimal (``0.9942`` -> ``99.4``)."""
    return None if value is None else round(value * 100, 1)


def pct_text(value: float | None) -> str:
    """``99.4%``; ``6%`` as seed 004 writes a whole number; ``—`` without a figure."""
    p = pct(value)
    return "—" if p is None else f"{p:g}%"


def cell_text(cell: Cell) -> str:
    if cell is None:
        return "—"
    if isinstance(cell, float):
        return f"{cell:.1f}"
    return str(cell)


def day_text(day: dt.date, first: dt.date | None = None) -> str:
    """``2020年2月9日``; without the year when ``first`` (the range's start) has the same."""
    if first is not None and first.year == day.year:
        return f"{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"


def span_text(start: dt.date, last: dt.date) -> str:
    """``2020年2月9日至2月29日``; one day alone when they are the same."""
    if start == last:
        return day_text(start)
    return f"{day_text(start)}至{day_text(last, start)}"


def period_text(report: Report) -> str:
    """The period the report covers, and the days it has data on when fewer:
    ``统计时段：2020年2月1日至2月29日（有数据的日期：2020年2月9日至2月29日）``."""
    p = report.period
    text = f"统计时段：{span_text(p.start, p.end - dt.timedelta(days=1))}"
    full = (p.start, p.end - dt.timedelta(days=1))
    if report.covered is not None and report.covered != full:
        text += f"（有数据的日期：{span_text(*report.covered)}）"
    return text


def zone_line(report: Report) -> str:
    """The one statement of the zone, at the top of every format:
    ``时间均为北京时间 (Asia/Shanghai, UTC+8)，按此时区的日期统计``."""
    return f"时间均为{zone_label(report.tz, report.generated_at)}，按此时区的日期统计"


def generated(report: Report) -> str:
    return f"生成时间 {in_zone(report.tz, report.generated_at)}"


def about(report: Report) -> Table:
    """What the report is: its period, zone and when it was made (the CSV's first file)."""
    return Table(
        "about",
        "报表说明",
        ["项目", "内容"],
        [
            ["报表", f"{report.period.title}12345市民服务热线办理情况"],
            ["统计时段", period_text(report).split("：", 1)[1]],
            ["时区", zone_label(report.tz, report.generated_at)],
            ["生成时间", in_zone(report.tz, report.generated_at)],
        ],
    )


def sources_table(report: Report) -> Table:
    rows: list[list[Cell]] = [
        [s.group, s.name, s.items, s.finished, s.in_progress] for s in report.sources
    ]
    items = sum(s.items for s in report.sources)
    finished = sum(s.finished for s in report.sources)
    rows.append(["合计", "", items, finished, items - finished])
    header = ["来源分组", "来源", "件数", "办结", "正在办理"]
    return Table("sources", "其他渠道来件（电话以外）", header, rows)


def departments_table(report: Report) -> Table:
    """Every department, then the tickets answered without one (直接答复), then the total:
    the rows add up to the calls' 受理 and 办结."""
    rows: list[list[Cell]] = [[name, n, f] for _, name, n, f in report.departments]
    rows.append(["直接答复（未转办）", *report.direct])
    rows.append(["合计", report.accepted, report.finished])
    header = ["部门", "件数", "办结"]
    return Table("departments", "县（市）区、市政府有关部门办理情况", header, rows)


def reason_rows(report: Report) -> list[list[Cell]]:
    return [
        [f"督办：{REASON_NAMES.get(k, k)}", v]
        for k, v in sorted(report.supervised_by_reason.items())
    ]


def queue_table(report: Report) -> Table:
    q = report.queue
    wait = None if q.average_wait is None else round(q.average_wait, 1)
    return Table(
        "queue",
        "话务情况",
        ["项目", "数值"],
        [
            ["进入队列（个）", q.offered],
            ["人工接通（个）", q.answered],
            ["接通率（%，接通/进入队列）", pct(q.answer_rate)],
            ["15秒内接通（个）", q.answered_in_target],
            ["15秒接通率（%，占进入队列）", pct(q.in_target_of_offered)],
            ["15秒接通率（%，占人工接通）", pct(q.in_target_rate)],
            ["平均等待（秒）", wait],
            ["放弃（个）", q.abandoned],
            ["排队超时（个）", q.timed_out],
            ["交换机故障中断（个）", q.pbx_lost],
            ["菜单中选择自助服务（个）", q.self_service],
        ],
    )


def sections(report: Report) -> list[Table]:
    """The report's tables, in its order (the first: the channels other than the phone)."""
    r = report

    def at(when: dt.datetime | None) -> str:
        return in_zone(r.tz, when)

    out = [
        sources_table(r),
        Table(
            "overview",
            "电话受理总体情况",
            ["项目", "数量"],
            [
                ["接到电话（个）", r.calls],
                ["受理（件）", r.accepted],
                ["办结（件）", r.finished],
                ["正在办理（件）", r.in_progress],
                ["办结率（%）", pct(r.finish_rate)],
            ],
        ),
        Table("types", "按诉求类型", ["类型", "件数"], [[name, n] for _, name, n in r.by_type]),
    ]
    for code, name, total, types in r.special:
        calls = r.topic_calls.get(code, 0)
        out.append(
            Table(
                f"topic-{code}",
                f"专项：{name}（电话{calls}个，受理{total}件）",
                ["类型", "件数"],
                [[f"{name}{tname}", n] for _, tname, n in types],
            )
        )
    out.append(
        Table(
            "categories",
            f"其他问题分类（电话{r.other_calls}个，受理{r.other_accepted}件）",
            ["分类", "件数", "占比（%）"],
            [[name, n, pct(share)] for _, name, n, share in r.by_category],
        )
    )
    out.append(departments_table(r))
    out.append(
        Table(
            "supervision",
            "超期与督办",
            ["项目", "件数"],
            [
                ["超期未办结", r.overdue_open],
                ["超期办结", r.finished_late],
                ["督办", r.supervised],
                *(reason_rows(r)),
            ],
        )
    )
    if r.supervised_list:
        out.append(
            Table(
                "supervised",
                "督办中的工单",
                ["工单编号", "承办单位", "分类", "状态", "办理期限"],
                [[*row[:4], at(row[4])] for row in r.supervised_list],
            )
        )
    out.append(
        Table(
            "satisfaction",
            f"回访满意度（回访{r.visited}件，满意率{pct_text(r.satisfaction_rate)}）",
            ["评价", "件数"],
            [[name, n] for _, name, n in r.satisfaction],
        )
    )
    out.append(queue_table(r))
    out.append(
        Table(
            "tasks",
            "留言与回拨任务",
            ["任务", "生成（件）", "已处理（件）", "待处理（件）"],
            [[t.name, t.created, t.done, t.created - t.done] for t in r.tasks],
        )
    )
    out.append(quality_table(r.quality))
    out += hot_tables(r.hotspots, r.tz)
    if r.period.kind == "day":
        out.append(
            Table(
                "tickets",
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


DAY_LIST_HEADER = ["工单编号", "来电时间", "受理时间", "类型", "分类"]
DAY_LIST_HEADER += ["承办单位", "状态", "办理期限"]
