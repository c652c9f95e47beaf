"""The report's quality checks (质检) per operator: the checks of the period's calls (by the
call's local day), mean total against the form's points, passed and failed, the mean of each
item (:func:`ivr.quality.operator_quality`, one definition with ``/api/quality/operators``)."""

from __future__ import annotations

from ivr.quality import OperatorQuality
from ivr.reports.figures import Cell, Table


def _one(value: float) -> float:
    return round(value, 1)


def quality_table(found: list[OperatorQuality]) -> Table:
    """One row per operator; a column per item of the form(s) the
    period's checks were scored on, in the form's order."""
    items: dict[str, tuple[str, int]] = {}
    for o in found:
        for i in o.items:
            items.setdefault(i.item, (i.name, i.max))
    header = ["坐席", "姓名", "质检（次）", "平均总分", "满分", "合格", "不合格"]
    header += [f"{name}（满分{most}）" for name, most in items.values()]
    rows: list[list[Cell]] = []
    for o in found:
        means: dict[str, Cell] = {i.item: _one(i.mean) for i in o.items}
        rows.append(
            [
                o.agent,
                o.name or "-",
                o.checks,
                _one(o.mean_total),
                _one(o.mean_max_total),
                o.passed,
                o.failed,
                *[means.get(code) for code in items],
            ]
        )
    checks = sum(o.checks for o in found)
    return Table("quality", f"质检评分（按坐席，质检{checks}次）", header, rows)
