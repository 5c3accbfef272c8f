"""First run: the clinic's first account, an admin, made in the browser.

A fresh clinic has no account, so nobody can sign in to make one. Whoever reaches the
page first must not become its admin, so the form also asks for a *setup code*: derived
from the service's secret, printed by ``telerehab up`` beside the clinic's link (in the
link's fragment, which no server and no access log ever sees), and accepted only while
the clinic has no account at all. Deployments without ``up`` (Kubernetes) make the first
admin with ``telerehab clinic create-admin`` as before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

import msgspec
from aiohttp import web
from sqlalchemy import func, select, text

from services.clinic.audit import record
from services.clinic.auth import Email, Password, hash_password, issue_token, user_json
from services.clinic.context import Ctx, Route, json_response
from services.clinic.errors import Conflict, Forbidden
from services.clinic.models import User
from services.clinic.people import Name, create_user

log = logging.getLogger(__name__)

SETUP_LOCK = 7_302_115  # pg_advisory_xact_lock key, distinct from the migrations'
ALREADY_SET_UP = "This clinic already has an account: sign in instead."


class SetupIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    email: Email
    name: Name
    password: Password


def setup_code(secret: str) -> str:
    """The first-run code for this secret: 16 letters and digits (80 bits), the same on
    every start, useless once the clinic has an account."""
    digest = hmac.new(secret.encode(), b"telerehab first-run admin", hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


async def _accounts(ctx: Ctx) -> int:
    return int(await ctx.db.scalar(select(func.count()).select_from(User)) or 0)


async def setup_state(ctx: Ctx) -> web.Response:
    return json_response({"needed": await _accounts(ctx) == 0})


async def create_first_admin(ctx: Ctx) -> web.Response:
    body = await ctx.body(SetupIn)
    # Two forms sent at once would each see an empty clinic and make an admin: one at a
    # time (PostgreSQL: a lock held to the end of the transaction, so the second counts
    # the first's committed account; SQLite: counted again after the insert, below).
    if ctx.db.get_bind().dialect.name == "postgresql":
        await ctx.db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SETUP_LOCK})
    if await _accounts(ctx):
        raise Conflict(ALREADY_SET_UP, code="already_set_up")
    secret = ctx.settings.secret
    if not secret:  # the code would be known to anyone
        raise Forbidden(
            "This clinic runs without TELEREHAB_SECRET: make the first admin with "
            "`telerehab clinic create-admin`.",
            code="setup_unavailable",
        )
    if not hmac.compare_digest(body.code.strip().lower(), setup_code(secret)):
        raise Forbidden(
            "That setup code is not right: use the link `telerehab up` printed.", code="bad_setup_code"
        )
    user = await create_user(
        ctx.db,
        role="admin",
        email=body.email,
        name=body.name,
        password_hash=await hash_password(ctx.services.hasher, body.password),
    )
    # SQLite: two forms read an empty clinic before either wrote; the second's insert
    # waits for the first's commit, and then it counts two and rolls back.
    if await _accounts(ctx) > 1:
        raise Conflict(ALREADY_SET_UP, code="already_set_up")
    record(ctx.db, (user.id, user.role), "create", "admin", None, user.id)
    token = await issue_token(ctx.db, user, "login", ctx.settings.clinic_login_ttl_s)
    log.info("first run: admin %d created in the browser", user.id)
    return json_response({"token": token, "user": user_json(user)}, status=201)


ROUTES = [
    Route("GET", "/api/setup", setup_state, "Does this clinic still need its first account?", None, "auth"),
    Route(
        "POST",
        "/api/setup",
        create_first_admin,
        "Create the first admin (needs the setup code; only while no account exists)",
        None,
        "auth",
        body=SetupIn,
        created=True,
    ),
]
