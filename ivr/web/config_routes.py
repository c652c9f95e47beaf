"""``/api/config``: the admin console's editing of the admin files (:mod:`ivr.config.editing`).

An admin reads a file with its ``version``, checks a draft (every problem of the directory
with the draft in place, at its file, line and column, as ``hotline check-config`` reports
them), and saves it: refused when the draft has a problem (400 ``HL-WEB-017``, with the
problems) or when the file changed on disk since it was read (409 ``HL-WEB-016``, with the
difference between the file on disk and the draft). A save keeps the previous version,
reloads the running config (checked once more: the line never runs a config that was not
accepted) and is audited with its diff. A rollback saves an older version's text through the
same checks. With several hotline servers, a save (or a rollback) is recorded in the database
and told to the other servers, which check it against their own directory and run it within a
couple of seconds (:mod:`ivr.configsync`); the answer's ``shared`` says whether it was
recorded. Before a save, this server first takes the saves of the others, so that a draft
opened on an older version is refused here too (409)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ivr.config.editing import EDITABLE, MAX_BYTES, ConfigEditor, Conflict, Invalid, Saved
from ivr.runtime import ReloadResult
from ivr.web.agent_routes import audit
from ivr.web.appkeys import principal_of
from ivr.web.bodies import read_body
from ivr.web.errors import BAD_BODY, ApiError
from ivr.web.routing import ApiRoute, WebPart

ADMIN: tuple[str, ...] = ("admin",)
CONFLICT = "HL-WEB-016"
INVALID = "HL-WEB-017"
EDITOR_KEY: web.AppKey[ConfigEditor] = web.AppKey("config_editor", ConfigEditor)
RELOAD_KEY: web.AppKey[Callable[[], Awaitable[ReloadResult]]] = web.AppKey("config_reload")


class SaveSharing(Protocol):
    """The saves shared with the other servers (:class:`ivr.configsync.ConfigFollower`)."""

    def saving(self) -> AbstractAsyncContextManager[None]: ...

    async def share(self, name: str, text: str, saved: Saved, by: str | None) -> bool: ...


SHARING_KEY: web.AppKey[SaveSharing] = web.AppKey("config_sharing", SaveSharing)


class DraftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="one of the editable files, e.g. menu.yaml")
    text: str = Field(max_length=MAX_BYTES)


class SaveBody(DraftBody):
    version: str = Field(min_length=64, max_length=64, description="the version read")


class RollbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    version_id: str = Field(min_length=1, max_length=80, description="from the history")
    version: str = Field(min_length=64, max_length=64, description="the version on disk")


def _name(name: str) -> str:
    if name not in EDITABLE:
        raise ApiError(404, "HL-WEB-006", f"no editable config file {name!r}; editable: "
                       f"{', '.join(EDITABLE)}")  # fmt: skip
    return name


def _problems(exc: Invalid) -> list[dict[str, Any]]:
    return [dataclasses.asdict(p) for p in exc.problems]


async def list_files(request: web.Request) -> web.Response:
    files = await asyncio.to_thread(request.app[EDITOR_KEY].files)
    return web.json_response(
        [{"name": f.name, "version": f.version, "size": len(f.text)} for f in files]
    )


async def read_file(request: web.Request) -> web.Response:
    name = _name(request.query.get("name", ""))
    f = await asyncio.to_thread(request.app[EDITOR_KEY].read, name)
    return web.json_response({"name": f.name, "text": f.text, "version": f.version})


async def check_draft(request: web.Request) -> web.Response:
    body = await read_body(request, DraftBody, json_only=True)
    name = _name(body.name)
    found = await asyncio.to_thread(request.app[EDITOR_KEY].check, name, body.text)
    return web.json_response({"problems": [dataclasses.asdict(p) for p in found]})


async def _saved(editor: ConfigEditor, name: str, text: str, version: str) -> Saved:
    try:
        return await asyncio.to_thread(editor.save, name, text, version)
    except Conflict as exc:
        raise ApiError(
            409, CONFLICT,
            f"{name} changed on disk since you opened it: read it again and redo your change "
            "(details.diff: the file on disk against your draft)",
            {"version": exc.version, "diff": exc.diff},
        ) from None  # fmt: skip
    except Invalid as exc:
        first = exc.problems[0]
        raise ApiError(
            400, INVALID, f"not saved: {len(exc.problems)} problem(s), the first {first}",
            {"problems": _problems(exc)},
        ) from None  # fmt: skip


async def _save(request: web.Request, name: str, text: str, version: str, action: str) -> Any:
    editor = request.app[EDITOR_KEY]
    sharing = request.app.get(SHARING_KEY)
    # the other servers' saves first (a stale draft is a conflict), none until this one is shared
    async with sharing.saving() if sharing is not None else contextlib.nullcontext():
        saved = await _saved(editor, name, text, version)
        shared = None
        if sharing is not None:
            shared = await sharing.share(name, text, saved, principal_of(request).username)
    reloaded = await request.app[RELOAD_KEY]()
    await audit(
        request, action, f"config:{name}", {"version": saved.previous},
        {"version": saved.version, "diff": saved.diff[:20000], "reloaded": reloaded.ok,
         "shared": shared},
    )  # fmt: skip
    return web.json_response(
        {
            "name": name, "version": saved.version, "previous": saved.previous,
            "diff": saved.diff, "reloaded": reloaded.ok, "running": reloaded.version,
            "problems": list(reloaded.problems), "notes": list(reloaded.notes),
            "shared": shared,
        }
    )  # fmt: skip


async def save_file(request: web.Request) -> web.StreamResponse:
    body = await read_body(request, SaveBody, json_only=True)
    result: web.StreamResponse = await _save(
        request, _name(body.name), body.text, body.version, "config.save"
    )
    return result


async def history(request: web.Request) -> web.Response:
    name = _name(request.query.get("name", ""))
    versions = await asyncio.to_thread(request.app[EDITOR_KEY].history, name)
    return web.json_response([dataclasses.asdict(v) for v in versions])


async def rollback(request: web.Request) -> web.StreamResponse:
    body = await read_body(request, RollbackBody, json_only=True)
    name = _name(body.name)
    try:
        text = await asyncio.to_thread(request.app[EDITOR_KEY].version_text, name, body.version_id)
    except KeyError:
        raise ApiError(404, BAD_BODY, f"no version {body.version_id!r} of {name}") from None
    result: web.StreamResponse = await _save(request, name, text, body.version, "config.rollback")
    return result


def config_part(
    editor: ConfigEditor,
    reload: Callable[[], Awaitable[ReloadResult]],
    sharing: SaveSharing | None = None,
) -> WebPart:
    """The admin's config editing on ``editor``; ``reload`` applies a saved file, ``sharing``
    (several servers) tells the others."""

    def install(app: web.Application) -> None:
        app[EDITOR_KEY] = editor
        app[RELOAD_KEY] = reload
        if sharing is not None:
            app[SHARING_KEY] = sharing

    def route(method: str, path: str, handler: Any, summary: str, **kw: Any) -> ApiRoute:
        return ApiRoute(method, path, handler, ADMIN, summary, response_schema={"type": "object"},
                        **kw)  # fmt: skip

    return WebPart(
        routes=(
            route("GET", "/api/config/files", list_files, "the editable admin files"),
            route(
                "GET",
                "/api/config/file",
                read_file,
                "one file (?name=) and its version",
                errors=(404,),
            ),
            route(
                "POST",
                "/api/config/check",
                check_draft,
                "check a draft (problems at file:line:column)",
                body="DraftBody",
                errors=(400, 404),
            ),
            route(
                "POST",
                "/api/config/file",
                save_file,
                "save a draft: checked, reloaded, audited",
                body="SaveBody",
                errors=(400, 404, 409),
            ),
            route(
                "GET",
                "/api/config/history",
                history,
                "a file's kept versions (?name=)",
                errors=(404,),
            ),
            route(
                "POST",
                "/api/config/rollback",
                rollback,
                "save an older version again",
                body="RollbackBody",
                errors=(400, 404, 409),
            ),
        ),
        models=(DraftBody, RollbackBody, SaveBody),
        install=install,
    )
