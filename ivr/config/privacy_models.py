"""Privacy settings (``config/privacy.yaml``): who may play a call's recording in the browser,
how the playbacks are audited, and how long recordings, call records and closed tickets are
kept before the purge job (:mod:`ivr.privacy.purge`) deletes them.

The file may be left out: then supervisors and admins may play any recording, operators none,
departments never, and recordings are kept 1 year, call records 3 years, tickets for ever
(docs/privacy.md says why). Unknown keys are refused, as in every admin file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ivr.config.models import Strict

#: the account roles of the web (ivr.accounts.ROLES; this floor cannot import them)
Role = Literal["operator", "supervisor", "department", "admin"]
DEFAULT_PLAYERS: tuple[Role, ...] = ("supervisor", "admin")


class PlaybackRules(Strict):
    """Who may play a recorded call (``GET /api/calls/{uniqueid}/recording``)."""

    roles: list[Role] = Field(
        default_factory=lambda: list(DEFAULT_PLAYERS),
        description="roles that may play any call's recording",
    )
    operator_own_calls: bool = Field(
        False, description="an operator may play the calls they answered themselves"
    )
    audit_window_minutes: float = Field(
        10.0,
        ge=0,
        le=1440,
        description="one audit row per user and call within this many minutes: an <audio> "
        "element's range requests (seeks, replays) do not flood the audit log; 0 audits every "
        "request",
    )

    @field_validator("roles")
    @classmethod
    def _no_departments(cls, roles: list[Role]) -> list[Role]:
        if "department" in roles:
            raise ValueError(
                "departments never play recordings (they see tickets, not calls); remove it"
            )
        return roles

    def may_play(self, role: str, agent_id: str | None, call_agent: str | None) -> bool:
        """Whether an account of ``role`` (an operator bound to ``agent_id``) may play a call
        answered by ``call_agent``."""
        if role == "department":
            return False
        if role in self.roles:
            return True
        return (
            role == "operator"
            and self.operator_own_calls
            and agent_id is not None
            and agent_id == call_agent
        )


Days = int | None


class Retention(Strict):
    """How many days each kind is kept (``null``: for ever). A call record's age runs from
    its day, a recording's from its call's day, a closed ticket's from when it was finished
    (accepted, for a merged one); an open ticket is never purged, however old."""

    recordings_days: Days = Field(365, ge=1, le=36500)
    call_records_days: Days = Field(1095, ge=1, le=36500)
    tickets_days: Days = Field(None, ge=1, le=36500)
    daily_at: str = Field(
        "03:30",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="when `hotline serve` purges each day, in the centre's time (HH:MM)",
    )
    batch_size: int = Field(500, ge=1, le=10000, description="rows deleted per transaction")


class PrivacyFile(Strict):
    """``config/privacy.yaml``."""

    playback: PlaybackRules = Field(default_factory=PlaybackRules)
    retention: Retention = Field(default_factory=Retention)
