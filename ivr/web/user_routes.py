"""``/api/users``: the admin console's accounts - list, add, reset a password, disable or
enable, change the role and binding (an operator's agent, a department user's department).
Each change is the accounts' own (:mod:`ivr.accounts`): checked, audited with the admin as
actor; a new password, a disabled account or a changed role ends the user's sessions."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ivr.accounts import User
from ivr.web.appkeys import ACCOUNTS_KEY, principal_of
from ivr.web.bodies import read_body
from ivr.web.routing import ApiRoute, WebPart

ADMIN: tuple[str, ...] = ("admin",)


class UserOut(BaseModel):
    username: str
    role: str
    agent_id: str | None
    department: str | None
    display_name: str
    disabled: bool
    created_at: str
    last_login_at: str | None


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    role: str
    agent_id: str | None = Field(None, max_length=40)
    department: str | None = Field(None, max_length=40)
    display_name: str = Field("", max_length=80)


class NewPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=1024)


class RoleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str
    agent_id: str | None = Field(None, max_length=40)
    department: str | None = Field(None, max_length=40)
    display_name: str | None = Field(None, max_length=80)


def _iso(at: dt.datetime | None) -> str | None:
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).isoformat(timespec="seconds")


def user_out(u: User) -> dict[str, Any]:
    return UserOut(
        username=u.username, role=u.role, agent_id=u.agent_id, department=u.department,
        display_name=u.display_name, disabled=u.disabled, created_at=_iso(u.created_at) or "",
        last_login_at=_iso(u.last_login_at),
    ).model_dump()  # fmt: skip


def _one(request: web.Request, username: str) -> dict[str, Any]:
    for u in request.app[ACCOUNTS_KEY].list_users():
        if u.username.lower() == username.lower():
            return user_out(u)
    return {}


async def list_users(request: web.Request) -> web.Response:
    users = await asyncio.to_thread(request.app[ACCOUNTS_KEY].list_users)
    return web.json_response([user_out(u) for u in users])


async def add_user(request: web.Request) -> web.Response:
    body = await read_body(request, NewUser, json_only=True)
    actor = principal_of(request).username
    user = await asyncio.to_thread(
        lambda: request.app[ACCOUNTS_KEY].add_user(
            body.username, body.password, body.role, agent_id=body.agent_id,
            department=body.department, display_name=body.display_name, actor=actor,
        )
    )  # fmt: skip
    return web.json_response(user_out(user))


async def set_password(request: web.Request) -> web.Response:
    body = await read_body(request, NewPassword, json_only=True)
    name, actor = request.match_info["username"], principal_of(request).username
    accounts = request.app[ACCOUNTS_KEY]
    await asyncio.to_thread(lambda: accounts.set_password(name, body.password, actor=actor))
    return web.json_response(await asyncio.to_thread(_one, request, name))


def _disabling(disabled: bool) -> Any:
    async def handler(request: web.Request) -> web.Response:
        name, actor = request.match_info["username"], principal_of(request).username
        accounts = request.app[ACCOUNTS_KEY]
        await asyncio.to_thread(lambda: accounts.set_disabled(name, disabled, actor=actor))
        return web.json_response(await asyncio.to_thread(_one, request, name))

    return handler


async def set_role(request: web.Request) -> web.Response:
    body = await read_body(request, RoleBody, json_only=True)
    name, actor = request.match_info["username"], principal_of(request).username
    user = await asyncio.to_thread(
        lambda: request.app[ACCOUNTS_KEY].set_role(
            name, body.role, agent_id=body.agent_id, department=body.department,
            display_name=body.display_name, actor=actor,
        )
    )  # fmt: skip
    return web.json_response(user_out(user))


def users_part() -> WebPart:
    one = "/api/users/{username}"

    def route(method: str, path: str, handler: Any, summary: str, body: str | None) -> ApiRoute:
        return ApiRoute(method, path, handler, ADMIN, summary, body=body, response="UserOut",
                        errors=(400, 404))  # fmt: skip

    return WebPart(
        routes=(
            ApiRoute(
                "GET",
                "/api/users",
                list_users,
                ADMIN,
                "every account (no password)",
                response_schema={
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/UserOut"},
                },
            ),
            route("POST", "/api/users", add_user, "add an account", "NewUser"),
            route(
                "POST",
                one + "/password",
                set_password,
                "a new password (sessions end)",
                "NewPassword",
            ),
            route(
                "POST",
                one + "/disable",
                _disabling(True),
                "disable (sessions end, API tokens revoked)",
                None,
            ),
            route("POST", one + "/enable", _disabling(False), "enable again", None),
            route(
                "POST",
                one + "/role",
                set_role,
                "change the role and binding (sessions end)",
                "RoleBody",
            ),
        ),
        models=(NewPassword, NewUser, RoleBody, UserOut),
    )
