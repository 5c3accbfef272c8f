"""Sessions: live sessions with the therapist (a gateway room, join links for both
sides) and home practice; either way the analyzer's summary is stored at the end and
counts towards progress and adherence.

The clinic talks to the gateway's HTTP API with a clinic-role token: ``POST
/api/sessions`` opens a room, ``POST /api/sessions/{sid}/end`` ends it and answers with
the session's summary. Join links are issued on demand (they are the gateway's signed
tokens for the room), never stored.

The therapist's session notes (``PUT /api/sessions/{id}/notes``) are clinical data like
any other: audited, never logged, and shown to therapists only. They are the
therapist's working notes (observations, impressions, things to raise with colleagues)
written for themselves during the call; the patient's view of a session is its measured
summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import aiohttp
import msgspec
from aiohttp import web
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clinic import audit
from services.clinic.assessment import estimate_row
from services.clinic.audit import record
from services.clinic.context import (
    CLINICAL,
    EARLIEST_DATE,
    LATEST_DATE,
    THERAPIST,
    Ctx,
    Route,
    json_response,
)
from services.clinic.db import utcnow
from services.clinic.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    GatewayUnavailable,
    Invalid,
    NotFound,
    TooManyAttempts,
)
from services.clinic.invitations import tell_patient
from services.clinic.models import ClinicSession
from services.clinic.referrals import evaluate_for
from shared import tokens
from shared.messages import SessionSummary

log = logging.getLogger(__name__)

SESSIONS_PER_HOUR = 20  # per patient, live and home together
ABANDONED_AFTER = timedelta(hours=12)  # a home session still open this long was left
SWEEP_EVERY_S = 600.0
QUOTA_WINDOW = timedelta(hours=1)

GATEWAY_TIMEOUT = aiohttp.ClientTimeout(total=10)


NOTES_MAX_CHARS = 20_000


class SessionIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["live", "home"] = "live"
    scheduled_at: datetime | None = None


class TreatmentGiven(msgspec.Struct, forbid_unknown_fields=True):
    """Manual treatment the therapist gave in the session."""

    kind: Literal["massage", "stretches", "taping", "neuromuscular_retraining", "eye_care", "other"]
    minutes: Annotated[int, msgspec.Meta(ge=1, le=240)] | None = None
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class NotesIn(msgspec.Struct, forbid_unknown_fields=True):
    notes: Annotated[str, msgspec.Meta(max_length=NOTES_MAX_CHARS)]
    # Given: replaces the session's treatment record; left out: the record stays.
    treatments: Annotated[list[TreatmentGiven], msgspec.Meta(max_length=20)] | None = None


def check_call_time(at: datetime) -> None:
    """A time a session can be at: with a zone, and within the years the clinic's date
    arithmetic holds (a call at 9999-12-31 23:59 would overflow its calendar entry)."""
    if at.tzinfo is None:
        raise BadRequest("'scheduled_at' needs a time zone (e.g. 2026-01-31T10:00:00Z).")
    if not EARLIEST_DATE <= at.date() <= LATEST_DATE:
        raise BadRequest(f"'scheduled_at' must be between {EARLIEST_DATE} and {LATEST_DATE}.")


def session_json(row: ClinicSession, *, notes: bool = False) -> dict[str, Any]:
    """The session as JSON; ``notes`` adds the therapist's notes (for therapists only)."""
    out: dict[str, Any] = {
        "id": row.id,
        "patient_id": row.patient_id,
        "therapist_id": row.therapist_id,
        "kind": row.kind,
        "status": row.status,
        "scheduled_at": row.scheduled_at,
        "ended_at": row.ended_at,
        "gateway_sid": row.gateway_sid,
        "summary": row.summary,
    }
    if notes:
        out["notes"] = row.notes or ""
        out["notes_updated_at"] = row.notes_updated_at
        out["treatments"] = row.treatments or []
    return out


def session_out(ctx: Ctx, row: ClinicSession) -> dict[str, Any]:
    """The session as the caller may see it: a therapist gets the notes, a patient not."""
    return session_json(row, notes=ctx.actor.role == "therapist")


def _clinic_headers(ctx: Ctx) -> dict[str, str]:
    token = tokens.issue(ctx.settings.secret, tokens.CLINIC_SCOPE, "clinic", 60)
    return {"Authorization": f"Bearer {token}"}


async def _gateway(ctx: Ctx, path: str, body: dict[str, Any] | None, method: str = "POST") -> dict[str, Any]:
    if not ctx.settings.secret:
        raise GatewayUnavailable("The clinic has no TELEREHAB_SECRET to talk to the gateway with.")
    url = ctx.settings.clinic_gateway_url + path
    try:
        async with ctx.services.http.request(
            method, url, json=body, headers=_clinic_headers(ctx), timeout=GATEWAY_TIMEOUT
        ) as response:
            data = await response.json(content_type=None)
            if response.status == 410:
                # Ended elsewhere (the therapist's live page): its summary reaches the
                # clinic through the ended-sessions stream (services/clinic/ended.py).
                raise Conflict(
                    "This session was ended from the live page; its results arrive in a moment.",
                    code="session_ended",
                )
            if response.status >= 400:
                code = (
                    (data or {}).get("error", {}).get("code", "error") if isinstance(data, dict) else "error"
                )
                raise GatewayUnavailable(
                    f"The gateway refused ({response.status} {code}).", code="gateway_refused"
                )
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("gateway %s failed: %s", path, type(exc).__name__)
        raise GatewayUnavailable("The video gateway cannot be reached; try again shortly.") from None
    if not isinstance(data, dict):
        raise GatewayUnavailable("The gateway answered something unexpected.")
    return data


async def open_room(ctx: Ctx, row: ClinicSession) -> dict[str, Any]:
    """Open the gateway room (once; again if it has expired) and return both links."""
    if row.gateway_sid is None or (row.gateway_expires or 0) <= time.time() + 60:
        data = await _gateway(ctx, "/api/sessions", {})
        row.gateway_sid, row.gateway_expires = str(data["sid"]), int(data["expires"])
        log.info("clinic session %d opened gateway room %s", row.id, row.gateway_sid)
    return links(ctx, row)


def links(ctx: Ctx, row: ClinicSession) -> dict[str, Any]:
    assert row.gateway_sid is not None
    ttl = max(60, min(ctx.settings.token_ttl_s, (row.gateway_expires or 0) - int(time.time())))
    base = ctx.settings.base_url.rstrip("/")
    out: dict[str, Any] = {"sid": row.gateway_sid, "expires": row.gateway_expires}
    for role in ("patient", "therapist"):
        token = tokens.issue(ctx.settings.secret, row.gateway_sid, role, ttl)
        out[f"{role}_url"] = f"{base}/{role}#token={token}"
    return out


async def load(ctx: Ctx) -> ClinicSession:
    """The session, if the caller may see its patient's records (else 403/404)."""
    row = await ctx.db.get(ClinicSession, ctx.id_param("id"))
    if row is None:
        raise NotFound("No such session.")
    await ctx.patient(row.patient_id)
    return row


async def create_session(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    body = await ctx.body(SessionIn)
    actor = ctx.actor
    if actor.role == "patient" and body.kind != "home":
        raise Forbidden("Live sessions are scheduled by your therapist.")
    at = body.scheduled_at or utcnow()
    check_call_time(at)
    recent = await ctx.db.scalar(
        select(func.count())
        .select_from(ClinicSession)
        .where(ClinicSession.patient_id == patient.id, ClinicSession.created_at > utcnow() - QUOTA_WINDOW)
    )
    if (recent or 0) >= SESSIONS_PER_HOUR:
        # Each session can be a room on the gateway: a script must not make hundreds.
        raise TooManyAttempts(
            f"At most {SESSIONS_PER_HOUR} sessions an hour can be started for a patient; try again later.",
            code="quota",
        )
    row = ClinicSession(
        patient_id=patient.id,
        therapist_id=patient.therapist_id,
        kind=body.kind,
        status="scheduled",
        scheduled_at=at,
    )
    ctx.db.add(row)
    await ctx.db.flush()
    out = session_out(ctx, row)
    # Open the room now when the session starts within the links' lifetime; later
    # sessions get theirs from GET /api/sessions/{id}/join.
    if body.kind == "live" and at <= utcnow() + timedelta(seconds=ctx.settings.token_ttl_s / 2):
        out["links"] = await open_room(ctx, row)
        out["gateway_sid"] = row.gateway_sid
    ctx.audit("create", "session", patient.id, row.id)
    if body.kind == "live" and body.scheduled_at is not None:
        # A call booked for a time (not "start now", whose links the therapist hands
        # over at once): the patient gets it by e-mail with a calendar entry.
        sent = await tell_patient(
            ctx.services.mailer, patient, actor.name, row, "booked", ctx.settings.base_url
        )
        out["patient_told"] = {"sent": sent}
    return json_response(out, status=201)


async def list_sessions(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    rows = (
        await ctx.db.execute(
            select(ClinicSession)
            .where(ClinicSession.patient_id == patient.id)
            .order_by(ClinicSession.scheduled_at, ClinicSession.id)
        )
    ).scalars()
    ctx.audit("read", "session", patient.id)
    return json_response([session_out(ctx, r) for r in rows])


async def get_session(ctx: Ctx) -> web.Response:
    row = await load(ctx)
    ctx.audit("read", "session", row.patient_id, row.id)
    return json_response(session_out(ctx, row))


async def join(ctx: Ctx) -> web.Response:
    """The caller's own join link (a patient gets the patient link only)."""
    row = await load(ctx)
    if row.status == "cancelled":
        raise Conflict("This call was cancelled.", code="session_cancelled")
    if row.status != "scheduled":
        raise Conflict("This session has ended.", code="session_ended")
    all_links = await open_room(ctx, row)
    role = ctx.actor.role
    ctx.audit("read", "join_link", row.patient_id, row.id)
    return json_response(
        {"sid": all_links["sid"], "expires": all_links["expires"], "url": all_links[f"{role}_url"]}
    )


def parse_summary(raw: Any) -> SessionSummary:
    try:
        return msgspec.convert(raw, SessionSummary, strict=True)
    except msgspec.ValidationError as exc:
        raise Invalid(f"The session summary does not fit: {exc}.") from None


async def keep_summary(
    db: AsyncSession, row: ClinicSession, summary: SessionSummary, actor: tuple[int, str] | None
) -> bool:
    """Keep the summary once and end the session; the analyzer's Sunnybrook estimate goes
    beside the therapist's gradings. The claim is one guarded UPDATE (``ended_at IS
    NULL``), so the gateway's ended-sessions stream and the clinic's own end call cannot
    both store it, whichever comes first. Returns False when it was kept already."""
    if row.gateway_sid is not None and summary.sid != row.gateway_sid:
        raise BadRequest("The summary belongs to another session.", code="wrong_session")
    now = utcnow()
    claimed = await db.execute(
        update(ClinicSession)
        .where(ClinicSession.id == row.id, ClinicSession.ended_at.is_(None))
        .values(summary=msgspec.to_builtins(summary), status="ended", ended_at=now)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return False
    await db.refresh(row)
    if summary.assessment is not None:
        db.add(estimate_row(row.patient_id, row.id, summary.assessment, now))
    record(db, actor, "create", "summary", row.patient_id, row.id)
    await db.flush()
    return True


async def store_summary(ctx: Ctx, row: ClinicSession, summary: SessionSummary) -> None:
    if row.gateway_sid is not None and summary.sid != row.gateway_sid:
        raise BadRequest("The summary belongs to another session.", code="wrong_session")
    if row.summary is not None or not await keep_summary(ctx.db, row, summary, ctx.actor_ids):
        raise Conflict("This session's summary is already stored.", code="summary_exists")


async def post_summary(ctx: Ctx) -> web.Response:
    row = await load(ctx)
    if ctx.actor.role == "patient" and row.kind != "home":
        raise Forbidden("A live session's summary comes from the session itself.")
    summary = await ctx.body(SessionSummary)  # bounded figures: 422 outside them
    if ctx.actor.role == "patient" and summary.assessment is not None:
        # Home practice has no guided assessment: an estimate here was made up.
        raise Forbidden("A Sunnybrook estimate comes only from a guided assessment with your therapist.")
    await store_summary(ctx, row, summary)
    await evaluate_for(ctx, row.patient_id)
    return json_response(session_out(ctx, row), status=201)


async def end(ctx: Ctx) -> web.Response:
    """End a live session at the gateway and keep the summary it answers with (unless
    the ended-sessions stream brought it first)."""
    row = await load(ctx)
    if row.kind != "live" or row.gateway_sid is None:
        raise BadRequest("Only a live session with an open room can be ended here.")
    if row.status != "scheduled":
        raise Conflict(f"This session is {row.status} already.", code=f"session_{row.status}")
    data = await _gateway(ctx, f"/api/sessions/{row.gateway_sid}/end", {})
    raw = data.get("summary")
    summary = parse_summary(raw) if raw is not None else SessionSummary(sid=row.gateway_sid, frames=0)
    if await keep_summary(ctx.db, row, summary, ctx.actor_ids):
        await evaluate_for(ctx, row.patient_id)
    else:
        await ctx.db.refresh(row)
    log.info("clinic session %d ended", row.id)
    return json_response(session_out(ctx, row))


async def close_abandoned(sessions: async_sessionmaker[AsyncSession], now: datetime | None = None) -> int:
    """End home sessions started more than ``ABANDONED_AFTER`` ago and never finished
    (the tab was closed without "Save"): they stop showing as open forever. A summary
    posted after that is refused like any second end (409)."""
    now = now or utcnow()
    async with sessions() as db, db.begin():
        done = await db.execute(
            update(ClinicSession)
            .where(
                ClinicSession.kind == "home",
                ClinicSession.status == "scheduled",
                ClinicSession.scheduled_at < now - ABANDONED_AFTER,
            )
            .values(status="ended", ended_at=now)
            .execution_options(synchronize_session=False)
        )
    closed = int(getattr(done, "rowcount", 0) or 0)
    if closed:
        log.info("closed %d abandoned home session(s)", closed)
    return closed


async def sweep_loop(
    sessions: async_sessionmaker[AsyncSession], audit_retention_days: int, interval_s: float = SWEEP_EVERY_S
) -> None:
    """Housekeeping, until cancelled: abandoned home sessions closed, audit records past
    their retention deleted."""
    while True:
        try:
            await close_abandoned(sessions)
            await audit.prune(sessions, audit_retention_days)
        except Exception:
            log.exception("clinic housekeeping failed; trying again in %.0f s", interval_s)
        await asyncio.sleep(interval_s)


async def end_room(ctx: Ctx, row: ClinicSession) -> bool:
    """End the session's gateway room, if one is open, so its join links stop working
    at once. False when there was none (or it had expired: its links are dead).
    Conflict when it was ended from the live page meanwhile."""
    if row.gateway_sid is None or (row.gateway_expires or 0) <= time.time():
        return False
    await _gateway(ctx, f"/api/sessions/{row.gateway_sid}/end", {})
    return True


async def presence(ctx: Ctx) -> web.Response:
    """The waiting room: is the patient in the call's room, with a good picture? (From the
    gateway; nobody is there when the room is not open.)"""
    row = await load(ctx)
    nobody: dict[str, Any] = {"patient": False, "therapists": 0, "camera": None}
    if row.kind != "live" or row.status != "scheduled" or row.gateway_sid is None:
        return json_response(nobody)
    if (row.gateway_expires or 0) <= time.time():
        return json_response(nobody)
    return json_response(await _gateway(ctx, f"/api/sessions/{row.gateway_sid}/presence", None, "GET"))


async def close_rooms_of(ctx: Ctx, patient_id: int) -> int:
    """End the patient's open live rooms at the gateway (their join links stop working
    at once): before the patient's records are erased. Returns how many were closed."""
    rows = (
        await ctx.db.execute(
            select(ClinicSession).where(
                ClinicSession.patient_id == patient_id,
                ClinicSession.gateway_sid.is_not(None),
                ClinicSession.status != "ended",
            )
        )
    ).scalars()
    closed = 0
    for row in rows:
        with contextlib.suppress(Conflict):  # ended from the live page meanwhile
            closed += await end_room(ctx, row)
    return closed


async def put_notes(ctx: Ctx) -> web.Response:
    """Keep (replace) the therapist's notes on one of their own patient's sessions,
    during it or after it ended, and the manual treatment given in it. The text is
    stored and audited, never logged."""
    row = await load(ctx)
    body = await ctx.body(NotesIn)
    row.notes = body.notes
    if body.treatments is not None:
        row.treatments = msgspec.to_builtins(body.treatments)
    row.notes_updated_at = utcnow()
    await ctx.db.flush()
    ctx.audit("update", "session_notes", row.patient_id, row.id)
    return json_response(session_out(ctx, row))


ROUTES = [
    Route(
        "POST",
        "/api/patients/{pid}/sessions",
        create_session,
        "Schedule a live session (therapist; returns join links) or start home practice (patient)",
        CLINICAL,
        "sessions",
        body=SessionIn,
        created=True,
    ),
    Route("GET", "/api/patients/{pid}/sessions", list_sessions, "A patient's sessions", CLINICAL, "sessions"),
    Route("GET", "/api/sessions/{id}", get_session, "One session with its summary", CLINICAL, "sessions"),
    Route("GET", "/api/sessions/{id}/join", join, "My join link for this session", CLINICAL, "sessions"),
    Route(
        "GET",
        "/api/sessions/{id}/presence",
        presence,
        "The waiting room: the patient in the call, camera and light good?",
        THERAPIST,
        "sessions",
    ),
    Route(
        "POST",
        "/api/sessions/{id}/end",
        end,
        "End a live session and store its summary",
        THERAPIST,
        "sessions",
    ),
    Route(
        "POST",
        "/api/sessions/{id}/summary",
        post_summary,
        "Store a session summary (home practice: the patient; live: the therapist)",
        CLINICAL,
        "sessions",
        body=SessionSummary,
        created=True,
    ),
    Route(
        "PUT",
        "/api/sessions/{id}/notes",
        put_notes,
        "Keep the therapist's notes on a session (shown to therapists only)",
        THERAPIST,
        "sessions",
        body=NotesIn,
    ),
]
