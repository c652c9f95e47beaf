"""Daily, weekly and monthly reports with the sections of seed 004 (Siping, Feb 2020).

:func:`build_report` aggregates in SQL (``GROUP BY`` on indexed day columns, no Python loop
over tickets); the renderers in :mod:`ivr.reports.render` write Markdown, HTML with
matplotlib PNG charts, and CSV.

Counting rules (as the seed counts):

- *calls received* (接到电话): call records started in the period;
- *accepted* (受理): tickets accepted in the period, duplicates merged away not counted;
- *finished* (办结): of those, the ones finished (办结, 回访 or 归档) when the report is made;
  *in progress* the rest; finish rate = finished / accepted;
- *by category*: top-level categories with their share of the accepted tickets outside the
  special topics (专项, e.g. 疫情), which are counted by type on their own, as the seed does;
- *departments*: tickets dispatched to each department (件数) and finished (办结);
- queue figures from ``queue_log``: offered (ENTERQUEUE, less the callers who then chose
  self-service in the menu: EXITWITHKEY, since callers hold a place from the answer),
  answered (CONNECT), answered within 15 s, average wait of answered calls, abandoned
  (ABANDON), timed out (EXITWITHTIMEOUT) and cut off by a dead Asterisk box (PBXLOST: offered,
  not abandoned, counted apart);
- *tasks* (任务) the calls of the period left for the operators: voice messages (留言) and
  missed-call callbacks (漏接回拨, promised callbacks included), how many and how many done;
- *quality checks* (质检) per operator: the checks of the period's calls, mean total and per
  item, passed and failed (:mod:`.quality_section`, :func:`ivr.quality.operator_quality`);
- a day report also lists that day's tickets with their times (:mod:`.detail`), and the hot
  issues (热点诉求) of its 24 hours with their tickets (:mod:`.hot_section`, :mod:`ivr.hotspots`).

Days are the centre's days (``hours.yaml`` ``timezone``, 北京时间 by default): every row
carries its local day from the moment it is written (``day`` / ``accepted_day``), so a call
at 23:30 UTC on 3 December counts on 4 December. Every time a report shows is in that zone,
stated once at its top (:attr:`Report.tz`); UTC stays inside the database.

Imports :mod:`ivr.db`, :mod:`ivr.tickets` (the ticket words), :mod:`ivr.quality` (质检),
:mod:`ivr.hotspots` (热点诉求) and :mod:`ivr.config` (the catalogue). Must not import the
call path (``ivr.engine``, ``ivr.agi``, ``queueing``), the console or the CLI.
"""

from ivr.reports.build import build_report
from ivr.reports.detail import TicketLine
from ivr.reports.figures import Period, QueueFigures, Report, TaskFigures, parse_period

__all__ = [
    "Period",
    "QueueFigures",
    "Report",
    "TaskFigures",
    "TicketLine",
    "build_report",
    "parse_period",
]
