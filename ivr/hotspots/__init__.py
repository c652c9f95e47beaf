"""Hot issues (热点诉求, seed 002: from one case to one class of cases): the tickets of a
window grouped by similar content at the same place, a group past a threshold flagged
(docs/hotspots.md).

The address read into its place (:mod:`.address`), the content into words (:mod:`.words`, jieba
through :mod:`ivr.knowledge.segment`), the grouping with rapidfuzz (:mod:`.grouping`), the
window read from the database (:mod:`.finding`), its refresh into Redis inside ``hotline
serve`` for the wallboard (:mod:`.refresh`).

Imports the ground floor, the config, :mod:`ivr.db`, :mod:`ivr.tickets` (the ticket states),
:mod:`ivr.knowledge` (the segmenter) and ``queueing.keys``. Must not import the web, the
reports, the console or the call path.
"""

from ivr.hotspots.address import Place, place_of, same_place
from ivr.hotspots.finding import HotReport, day_end, find_hotspots
from ivr.hotspots.grouping import HotGroup, HotTicket, group_tickets

__all__ = [
    "HotGroup",
    "HotReport",
    "HotTicket",
    "Place",
    "day_end",
    "find_hotspots",
    "group_tickets",
    "place_of",
    "same_place",
]
