"""``GET /api/calls/{uniqueid}/recording``: a recorded call played in the browser (the quality
check's ``<audio>``), for the roles ``config/privacy.yaml`` ``playback`` allows: supervisors
and admins by default, an operator the calls they answered when ``operator_own_calls`` is on,
departments never (403 ``HL-WEB-004`` from the guard; another role refused by the config 403
``HL-PRV-005``). The file is served with HTTP Range (seeking), and only from inside the
recordings root: a stored path that leads out of it (``..``, absolute, a symlink) is 404
``HL-PRV-004`` and logged.

Every playback is audited (``recording.play``, target the uniqueid) in the same transaction
that read the call, before a byte is sent: a database away is 503 and no playback. The range
requests of one ``<audio>`` element (seeks, replays) do not flood the log: one row per user and
call within ``playback.audit_window_minutes`` (10 by default) - every request is checked
against the log, so a request for a later range alone is covered as well (docs/privacy.md)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.accounts.audit import write_audit
from ivr.config.privacy_models import PlaybackRules
from ivr.db.tables import AuditRow, CallRow
from ivr.privacy.files import OutsideRecordings, recording_file
from ivr.web.appkeys import DATABASE_KEY, principal_of
from ivr.web.errors import ApiError
from ivr.web.routing import DESK, ApiRoute, WebPart

log = logging.getLogger(__name__)

NO_CALL = "HL-PRV-001"
NO_RECORDING = "HL-PRV-002"
FILE_GONE = "HL-PRV-003"
OUTSIDE = "HL-PRV-004"
NOT_ALLOWED = "HL-PRV-005"
ACTION = "recording.play"
UNIQUEID_MAX = 64  # call_records.uniqueid

RecordingsKey = tuple[Path, Callable[[], PlaybackRules]]
RECORDINGS_KEY: web.AppKey[RecordingsKey] = web.AppKey("recordings")


def _recently_audited(s: Session, who: Principal, uniqueid: str, since: dt.datetime) -> bool:
    found = s.scalars(
        select(AuditRow.id)
        .where(
            AuditRow.action == ACTION,
            AuditRow.at >= since,
            AuditRow.actor == who.username,
            AuditRow.target == uniqueid,
        )
        .limit(1)
    )
    return found.first() is not None


def _checked_play(
    request: web.Request, who: Principal, uniqueid: str, now: dt.datetime
) -> tuple[Path, bool]:
    """The file to serve, after every check; audited unless it was within the window.
    Returns (file, whether this request wrote an audit row)."""
    root, rules_now = request.app[RECORDINGS_KEY]
    rules = rules_now()
    if len(uniqueid) > UNIQUEID_MAX or "\0" in uniqueid:  # no such column value could match
        raise ApiError(404, NO_CALL, f"no call {uniqueid[:UNIQUEID_MAX]!r}")
    with request.app[DATABASE_KEY].session() as s:
        row = s.execute(
            select(CallRow.agent, CallRow.recording).where(CallRow.uniqueid == uniqueid)
        ).first()
        if row is None:
            raise ApiError(404, NO_CALL, f"no call {uniqueid}")
        if not rules.may_play(who.role, who.agent_id, row.agent):
            raise ApiError(
                403,
                NOT_ALLOWED,
                f"{who.role} {who.username} may not play the recording of call {uniqueid} "
                "(config/privacy.yaml playback)",
            )
        if not row.recording:
            raise ApiError(404, NO_RECORDING, f"call {uniqueid} has no recording")
        try:
            path = recording_file(root, row.recording)
        except OutsideRecordings as exc:
            log.error("[%s] call %s: %s", OUTSIDE, uniqueid, exc.message)
            raise ApiError(
                404, OUTSIDE, f"call {uniqueid}: its recording cannot be served"
            ) from None
        if path is None:
            raise ApiError(
                404, FILE_GONE, f"call {uniqueid}: its recording file is gone (purged or moved)"
            )
        since = now - dt.timedelta(minutes=rules.audit_window_minutes)
        if rules.audit_window_minutes and _recently_audited(s, who, uniqueid, since):
            return path, False
        after = {"file": row.recording, "range": request.headers.get("Range")}
        write_audit(s, who, ACTION, uniqueid, None, after, request.remote or "", now)
        return path, True


async def play(request: web.Request) -> web.StreamResponse:
    who = principal_of(request)
    uniqueid = request.match_info["uniqueid"]
    now = dt.datetime.now(dt.UTC)
    path, _ = await asyncio.to_thread(_checked_play, request, who, uniqueid, now)
    return web.FileResponse(path, headers={"Cache-Control": "private, no-store"})


def recordings_part(root: Path, rules: Callable[[], PlaybackRules]) -> WebPart:
    """The playback route on the recordings under ``root``, allowed as ``rules()`` (the
    config as it is now: a reload applies at the next request)."""

    def install(app: web.Application) -> None:
        app[RECORDINGS_KEY] = (root, rules)

    return WebPart(
        routes=(
            ApiRoute(
                "GET",
                "/api/calls/{uniqueid}/recording",
                play,
                DESK,
                "a call's recording (audio, HTTP Range); audited; roles of config/privacy.yaml",
                response_schema={"type": "string", "format": "binary"},
                errors=(404,),
                content_type="audio/wav",
            ),
        ),
        install=install,
    )
