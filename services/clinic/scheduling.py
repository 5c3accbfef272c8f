"""Booked video calls: move and cancel them, and each as a calendar file.

Booking is ``POST /api/patients/{pid}/sessions`` with a ``scheduled_at``
(``services.clinic.sessions``); it e-mails the patient too. A call that is moved or
cancelled is e-mailed again, with the calendar entry updated or withdrawn (same UID, a
higher SEQUENCE), so the patient's calendar follows.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import Any

import msgspec
from aiohttp import web

from services.clinic.context import CLINICAL, THERAPIST, Ctx, Route, json_response
from services.clinic.db import utcnow
from services.clinic.errors import BadRequest, Conflict
from services.clinic.invitations import Change, calendar_entry, tell_patient
from services.clinic.models import ClinicSession, User
from services.clinic.sessions import check_call_time, end_room, load, session_out

log = logging.getLogger(__name__)


class MoveIn(msgspec.Struct, forbid_unknown_fields=True):
    scheduled_at: datetime


async def _booked(ctx: Ctx) -> ClinicSession:
    """A live call still to come (or under way) that this therapist may change."""
    row = await load(ctx)
    if row.kind != "live":
        raise BadRequest("Only a booked video call can be moved or cancelled.", code="not_a_call")
    if row.status != "scheduled":
        raise Conflict(f"This call is {row.status} already.", code=f"session_{row.status}")
    return row


async def _tell(ctx: Ctx, row: ClinicSession, change: Change) -> dict[str, Any]:
    """E-mail the patient; what happened, for the reply (``sent`` None: no SMTP here)."""
    patient = await ctx.db.get(User, row.patient_id)
    assert patient is not None  # the session's patient: load() checked it exists
    sent = await tell_patient(
        ctx.services.mailer, patient, ctx.actor.name, row, change, ctx.settings.base_url
    )
    return {"sent": sent}


async def move(ctx: Ctx) -> web.Response:
    row = await _booked(ctx)
    body = await ctx.body(MoveIn)
    check_call_time(body.scheduled_at)
    if body.scheduled_at < utcnow():
        raise BadRequest("A call can only be moved to a time still to come.", code="in_the_past")
    row.scheduled_at = body.scheduled_at
    row.calendar_sequence += 1
    await ctx.db.flush()
    ctx.audit("update", "session", row.patient_id, row.id)
    out = session_out(ctx, row)
    out["patient_told"] = await _tell(ctx, row, "moved")
    return json_response(out)


async def cancel(ctx: Ctx) -> web.Response:
    """Call it off: off the patient's plan and the therapist's list at once, its room (if
    one is open) ended so its links stop working, and the patient told."""
    row = await _booked(ctx)
    row.status, row.ended_at = "cancelled", utcnow()
    row.calendar_sequence += 1
    await ctx.db.flush()
    with contextlib.suppress(Conflict):  # the room was ended from the live page meanwhile
        await end_room(ctx, row)
    ctx.audit("update", "session", row.patient_id, row.id)
    log.info("clinic session %d cancelled", row.id)
    out = session_out(ctx, row)
    out["patient_told"] = await _tell(ctx, row, "cancelled")
    return json_response(out)


async def calendar(ctx: Ctx) -> web.Response:
    row = await load(ctx)
    if row.kind != "live":
        raise BadRequest("Only a video call has a calendar entry.", code="not_a_call")
    therapist = await ctx.db.get(User, row.therapist_id) if row.therapist_id else None
    entry = calendar_entry(
        row,
        therapist.name if therapist else "your therapist",
        ctx.settings.base_url,
        cancelled=row.status == "cancelled",
    )
    ctx.audit("read", "session", row.patient_id, row.id)
    return web.Response(
        body=entry,
        content_type="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="video-call-{row.id}.ics"'},
    )


ROUTES = [
    Route(
        "PATCH",
        "/api/sessions/{id}",
        move,
        "Move a booked video call (the patient is e-mailed an updated calendar entry)",
        THERAPIST,
        "sessions",
        body=MoveIn,
    ),
    Route(
        "POST",
        "/api/sessions/{id}/cancel",
        cancel,
        "Cancel a booked video call (its room closes; the patient is e-mailed)",
        THERAPIST,
        "sessions",
    ),
    Route(
        "GET",
        "/api/sessions/{id}/calendar.ics",
        calendar,
        "A video call as a calendar file (iCalendar)",
        CLINICAL,
        "sessions",
        produces="text/calendar",
    ),
]
