"""The JSON bodies of the desk's ticket routes (:mod:`ivr.web.ticket_routes`): the ticket
form, a ticket as the desk shows it, and the catalogue the form's cascading choices come
from. Times a person reads are ISO 8601 in the centre's zone with the offset."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TicketForm(BaseModel):
    """受理: what the operator filled in, and what to do with the ticket at once."""

    model_config = ConfigDict(extra="forbid")
    call_uniqueid: str | None = Field(
        None,
        max_length=64,
        description="the call this ticket is about (the screen-pop's uniqueid): the ticket "
        "takes the number reserved for the call, and a retried form gives the same ticket",
    )
    caller: str = Field(min_length=1, max_length=40, description="the citizen's number")
    dialled: str = Field("12345", min_length=1, max_length=40, description="the line dialled")
    caller_name: str = Field("", max_length=80)
    confidential: bool = Field(
        False, description="the caller asked that name and number stay hidden"
    )
    type: str = Field(min_length=1, max_length=20, description="a type code of the catalogue")
    category: str = Field(
        min_length=1, max_length=120, description="a category path, e.g. housing.property"
    )
    content: str = Field(min_length=1, max_length=4000, description="the request, in full")
    address: str = Field("", max_length=255)
    action: Literal["accept", "answer", "dispatch", "merge"] = Field(
        description="accept: keep it at the centre; answer: answered on the spot and finished "
        "(reply required); dispatch: to a department (default: the catalogue's dispatch map); "
        "merge (并单): into an earlier open ticket (merge_into)"
    )
    reply: str = Field("", max_length=4000, description="answer: what the citizen was told")
    department: str | None = Field(None, max_length=40, description="dispatch: a department code")
    merge_into: str | None = Field(None, max_length=20, description="merge: the earlier ticket")
    note: str = Field("", max_length=1000, description="a note for the ticket's history")


class TicketEventOut(BaseModel):
    at: str
    actor: str
    action: str
    from_state: str | None
    to_state: str
    note: str


class TicketOut(BaseModel):
    number: str
    state: str
    state_name: str = Field(description="the state as people read it (已受理, 已派单, ...)")
    type: str
    type_name: str
    category: str
    category_name: str
    department: str | None
    department_name: str
    caller: str
    caller_name: str
    confidential: bool
    dialled: str
    content: str
    address: str
    reply: str
    accepted_at: str
    accepted_by: str
    deadline: str = Field(description="the working-day deadline (China's calendar)")
    merged_into: str | None = Field(description="the ticket this one was merged into")
    call_uniqueid: str | None
    events: list[TicketEventOut] = Field(default_factory=list)


class TypeOut(BaseModel):
    code: str
    name: str
    deadline_days: int


class CategoryOut(BaseModel):
    path: str = Field(description="housing.property")
    name: str
    parent: str | None = Field(description="the parent's path; null at the top")
    department: str | None = Field(description="where the dispatch map sends it, if anywhere")


class DepartmentOut(BaseModel):
    code: str
    name: str
    phone: str | None


class CatalogueOut(BaseModel):
    types: list[TypeOut]
    categories: list[CategoryOut]
    departments: list[DepartmentOut]


MODELS: tuple[type[BaseModel], ...] = (
    CatalogueOut,
    CategoryOut,
    DepartmentOut,
    TicketEventOut,
    TicketForm,
    TicketOut,
    TypeOut,
)
