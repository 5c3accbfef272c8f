"""Therapists (created by an admin), patients (invited by their therapist with a magic
link) and the patient record itself."""

from __future__ import annotations

import io
import logging
import zipfile
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from aiohttp import web
from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.auth import Email, Password, hash_password, issue_token, user_json
from services.clinic.context import THERAPIST, Ctx, Route, json_response
from services.clinic.db import utcnow
from services.clinic.errors import BadRequest, Conflict, NotFound
from services.clinic.mailer import MailError
from services.clinic.models import (
    Assessment,
    AuthToken,
    CheckOff,
    ClinicSession,
    EducationRead,
    Goal,
    Intake,
    PatientIntake,
    Programme,
    QuestionnaireResponse,
    ReferralFlag,
    ReminderSent,
    User,
)
from services.clinic.report import report_pdf
from services.clinic.sessions import close_rooms_of

log = logging.getLogger(__name__)

# Patient-scoped tables, each before the tables it refers to.
ERASE_ORDER = (
    CheckOff,
    EducationRead,
    Goal,
    Assessment,
    ClinicSession,
    Programme,
    Intake,
    PatientIntake,
    QuestionnaireResponse,
    ReferralFlag,
    ReminderSent,
)
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
REASSESS_EVERY = timedelta(days=28)  # a patient in care is graded again at least this often


class TherapistIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    name: Name
    password: Password


class PatientIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    name: Name
    timezone: Annotated[str, msgspec.Meta(max_length=64)] = "UTC"


async def create_user(
    db: AsyncSession,
    *,
    role: str,
    email: str,
    name: str,
    password_hash: str | None = None,
    therapist_id: int | None = None,
    timezone: str = "UTC",
) -> User:
    email = email.strip().lower()
    taken = await db.scalar(select(func.count()).select_from(User).where(User.email == email))
    if taken:
        raise Conflict("Someone with this e-mail address already has an account.", code="email_taken")
    user = User(
        role=role,
        email=email,
        name=name.strip(),
        password_hash=password_hash,
        therapist_id=therapist_id,
        timezone=timezone,
    )
    db.add(user)
    await db.flush()
    return user


async def create_therapist(ctx: Ctx) -> web.Response:
    body = await ctx.body(TherapistIn)
    user = await create_user(
        ctx.db,
        role="therapist",
        email=body.email,
        name=body.name,
        password_hash=await hash_password(ctx.services.hasher, body.password),
    )
    ctx.audit("create", "therapist", None, user.id)
    return json_response(user_json(user), status=201)


async def list_therapists(ctx: Ctx) -> web.Response:
    rows = (await ctx.db.execute(select(User).where(User.role == "therapist").order_by(User.id))).scalars()
    return json_response([user_json(u) for u in rows])


async def _therapist(ctx: Ctx) -> User:
    user = await ctx.db.get(User, ctx.id_param("tid"))
    if user is None or user.role != "therapist":
        raise NotFound("No such therapist.")
    return user


async def deactivate_therapist(ctx: Ctx) -> web.Response:
    """Switch a therapist's account off (someone leaves the clinic): every sign-in ends at
    once and no new one is possible; their patients' records stay."""
    user = await _therapist(ctx)
    if user.deactivated_at is None:
        user.deactivated_at = utcnow()
    await ctx.db.execute(
        sa_delete(AuthToken).where(AuthToken.user_id == user.id).execution_options(synchronize_session=False)
    )
    ctx.audit("deactivate", "therapist", None, user.id)
    return json_response(user_json(user))


async def reactivate_therapist(ctx: Ctx) -> web.Response:
    user = await _therapist(ctx)
    user.deactivated_at = None
    ctx.audit("reactivate", "therapist", None, user.id)
    return json_response(user_json(user))


async def send_magic_link(ctx: Ctx, patient: User, *, asked_by_patient: bool = False) -> dict[str, object]:
    """A new single-use link. E-mailed when SMTP is configured; otherwise handed back to
    the therapist to pass on (it is never logged). When the therapist sends it, earlier
    unused links stop working: a link mailed to an old address, or lost, is not a way in
    for a week. When the patient asks (``request_link``) they stay: anyone can ask in a
    patient's name, and that must not be a way to void the patient's link."""
    if not asked_by_patient:
        await ctx.db.execute(
            sa_delete(AuthToken).where(
                AuthToken.user_id == patient.id, AuthToken.kind == "magic", AuthToken.used_at.is_(None)
            )
        )
    raw = await issue_token(ctx.db, patient, "magic", ctx.settings.magic_link_ttl_s)
    link = f"{ctx.settings.base_url.rstrip('/')}/clinic/magic#token={raw}"
    mailer = ctx.services.mailer
    why = (
        "You asked for a new sign-in link for telerehab (on another device, say)."
        if asked_by_patient
        else "Your therapist has invited you to telerehab."
    )
    if mailer.configured:
        try:
            await mailer.send(
                patient.email,
                "Your telerehab sign-in link",
                f"Hello {patient.name},\n\n{why} Open this link to sign in (it works once):\n\n{link}\n"
                + ("\nIf you did not ask for it, you can ignore this e-mail.\n" if asked_by_patient else ""),
            )
        except MailError as exc:
            log.warning("magic link for patient %d not sent: %s", patient.id, exc)
            return {"sent": False, "link": link, "mail_error": str(exc)}
        log.info("magic link sent to patient %d", patient.id)
        return {"sent": True}
    return {"sent": False, "link": link}


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"Unknown time zone {name!r} (use an IANA name such as Europe/London).") from None


async def create_patient(ctx: Ctx) -> web.Response:
    body = await ctx.body(PatientIn)
    _check_timezone(body.timezone)
    patient = await create_user(
        ctx.db,
        role="patient",
        email=body.email,
        name=body.name,
        therapist_id=ctx.actor.id,
        timezone=body.timezone,
    )
    ctx.audit("create", "patient", patient.id, patient.id)
    invite = await send_magic_link(ctx, patient)
    return json_response({"patient": user_json(patient), "invite": invite}, status=201)


class LinkRequestIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email


LINKS_PER_HOUR = 3  # asked for by a patient (or anyone in their name)
REQUESTED = (
    "If this address belongs to a patient of this clinic, a new sign-in link is on its way "
    "by e-mail. If nothing arrives, ask your therapist."
)


async def request_link(ctx: Ctx) -> web.Response:
    """A patient on a new device (or whose link was used or expired) asks for a fresh
    link by e-mail. The answer is the same whoever asks, for known and unknown addresses
    alike (no way to learn who is a patient); at most three links an hour per patient
    (their invitation included), and nothing without SMTP (the therapist then sends one)."""
    body = await ctx.body(LinkRequestIn)
    patient = (
        await ctx.db.execute(
            select(User).where(func.lower(User.email) == body.email.strip().lower(), User.role == "patient")
        )
    ).scalar_one_or_none()
    if patient is not None and patient.deactivated_at is None and ctx.services.mailer.configured:
        recent = await ctx.db.scalar(
            select(func.count())
            .select_from(AuthToken)
            .where(
                AuthToken.user_id == patient.id,
                AuthToken.kind == "magic",
                AuthToken.created_at > utcnow() - timedelta(hours=1),
            )
        )
        if (recent or 0) < LINKS_PER_HOUR:
            await send_magic_link(ctx, patient, asked_by_patient=True)
            ctx.audit("create", "magic_link_requested", patient.id)
    return json_response({"requested": True, "message": REQUESTED})


async def invite_patient(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    ctx.audit("update", "invite", patient.id)
    return json_response(await send_magic_link(ctx, patient))


async def list_patients(ctx: Ctx) -> web.Response:
    """The therapist's patients, each with when they were last graded (the therapist's
    own Sunnybrook or House–Brackmann) and whether a re-assessment is due: in care (an
    intake recorded) and not graded for ``REASSESS_EVERY`` (or never)."""
    rows = list(
        (
            await ctx.db.execute(
                select(User)
                .where(User.role == "patient", User.therapist_id == ctx.actor.id)
                .order_by(User.id)
            )
        ).scalars()
    )
    ids = [u.id for u in rows]
    graded = dict(
        (
            await ctx.db.execute(
                select(Assessment.patient_id, func.max(Assessment.assessed_at))
                .where(Assessment.patient_id.in_(ids), Assessment.source == "therapist")
                .group_by(Assessment.patient_id)
            )
        ).all()
    )
    in_care = set(
        (await ctx.db.execute(select(Intake.patient_id).where(Intake.patient_id.in_(ids)))).scalars()
    )
    now = utcnow()
    patients = []
    for u in rows:
        last = graded.get(u.id)
        due = u.id in in_care and (last is None or now - last >= REASSESS_EVERY)
        patients.append({**user_json(u), "last_graded_at": last, "reassessment_due": due})
    ctx.audit("read", "patient_list", None)
    return json_response(patients)


async def get_patient(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    ctx.audit("read", "patient", patient.id, patient.id)
    return json_response(user_json(patient))


EXPORT_FIELDS_LEFT_OUT = {"password_hash", "totp_secret", "totp_last_step"}


def _row(row: Any) -> dict[str, Any]:
    """Every column of a record, as stored (secrets left out)."""
    mapper = sa_inspect(row).mapper
    return {c.key: getattr(row, c.key) for c in mapper.column_attrs if c.key not in EXPORT_FIELDS_LEFT_OUT}


async def _export_json(ctx: Ctx, patient: User) -> bytes:
    out: dict[str, Any] = {"patient": _row(patient), "exported_at": utcnow()}
    for table in ERASE_ORDER:
        query = select(table).where(table.patient_id == patient.id).order_by(table.id)
        out[str(table.__tablename__)] = [_row(r) for r in (await ctx.db.execute(query)).scalars()]
    return msgspec.json.encode(out)


async def export_patient(ctx: Ctx) -> web.Response:
    """Everything the clinic holds about a patient, as JSON (the right of access and to
    portability): for the patient themself or their therapist; audited."""
    patient = await ctx.patient(ctx.id_param("pid"))
    body = await _export_json(ctx, patient)
    ctx.audit("export", "patient", patient.id, patient.id)
    return web.Response(
        body=body,
        content_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="telerehab-patient-{patient.id}.json"'},
    )


async def export_archive(ctx: Ctx) -> web.Response:
    """The export as one zip file: the JSON beside the progress report (PDF), what a
    patient asking for their records, or moving to another clinic, takes away."""
    patient = await ctx.patient(ctx.id_param("pid"))
    data = await _export_json(ctx, patient)
    pdf, pdf_name = await report_pdf(ctx, patient)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"telerehab-patient-{patient.id}.json", data)
        archive.writestr(pdf_name, pdf)
    ctx.audit("export", "patient", patient.id, patient.id)
    return web.Response(
        body=buffer.getvalue(),
        content_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="telerehab-patient-{patient.id}.zip"'},
    )


async def delete_patient(ctx: Ctx) -> web.Response:
    """Erase a patient and every record about them (intake, gradings, programmes,
    check-offs, sessions, questionnaires, flags, reminders, sign-ins), children first.
    The audit log keeps its id-only entries, this erasure among them."""
    patient = await ctx.patient(ctx.id_param("pid"))
    # Their live rooms first: a join link must not outlive the patient. If the gateway
    # cannot be reached the erasure stops here (502) and can be tried again.
    await close_rooms_of(ctx, patient.id)
    for table in ERASE_ORDER:
        await ctx.db.execute(sa_delete(table).where(table.patient_id == patient.id))
    await ctx.db.execute(sa_delete(AuthToken).where(AuthToken.user_id == patient.id))
    await ctx.db.execute(sa_delete(User).where(User.id == patient.id))
    ctx.audit("delete", "patient", patient.id, patient.id)
    log.info("therapist %d erased patient %d", ctx.actor.id, patient.id)
    return json_response({"deleted": True})


ROUTES = [
    Route(
        "POST",
        "/api/therapists",
        create_therapist,
        "Create a therapist account",
        ("admin",),
        "people",
        body=TherapistIn,
        created=True,
    ),
    Route("GET", "/api/therapists", list_therapists, "List therapists", ("admin",), "people"),
    Route(
        "POST",
        "/api/therapists/{tid}/deactivate",
        deactivate_therapist,
        "Switch a therapist's account off (their sign-ins end)",
        ("admin",),
        "people",
    ),
    Route(
        "POST",
        "/api/therapists/{tid}/reactivate",
        reactivate_therapist,
        "Switch a therapist's account on again",
        ("admin",),
        "people",
    ),
    Route(
        "POST",
        "/api/patients",
        create_patient,
        "Invite a new patient (magic link)",
        THERAPIST,
        "people",
        body=PatientIn,
        created=True,
    ),
    Route("GET", "/api/patients", list_patients, "List my patients", THERAPIST, "people"),
    Route(
        "POST",
        "/api/auth/magic/request",
        request_link,
        "A patient asks for a fresh sign-in link by e-mail (the same answer for any address)",
        None,
        "auth",
        body=LinkRequestIn,
    ),
    Route(
        "GET", "/api/patients/{pid}", get_patient, "A patient's details", ("therapist", "patient"), "people"
    ),
    Route(
        "GET",
        "/api/patients/{pid}/export",
        export_patient,
        "Everything held about a patient, as one JSON file",
        ("therapist", "patient"),
        "people",
    ),
    Route(
        "GET",
        "/api/patients/{pid}/export.zip",
        export_archive,
        "The JSON export and the progress report (PDF), in one zip file",
        ("therapist", "patient"),
        "people",
        produces="application/zip",
    ),
    Route(
        "DELETE",
        "/api/patients/{pid}",
        delete_patient,
        "Erase a patient and all their records",
        THERAPIST,
        "people",
    ),
    Route(
        "POST",
        "/api/patients/{pid}/invite",
        invite_patient,
        "Send a patient a new magic link",
        THERAPIST,
        "people",
    ),
]
