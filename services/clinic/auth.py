"""Signing in. Therapists and admins: e-mail + password (argon2id) and, once enabled, a
TOTP code. Patients: a single-use magic link from their therapist. Either way the result
is a bearer token (``Authorization: Bearer …``); only SHA-256 hashes of magic links and
bearer tokens are stored, so a copy of the database signs nobody in."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from datetime import timedelta
from typing import Annotated

import msgspec
import pyotp
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.audit import record
from services.clinic.context import Ctx, Route, json_response
from services.clinic.db import utcnow
from services.clinic.errors import BadRequest, Forbidden, TooManyAttempts, Unauthorized
from services.clinic.models import AuditEntry, AuthToken, User

log = logging.getLogger(__name__)

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=200)]
LOGIN_MAX_FAILURES = 5
LOGIN_WINDOW = timedelta(minutes=15)
_DUMMY_HASH = PasswordHasher().hash("not a real password; evens out the timing of unknown e-mails")


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


async def hash_password(hasher: PasswordHasher, password: str) -> str:
    return await asyncio.to_thread(hasher.hash, password)


async def check_password(hasher: PasswordHasher, stored: str | None, password: str) -> bool:
    try:
        return await asyncio.to_thread(hasher.verify, stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def issue_token(db: AsyncSession, user: User, kind: str, ttl_s: int) -> str:
    raw = secrets.token_urlsafe(32)
    db.add(
        AuthToken(
            user_id=user.id,
            kind=kind,
            token_hash=token_hash(raw),
            expires_at=utcnow() + timedelta(seconds=ttl_s),
        )
    )
    await db.flush()
    return raw


async def user_for_bearer(db: AsyncSession, raw: str) -> User:
    if not raw or len(raw) > 256:
        raise Unauthorized("This sign-in is not valid.", code="invalid_token")
    row = (
        await db.execute(
            select(AuthToken, User)
            .join(User, User.id == AuthToken.user_id)
            .where(AuthToken.token_hash == token_hash(raw), AuthToken.kind == "login")
        )
    ).first()
    if row is None:
        raise Unauthorized("This sign-in is not valid.", code="invalid_token")
    token, user = row
    if token.expires_at <= utcnow():
        raise Unauthorized("This sign-in has expired; sign in again.", code="token_expired")
    return user


def totp_step(user: User, code: str, now: float | None = None) -> int | None:
    """The 30-second step whose code this is (one step of clock drift either way), if it
    is later than the last step used: each code signs in once."""
    totp = pyotp.TOTP(user.totp_secret or "")
    current = int((time.time() if now is None else now) // totp.interval)
    for step in (current - 1, current, current + 1):
        if step > (user.totp_last_step or -1) and hmac.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


def bearer(header: str) -> str | None:
    if not header:
        return None
    if not header.startswith("Bearer "):
        raise Unauthorized("Use Authorization: Bearer <token>.", code="invalid_token")
    return header[len("Bearer ") :].strip()


def user_json(user: User) -> dict[str, object]:
    out: dict[str, object] = {"id": user.id, "role": user.role, "name": user.name, "email": user.email}
    if user.role == "patient":
        out["therapist_id"] = user.therapist_id
        out["timezone"] = user.timezone
    else:
        out["totp_enabled"] = user.totp_enabled
    return out


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(max_length=200)]
    totp: Annotated[str, msgspec.Meta(max_length=10)] | None = None


class MagicIn(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class TotpConfirmIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=6, max_length=10)]


async def _failed(ctx: Ctx, user: User | None) -> None:
    """Note a failed sign-in in the audit log (its own transaction: the request's is
    rolled back by the 401 that follows)."""
    if user is None:
        return
    async with ctx.services.sessions() as db, db.begin():
        record(db, (user.id, user.role), "login_failed", "auth", None)


async def login(ctx: Ctx) -> web.Response:
    """After ``LOGIN_MAX_FAILURES`` failed attempts on an account within
    ``LOGIN_WINDOW`` it is refused (429) until the window has passed, right password or not."""
    body = await ctx.body(LoginIn)
    user = (await ctx.db.execute(select(User).where(User.email == body.email.lower()))).scalar_one_or_none()
    if user is not None:
        failures = await ctx.db.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.actor_id == user.id,
                AuditEntry.action == "login_failed",
                AuditEntry.at > utcnow() - LOGIN_WINDOW,
            )
        )
        if (failures or 0) >= LOGIN_MAX_FAILURES:
            log.info("user %d: sign-in refused after %d failures", user.id, failures)
            raise TooManyAttempts("Too many failed sign-ins; wait 15 minutes and try again.")
    stored = user.password_hash if user is not None and user.role != "patient" else None
    if not await check_password(ctx.services.hasher, stored, body.password) or user is None:
        await _failed(ctx, user)
        raise Unauthorized("The e-mail or password is not right.", code="invalid_credentials")
    if user.totp_enabled:
        if not body.totp:
            raise Unauthorized("Enter the code from your authenticator app.", code="totp_required")
        step = totp_step(user, body.totp)
        if step is None:
            await _failed(ctx, user)
            raise Unauthorized("The e-mail, password or code is not right.", code="invalid_credentials")
        user.totp_last_step = step
    token = await issue_token(ctx.db, user, "login", ctx.settings.clinic_login_ttl_s)
    log.info("user %d signed in", user.id)
    return json_response({"token": token, "user": user_json(user)})


async def magic(ctx: Ctx) -> web.Response:
    body = await ctx.body(MagicIn)
    row = (
        await ctx.db.execute(
            select(AuthToken, User)
            .join(User, User.id == AuthToken.user_id)
            .where(AuthToken.token_hash == token_hash(body.token), AuthToken.kind == "magic")
            .with_for_update()
        )
    ).first()
    if row is None:
        raise Unauthorized("This link is not valid. Ask your therapist for a new one.", code="invalid_link")
    link, user = row
    if link.used_at is not None:
        raise Unauthorized(
            "This link has been used already. Ask your therapist for a new one.", code="used_link"
        )
    if link.expires_at <= utcnow():
        raise Unauthorized("This link has expired. Ask your therapist for a new one.", code="expired_link")
    link.used_at = utcnow()
    token = await issue_token(ctx.db, user, "login", ctx.settings.clinic_login_ttl_s)
    log.info("patient %d signed in by magic link", user.id)
    return json_response({"token": token, "user": user_json(user)})


async def logout(ctx: Ctx) -> web.Response:
    raw = bearer(ctx.request.headers.get("Authorization", "")) or ""
    await ctx.db.execute(delete(AuthToken).where(AuthToken.token_hash == token_hash(raw)))
    return json_response({"signed_out": True})


async def me(ctx: Ctx) -> web.Response:
    return json_response(user_json(ctx.actor))


async def totp_begin(ctx: Ctx) -> web.Response:
    """Start enabling TOTP: a new secret (shown once) that the next confirm switches on."""
    user = ctx.actor
    if user.totp_enabled:
        raise BadRequest("Two-step sign-in is already on.", code="totp_enabled")
    user.totp_secret = pyotp.random_base32()
    uri = pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name="telerehab")
    return json_response({"secret": user.totp_secret, "otpauth_uri": uri})


async def totp_confirm(ctx: Ctx) -> web.Response:
    body = await ctx.body(TotpConfirmIn)
    user = ctx.actor
    if not user.totp_secret:
        raise BadRequest("Start with POST /api/me/totp.", code="totp_not_started")
    step = totp_step(user, body.code)
    if step is None:
        raise Forbidden("That code is not right; check the time on your device.", code="bad_totp")
    user.totp_enabled, user.totp_last_step = True, step
    log.info("user %d enabled TOTP", user.id)
    return json_response({"totp_enabled": True})


ROUTES = [
    Route(
        "POST",
        "/api/auth/login",
        login,
        "Sign in with e-mail, password (and TOTP code)",
        None,
        "auth",
        body=LoginIn,
    ),
    Route(
        "POST",
        "/api/auth/magic",
        magic,
        "Exchange a patient's magic link for a sign-in token",
        None,
        "auth",
        body=MagicIn,
    ),
    Route(
        "POST",
        "/api/auth/logout",
        logout,
        "Sign out (revoke this bearer token)",
        ("admin", "therapist", "patient"),
        "auth",
    ),
    Route("GET", "/api/me", me, "Who am I", ("admin", "therapist", "patient"), "auth"),
    Route(
        "POST",
        "/api/me/totp",
        totp_begin,
        "Begin enabling TOTP (returns the secret once)",
        ("admin", "therapist"),
        "auth",
    ),
    Route(
        "POST",
        "/api/me/totp/confirm",
        totp_confirm,
        "Confirm a TOTP code and switch TOTP on",
        ("admin", "therapist"),
        "auth",
        body=TotpConfirmIn,
    ),
]
