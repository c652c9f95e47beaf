"""The citizens' requests and lookups over the ticket service, plain of HTTP: what the form
offers (the catalogue's types and top-level categories, the default one), a request filed as
a ticket of source ``web`` (accepted by ``web``, the same lifecycle and working-day deadline
as a call's), and a ticket's state in words with its reply, for its number and phone only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ivr.citizen.phones import same_phone
from ivr.config.catalogue import Catalogue
from ivr.db.tables import TicketRow
from ivr.tickets.errors import BadTicketInput, TicketNotFound
from ivr.tickets.lifecycle import STATUS_WORDS, State
from ivr.tickets.service import TicketService

WEB_SOURCE = "web"
ACTOR = "web"  # accepted_by of a citizen's request
#: the state in words for the citizen (the voice menu's lookup has the same five)
WORDS = {
    "accepted": "已受理，正在分派承办单位",
    "dispatched": "已派至承办单位，等待办理",
    "handling": "承办单位正在办理",
    "finished": "已办结",
    "merged": "已与相同诉求合并办理",
}


def default_category(catalogue: Catalogue) -> str:
    """The category of a request whose citizen does not know one: the first ordinary (not
    special) category named ``other`` (其它), else the last ordinary top-level one."""
    for info in catalogue.categories.values():
        if info.path.rsplit(".", 1)[-1] == "other" and not info.special:
            return info.path
    ordinary = [c for c in catalogue.top_levels() if not c.special]
    return (ordinary or catalogue.top_levels())[-1].path


@dataclass(frozen=True)
class Lookup:
    ticket: TicketRow  # the ticket asked for, or the one it was merged into
    asked: str  # the number the citizen gave
    word: str  # STATUS_WORDS of the state


class CitizenDesk:
    def __init__(self, service: TicketService) -> None:
        self.service = service
        self.catalogue = service.catalogue
        self.default = default_category(service.catalogue)

    def categories(self) -> list[tuple[str, str]]:
        return [(c.path, c.name) for c in self.catalogue.top_levels()]

    def types(self) -> list[tuple[str, str]]:
        return [(code, t.name) for code, t in self.catalogue.types.items()]

    def submit(
        self,
        *,
        phone: str,
        content: str,
        address: str,
        name: str,
        type: str,
        category: str,
        confidential: bool,
        now: dt.datetime | None = None,
    ) -> TicketRow:
        """File the request (``phone`` already normalized); a type or a category not of the
        form is :class:`BadTicketInput`."""
        if type not in self.catalogue.types:
            raise BadTicketInput(f"type: choose one of {', '.join(self.catalogue.types)}")
        tops = {c.path for c in self.catalogue.top_levels()}
        if category and category not in tops:
            raise BadTicketInput(f"category: choose one of {', '.join(sorted(tops))}")
        return self.service.accept(
            caller=phone,
            caller_name=name,
            type=type,
            category=category or self.default,
            content=content,
            address=address,
            confidential=confidential,
            source=WEB_SOURCE,
            dialled=WEB_SOURCE,
            actor=ACTOR,
            now=now,
        )

    def lookup(self, number: str, phone: str) -> Lookup | None:
        """The ticket ``number`` if it was filed with ``phone`` (as written by the citizen);
        else None, the same as for a number that does not exist."""
        try:
            ticket = self.service.get(number)
        except TicketNotFound:
            return None
        if not same_phone(ticket.caller, phone):
            return None
        shown = ticket
        if ticket.state == State.MERGED.value and ticket.merged_into is not None:
            target = self.service.number_by_id(ticket.merged_into)
            if target is not None:
                shown = self.service.get(target)
        return Lookup(shown, number, STATUS_WORDS[State(shown.state)])
