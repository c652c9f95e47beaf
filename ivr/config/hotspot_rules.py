"""The rules of hot issues (热点诉求): the optional ``hotspots`` section of the ticket
catalogue (``config/tickets/catalogue.yaml``), every key with a default, validated with the
rest of the file (``file:line:column``, HL-CAT-002). See docs/hotspots.md."""

from __future__ import annotations

from pydantic import Field

from ivr.config.models import Strict


class HotspotRules(Strict):
    window_hours: float = Field(24.0, ge=1, le=168, description="the window that ends now")
    min_tickets: int = Field(5, ge=2, le=10000, description="a group this large is flagged")
    similarity: float = Field(
        0.3, gt=0, le=1, description="two contents this alike (Dice of their words) join"
    )
    refresh_minutes: float = Field(10.0, ge=1, le=1440, description="hotline serve's refresh")
