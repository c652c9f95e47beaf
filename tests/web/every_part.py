"""Every part of the server's app, as the composition root adds them
(:func:`ivr.compose.root.web_app`), for the tests that go over every route (the role matrix of
``test_access.py``, the fuzzer of ``test_api_fuzz.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ivr.config.editing import ConfigEditor
from ivr.config.privacy_models import PlaybackRules
from ivr.db.database import Database
from ivr.knowledge import KnowledgeBase
from ivr.quality import QualityForms
from ivr.web.call_routes import calls_part
from ivr.web.callback_routes import callbacks_part
from ivr.web.config_routes import config_part
from ivr.web.inbox_routes import inbox_part
from ivr.web.intake_routes import intake_part
from ivr.web.knowledge_routes import knowledge_part
from ivr.web.phone_routes import BrowserPhones, phone_part
from ivr.web.portal_routes import portal_part
from ivr.web.quality_routes import quality_part
from ivr.web.recording_routes import recordings_part
from ivr.web.report_routes import reports_part
from ivr.web.routing import WebPart
from ivr.web.spy_routes import spy_part
from ivr.web.supervision_routes import supervision_part
from ivr.web.ticket_routes import tickets_part
from ivr.web.user_routes import users_part
from ivr.web.wallboard import Wallboard
from ivr.web.wallboard_routes import WallboardHub, wallboard_part
from tests.conftest import CONFIG_DIR, ROOT


async def _no_reload() -> Any:
    raise AssertionError("these tests never save a valid config file")


def all_parts(
    service: Any, queue: Any = None, db: Any = None, config: Path = CONFIG_DIR
) -> list[WebPart]:
    """Every part of the server's app, on the ticket ``service``; the config editor on
    ``config`` (give a copy: a test must not save into the shipped config)."""
    editor = ConfigEditor(config, ROOT / "recordings", config.parent / "history")
    board = WallboardHub(Wallboard(queue, db))
    kb = KnowledgeBase(service.db if service is not None else Database("sqlite://"))
    return [
        tickets_part(lambda: service),
        intake_part(lambda: service),
        callbacks_part(lambda: None),
        inbox_part(),
        portal_part(),
        supervision_part(),
        wallboard_part(board),
        knowledge_part(kb),
        config_part(editor, _no_reload),
        users_part(),
        reports_part(config.parent / "reports"),
        calls_part(lambda: None),
        spy_part(lambda: None),
        recordings_part(config.parent / "recordings", lambda: PlaybackRules()),
        quality_part(QualityForms(config).current),
        phone_part(BrowserPhones("", lambda spec: None)),
    ]
