"""Signing in. Therapists and admins: e-mail + password (argon2id) and, once enabled, a
TOTP code. Patients: a single-use magic link from their therapist. Either way the result
is a bearer token (``Authorization: Bearer …``); only SHA-256 hashes of magic links and
bearer tokens are stored, so a copy of the database signs nobody in."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
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
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clinic.audit import record
from services.clinic.context import Ctx, Route, json_response
from services.clinic.db import utcnow
from services.clinic.errors import BadRequest, Forbidden, TooManyAttempts, Unauthorized
from services.clinic.models import AuditEntry, AuthToken, User
from shared.settings import Settings

log = logging.getLogger(__name__)

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=200)]
# Failures on one account from every address and process (the audit log is shared)
# before it is refused for everyone: a ceiling far above one guesser's allowance
# (services.clinic.throttle), so locking an owner out takes a botnet, not a script.
ACCOUNT_CEILING = 50
ACCOUNT_OFF = "This account has been switched off. Ask your clinic's administrator."
LOGIN_WINDOW = timedelta(minutes=15)
_DUMMY_HASH = PasswordHasher().hash("not a real password; evens out the timing of unknown e-mails")


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


async def hash_password(hasher: PasswordHasher, password: str) -> str:
    return await asyncio.to_thread(hasher.hash, password)


def password_matches(hasher: PasswordHasher, stored: str | None, password: str) -> bool:
    """argon2 verification (CPU and memory by design: run it through the sign-in gate).
    An unknown account is checked against a dummy hash, so it takes as long."""
    try:
        return hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
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
    if user.deactivated_at is not None:
        raise Unauthorized(ACCOUNT_OFF, code="account_off")
    return user


def _totp_key(settings: Settings) -> Fernet:
    digest = hashlib.sha256(b"telerehab totp secrets\0" + settings.secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal_totp_secret(settings: Settings, secret: str) -> str:
    """TOTP secrets are kept encrypted with a key derived from ``TELEREHAB_SECRET``: a
    copy of the database alone does not give anyone second factors."""
    return "f1:" + _totp_key(settings).encrypt(secret.encode()).decode()


def open_totp_secret(settings: Settings, stored: str | None) -> str:
    if not stored:
        return ""
    if not stored.startswith("f1:"):
        return stored  # kept before secrets were sealed
    try:
        return _totp_key(settings).decrypt(stored[3:].encode()).decode()
    except InvalidToken:
        log.error("a TOTP secret cannot be opened: was TELEREHAB_SECRET changed?")
        return ""


def totp_step(secret: str, last_step: int | None, code: str, now: float | None = None) -> int | None:
    """The 30-second step whose code this is (one step of clock drift either way), if it
    is later than the last step used: each code signs in once."""
    if not secret:
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // totp.interval)
    for step in (current - 1, current, current + 1):
        if step > (last_step or -1) and hmac.compare_digest(totp.at(step * totp.interval), code):
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
        out["active"] = user.deactivated_at is None
    return out


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(max_length=200)]
    totp: Annotated[str, msgspec.Meta(max_length=10)] | None = None


class MagicIn(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class TotpConfirmIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=6, max_length=10)]
    password: Annotated[str, msgspec.Meta(max_length=200)]


class PasswordChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    current: Annotated[str, msgspec.Meta(max_length=200)]
    new: Password


class SignInFailed(Unauthorized):
    """A wrong password or code: 401, and for a real account a ``login_failed`` audit
    entry, written by the endpoint once this request's transaction has rolled back (in
    it the entry would be rolled back too; beside it, on SQLite, it would wait on this
    request's own write lock)."""

    def __init__(self, message: str, user: User | None) -> None:
        super().__init__(message, code="invalid_credentials")
        self.actor = (user.id, user.role) if user is not None else None


async def record_failed_sign_in(sessions: async_sessionmaker[AsyncSession], actor: tuple[int, str]) -> None:
    async with sessions() as db, db.begin():
        record(db, actor, "login_failed", "auth", None)


def client_address(request: web.Request, trusted_proxies: tuple[str, ...] = ()) -> str:
    """The address a sign-in came from: the peer, or, when the peer is a trusted reverse
    proxy (``TELEREHAB_TRUSTED_PROXIES``), the nearest address in X-Forwarded-For that is
    not one (a client can prepend anything; only what trusted proxies appended counts)."""
    peer = request.remote or "unknown"
    networks = [ipaddress.ip_network(cidr, strict=False) for cidr in trusted_proxies]

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in net for net in networks)

    if not networks or not trusted(peer):
        return peer
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    for address in reversed(forwarded):
        if not trusted(address):
            return address
    return peer


async def _account(ctx: Ctx, email: str) -> tuple[User | None, int]:
    """The account and its failures in the window, read in a short session of its own:
    no database connection is held while the password hash is computed (a flood of
    wrong passwords used to drain the pool and fail everyone's requests)."""
    async with ctx.services.sessions() as db:
        user = (await db.execute(select(User).where(User.email == email))).scalar_one_or_none()
        if user is None:
            return None, 0
        failures = await db.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.actor_id == user.id,
                AuditEntry.action == "login_failed",
                AuditEntry.at > utcnow() - LOGIN_WINDOW,
            )
        )
        return user, failures or 0


async def login(ctx: Ctx) -> web.Response:
    """Refused (429) before any password is checked when this address has failed too
    often on this account or on any (``services.clinic.throttle``), or the account has
    failed ``ACCOUNT_CEILING`` times from everywhere within ``LOGIN_WINDOW``."""
    body = await ctx.body(LoginIn)
    email = body.email.lower()
    gate = ctx.services.sign_ins
    async with gate.attempt(email, client_address(ctx.request, ctx.settings.trusted_proxies)) as attempt:
        found, failures = await _account(ctx, email)
        if failures >= ACCOUNT_CEILING:
            log.info("user %d: sign-in refused after %d failures", found.id if found else 0, failures)
            raise TooManyAttempts("Too many failed sign-ins; wait 15 minutes and try again.")
        stored = found.password_hash if found is not None and found.role != "patient" else None
        hasher = ctx.services.hasher
        if not await gate.check(lambda: password_matches(hasher, stored, body.password)) or found is None:
            attempt.fail()
            raise SignInFailed("The e-mail or password is not right.", found)
        if found.totp_enabled:
            if not body.totp:
                raise Unauthorized("Enter the code from your authenticator app.", code="totp_required")
            step = totp_step(
                open_totp_secret(ctx.settings, found.totp_secret), found.totp_last_step, body.totp
            )
            # The step is marked used before anything else is read in this transaction
            # (SQLite cannot turn a read lock into a write lock under contention).
            if step is None or not await _use_totp_step(ctx, found, step):
                attempt.fail()
                raise SignInFailed("The e-mail, password or code is not right.", found)
        user = await ctx.db.get(User, found.id)
        if user is None:  # deleted while its password was being checked
            raise Unauthorized("The e-mail or password is not right.", code="invalid_credentials")
        if user.deactivated_at is not None:
            raise Forbidden(ACCOUNT_OFF, code="account_off")
    token = await issue_token(ctx.db, user, "login", ctx.settings.clinic_login_ttl_s)
    record(ctx.db, (user.id, user.role), "login", "auth", None)
    return json_response({"token": token, "user": user_json(user)})


async def _use_totp_step(ctx: Ctx, user: User, step: int) -> bool:
    """Mark ``step`` used, atomically: of two requests with the same code at the same
    moment, one wins (a read-then-write let both sign in)."""
    done = await ctx.db.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return getattr(done, "rowcount", 0) == 1


async def magic(ctx: Ctx) -> web.Response:
    body = await ctx.body(MagicIn)
    digest = token_hash(body.token)
    # Used once, atomically, and written first: of exchanges at the same moment only the
    # one whose update finds the link unused signs in. (A read, then a write, let several
    # through on SQLite, which has no SELECT … FOR UPDATE, and deadlocks its lock upgrade.)
    claimed = await ctx.db.execute(
        update(AuthToken)
        .where(
            AuthToken.token_hash == digest,
            AuthToken.kind == "magic",
            AuthToken.used_at.is_(None),
            AuthToken.expires_at > utcnow(),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    link = (
        await ctx.db.execute(
            select(AuthToken).where(AuthToken.token_hash == digest, AuthToken.kind == "magic")
        )
    ).scalar_one_or_none()
    if link is None:
        raise Unauthorized("This link is not valid. Ask your therapist for a new one.", code="invalid_link")
    if getattr(claimed, "rowcount", 0) != 1:
        if link.used_at is not None:
            raise Unauthorized(
                "This link has been used already. Ask your therapist for a new one.", code="used_link"
            )
        raise Unauthorized("This link has expired. Ask your therapist for a new one.", code="expired_link")
    user = await ctx.db.get(User, link.user_id)
    if user is None:
        raise Unauthorized("This link is not valid. Ask your therapist for a new one.", code="invalid_link")
    token = await issue_token(ctx.db, user, "login", ctx.settings.clinic_login_ttl_s)
    record(ctx.db, (user.id, user.role), "login_magic_link", "auth", user.id)
    return json_response({"token": token, "user": user_json(user)})


async def logout(ctx: Ctx) -> web.Response:
    raw = bearer(ctx.request.headers.get("Authorization", "")) or ""
    await ctx.db.execute(delete(AuthToken).where(AuthToken.token_hash == token_hash(raw)))
    ctx.audit("logout", "auth", None)
    return json_response({"signed_out": True})


async def me(ctx: Ctx) -> web.Response:
    return json_response(user_json(ctx.actor))


async def totp_begin(ctx: Ctx) -> web.Response:
    """Start enabling TOTP: a new secret (shown once) that the next confirm switches on."""
    user = ctx.actor
    if user.totp_enabled:
        raise BadRequest("Two-step sign-in is already on.", code="totp_enabled")
    secret = pyotp.random_base32()
    user.totp_secret = seal_totp_secret(ctx.settings, secret)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="telerehab")
    ctx.audit("totp_begun", "auth", None)
    return json_response({"secret": secret, "otpauth_uri": uri})


async def totp_confirm(ctx: Ctx) -> web.Response:
    body = await ctx.body(TotpConfirmIn)
    user = ctx.actor
    if not user.totp_secret:
        raise BadRequest("Start with POST /api/me/totp.", code="totp_not_started")
    # The password too: a stolen bearer token alone must not lock the owner out.
    await _check_own_password(ctx, user, body.password)
    step = totp_step(open_totp_secret(ctx.settings, user.totp_secret), user.totp_last_step, body.code)
    if step is None:
        raise Forbidden("That code is not right; check the time on your device.", code="bad_totp")
    user.totp_enabled, user.totp_last_step = True, step
    ctx.audit("totp_enabled", "auth", None)
    return json_response({"totp_enabled": True})


async def _check_own_password(ctx: Ctx, user: User, password: str) -> None:
    """The signed-in user's own password, through the same gate as signing in."""
    gate, hasher, stored = ctx.services.sign_ins, ctx.services.hasher, user.password_hash
    address = client_address(ctx.request, ctx.settings.trusted_proxies)
    async with gate.attempt(user.email, address) as attempt:
        if not await gate.check(lambda: password_matches(hasher, stored, password)):
            attempt.fail()
            raise SignInFailed("That password is not right.", user)


async def change_password(ctx: Ctx) -> web.Response:
    """A new password; every other sign-in of this account is signed out."""
    body = await ctx.body(PasswordChangeIn)
    user = ctx.actor
    await _check_own_password(ctx, user, body.current)
    user.password_hash = await hash_password(ctx.services.hasher, body.new)
    signed_out = await _sign_out(ctx, user, keep=bearer(ctx.request.headers.get("Authorization", "")))
    ctx.audit("password_changed", "auth", None)
    return json_response({"changed": True, "signed_out": signed_out})


async def sign_out_everywhere(ctx: Ctx) -> web.Response:
    """Every sign-in of this account ends, this one included (a lost phone, a shared PC)."""
    signed_out = await _sign_out(ctx, ctx.actor, keep=None)
    ctx.audit("sign_out_all", "auth", None)
    return json_response({"signed_out": signed_out})


async def _sign_out(ctx: Ctx, user: User, keep: str | None) -> int:
    query = delete(AuthToken).where(AuthToken.user_id == user.id, AuthToken.kind == "login")
    if keep:
        query = query.where(AuthToken.token_hash != token_hash(keep))
    done = await ctx.db.execute(query.execution_options(synchronize_session=False))
    return int(getattr(done, "rowcount", 0) or 0)


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
        "/api/me/password",
        change_password,
        "Change my password (needs the current one); my other sign-ins end",
        ("admin", "therapist"),
        "auth",
        body=PasswordChangeIn,
    ),
    Route(
        "POST",
        "/api/me/sign-out-everywhere",
        sign_out_everywhere,
        "End every sign-in of my account, this one too",
        ("admin", "therapist", "patient"),
        "auth",
    ),
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
        "Confirm a TOTP code (and my password) and switch TOTP on",
        ("admin", "therapist"),
        "auth",
        body=TotpConfirmIn,
    ),
]
