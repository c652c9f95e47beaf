"""The JSON bodies of the department portal (:mod:`ivr.web.portal_routes`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ivr.web.ticket_schemas import TicketEventOut


class PortalTicket(BaseModel):
    number: str
    state: str
    state_name: str
    type_name: str
    category_name: str
    content: str
    address: str
    caller: str = Field(description="hidden (***) when the citizen asked for confidentiality")
    caller_name: str = Field(description="hidden (***) when the citizen asked for it")
    confidential: bool
    accepted_at: str
    deadline: str = Field(description="the working-day deadline, China's calendar (调休 too)")
    working_days_left: int = Field(description="working days from today to the deadline's day")
    overdue: bool
    due_soon: bool
    supervised: bool = Field(description="督办")
    reminders: int = Field(description="催办 so far")
    returns: int
    extension_requested: int | None = Field(description="working days asked, pending approval")
    reply: str
    events: list[TicketEventOut] = Field(default_factory=list)


class PortalList(BaseModel):
    department: str
    department_name: str
    tickets: list[PortalTicket] = Field(description="the nearest deadline first")
    total: int


class SignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=1000)


class FinishBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reply: str = Field(min_length=1, max_length=4000, description="the reply to the citizen")


class ReturnBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000, description="why it is not ours (退单)")


class ExtendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(ge=1, le=30, description="working days more (延期)")
    reason: str = Field(min_length=1, max_length=1000)


MODELS: tuple[type[BaseModel], ...] = (
    ExtendBody,
    FinishBody,
    PortalList,
    PortalTicket,
    ReturnBody,
    SignBody,
)
