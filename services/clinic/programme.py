"""The home programme: exercises from the engine's catalogue with their dose, self-care
the therapist teaches (massage, stretches, the eye-care routine) that the patient ticks
off, education and eye-protection guidance. Every change is a new version; "today" is
one call."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import msgspec
from aiohttp import web
from sqlalchemy import func, select

from services.clinic.context import CLINICAL, THERAPIST, Ctx, Route, json_response
from services.clinic.db import utcnow
from services.clinic.errors import BadRequest, NotFound
from services.clinic.models import CheckOff, ClinicSession, Programme, User
from shared.exercises import CatalogueError, get_exercise, load_catalogue

Key = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,64}$")]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Text = Annotated[str, msgspec.Meta(max_length=4000)]
Clock = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
# Reminder times when the programme names none, by the most times a day any item asks for.
DEFAULT_TIMES = ("09:00", "13:00", "18:00", "21:00", "11:00", "15:00")
UPCOMING_SPAN = timedelta(days=60)  # how far ahead the plan lists booked calls


class ExerciseItem(msgspec.Struct, forbid_unknown_fields=True):
    """An exercise from ``shared/exercises.toml``; reps/sets/hold default to the catalogue's."""

    name: Annotated[str, msgspec.Meta(max_length=64)]
    reps: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None
    sets: Annotated[int, msgspec.Meta(ge=1, le=20)] | None = None
    hold_s: Annotated[float, msgspec.Meta(ge=0, le=120)] | None = None
    times_per_day: Annotated[int, msgspec.Meta(ge=1, le=6)] = 1
    days_per_week: Annotated[int, msgspec.Meta(ge=1, le=7)] = 7


class SelfCareItem(msgspec.Struct, forbid_unknown_fields=True):
    """Untracked by the camera; the patient ticks it off. ``when``: ``day`` (e.g. eye
    drops), ``night`` (ointment and taping) or ``any``."""

    key: Key
    kind: Literal["massage", "stretch", "eye_care", "other"]
    title: Title
    instructions: Text = ""
    duration_min: Annotated[float, msgspec.Meta(gt=0, le=120)] | None = None
    when: Literal["day", "night", "any"] = "any"
    times_per_day: Annotated[int, msgspec.Meta(ge=1, le=12)] = 1


class EducationItem(msgspec.Struct, forbid_unknown_fields=True):
    key: Key
    title: Title
    text: Text


class ProgrammeIn(msgspec.Struct, forbid_unknown_fields=True):
    exercises: Annotated[list[ExerciseItem], msgspec.Meta(max_length=30)] = msgspec.field(
        default_factory=list
    )
    self_care: Annotated[list[SelfCareItem], msgspec.Meta(max_length=30)] = msgspec.field(
        default_factory=list
    )
    education: Annotated[list[EducationItem], msgspec.Meta(max_length=30)] = msgspec.field(
        default_factory=list
    )
    eye_protection: Annotated[list[Text], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)
    reminder_times: Annotated[list[Clock], msgspec.Meta(max_length=12)] = msgspec.field(default_factory=list)
    note: Text = ""


class CheckOffIn(msgspec.Struct, forbid_unknown_fields=True):
    item: Key
    day: date | None = None


# Templates a therapist can start from (returned with the catalogue).
TEMPLATES: dict[str, Any] = {
    "self_care": [
        {
            "key": "self_massage",
            "kind": "massage",
            "title": "Facial self-massage",
            "duration_min": 5,
            "when": "any",
            "times_per_day": 2,
            "instructions": (
                "Two fingertips, slow small circles, a little pressure, on the weak side (and the "
                "tight side if your therapist says so): the forehead above the brow, the cheek, "
                "then beside the corner of the mouth, half a minute each. On the cheek, circle "
                "upwards and outwards, towards the ear."
            ),
        },
        {
            "key": "stretches",
            "kind": "stretch",
            "title": "Gentle facial stretches",
            "duration_min": 3,
            "when": "any",
            "times_per_day": 2,
            "instructions": (
                "Hold each stretch for 20 seconds, gently, never to pain: 1. the cheek outwards "
                "towards the ear with the flat of two fingers; 2. the upper lip down over the "
                "teeth with a fingertip above it; 3. the skin beside the eye up and out. Breathe "
                "out slowly while you hold."
            ),
        },
        {
            "key": "eye_drops",
            "kind": "eye_care",
            "title": "Lubricating eye drops",
            "when": "day",
            "times_per_day": 4,
            "instructions": "One drop in the affected eye.",
        },
        {
            "key": "eye_ointment",
            "kind": "eye_care",
            "title": "Eye ointment at night",
            "when": "night",
            "times_per_day": 1,
            "instructions": "A thin line along the lower lid before sleep.",
        },
        {
            "key": "eye_taping",
            "kind": "eye_care",
            "title": "Tape the eye closed at night",
            "when": "night",
            "times_per_day": 1,
            "instructions": "Close the eye gently and tape across the upper lid.",
        },
    ],
    "education": [
        {
            "key": "facial_function",
            "title": "How your face moves",
            "text": (
                "Each side of your face has its own facial nerve. It leaves the brain, runs through "
                "a narrow channel in the skull just behind the ear, and then fans out into branches "
                "for the forehead, the eye, the cheek, the mouth and the neck. Those branches drive "
                "the muscles that raise your brows, close your eye, smile, pucker and keep your "
                "cheek firm when you chew.\n\n"
                "When the nerve is inflamed or injured, the muscles on that side get weak or stop "
                "moving. The muscles themselves are not damaged: they are waiting for the nerve "
                "signal to come back. Your exercises keep them supple, and teach your brain to "
                "control each side again as the signal returns."
            ),
        },
        {
            "key": "recovery_stages",
            "title": "The stages of nerve recovery",
            "text": (
                "Early weeks: the face may not move at all on the weak side. This is the time for "
                "eye protection, gentle massage and a few easy movements in front of a mirror. "
                "Strong or effortful exercises do not speed up recovery and can make things worse "
                "later.\n\n"
                "Return of movement: most people with Bell's palsy notice the first flickers of "
                "movement within three weeks to three months; after more severe damage it can take "
                "longer. Movement usually comes back before control: small, slow and even movements "
                "matter more than big ones now.\n\n"
                "Later months: control improves over many months. Some people develop tightness or "
                "linked movements (see 'Synkinesis'). Your therapist follows your progress and "
                "changes the programme as you improve. If nothing at all has changed after a few "
                "months, your therapist may suggest seeing a specialist."
            ),
        },
        {
            "key": "synkinesis",
            "title": "Synkinesis: when parts of the face move together",
            "text": (
                "As the nerve regrows, some fibres can find the wrong muscles. Then, for example, "
                "your eye narrows when you smile, or your mouth pulls when you close your eye. This "
                "is called synkinesis. It is common and it can be trained.\n\n"
                "What helps: slow, small movements watching yourself in the mirror (or the bars on "
                "this screen), stopping before the unwanted movement starts; relaxing the tight "
                "side with massage and stretches; and not forcing big movements. The app measures "
                "how much the other part moves during each exercise, and tells you 'Keep your eye "
                "soft' when it does."
            ),
        },
        {
            "key": "eye_protection_why",
            "title": "Why your eye needs protecting",
            "text": (
                "If your eye does not close fully or blink well, its surface dries and can be "
                "scratched without you feeling it. Drops during the day, ointment at night and "
                "taping or a shield while you sleep keep it moist. Glasses or wrap-around sunglasses "
                "keep wind and dust out.\n\n"
                "See a doctor the same day if the eye becomes red or painful, your sight changes, or "
                "it feels as if something is in it that will not go away."
            ),
        },
        {
            "key": "hemifacial_spasm",
            "title": "Hemifacial spasm",
            "text": (
                "Hemifacial spasm is twitching of one side of the face that you do not control. It "
                "often starts around the eye and can spread to the cheek and mouth. It is usually "
                "caused by a blood vessel pressing on the facial nerve, and it is not the same as "
                "the twitches some people have while recovering from a palsy.\n\n"
                "Tiredness, stress and caffeine can make it worse. Exercises do not stop it, but "
                "relaxation can ease it. Treatments are given by specialists (injections into the "
                "muscle, or sometimes surgery). Your therapist can count the twitches while you "
                "rest during a video call, so changes over time are measured."
            ),
        },
        {
            "key": "practising_well",
            "title": "Practising well",
            "text": (
                "Practise little and often: two or three short sessions a day are better than one "
                "long one. Sit in good light facing the camera. Move slowly and stop at the point "
                "where both sides can still move evenly; let the strong side do less. Rest between "
                "repetitions. Stop if anything hurts and tell your therapist."
            ),
        },
    ],
    "eye_protection": [
        "Wear glasses or sunglasses outdoors and in wind.",
        "If the eye becomes red, painful or your sight changes, contact your doctor the same day.",
    ],
}


def resolve(body: ProgrammeIn) -> dict[str, Any]:
    """Validate names and keys; fill each exercise's dose from the catalogue."""
    exercises = []
    seen: set[str] = set()
    for item in body.exercises:
        try:
            spec = get_exercise(item.name)
        except CatalogueError as exc:
            raise BadRequest(str(exc), code="unknown_exercise") from None
        if item.name in seen:
            raise BadRequest(f"Exercise {item.name!r} is listed twice.")
        seen.add(item.name)
        exercises.append(
            {
                "name": spec.name,
                "title": spec.title,
                "instructions": spec.instructions,
                "reps": item.reps or spec.reps,
                "sets": item.sets or spec.sets,
                "hold_s": spec.hold_s if item.hold_s is None else item.hold_s,
                "times_per_day": item.times_per_day,
                "days_per_week": item.days_per_week,
            }
        )
    keys = [s.key for s in body.self_care]
    if len(set(keys)) != len(keys):
        raise BadRequest("Each self-care item needs its own key.")
    data: dict[str, Any] = msgspec.to_builtins(body)
    data["exercises"] = exercises
    return data


def reminder_times(data: dict[str, Any]) -> list[str]:
    """The programme's own times, else one per session of the busiest item (09:00, 13:00…)."""
    if data.get("reminder_times"):
        return sorted(set(data["reminder_times"]))
    most = max([e["times_per_day"] for e in data.get("exercises", [])] or [0])
    return sorted(DEFAULT_TIMES[: min(most, len(DEFAULT_TIMES))])


def programme_json(row: Programme) -> dict[str, Any]:
    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "version": row.version,
        "created_at": row.created_at,
        "created_by": row.created_by,
        **row.data,
        "reminder_times": reminder_times(row.data),
    }


async def current_programme(ctx: Ctx, patient_id: int) -> Programme | None:
    return (
        await ctx.db.execute(
            select(Programme)
            .where(Programme.patient_id == patient_id)
            .order_by(Programme.version.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def get_programme(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    row = await current_programme(ctx, patient.id)
    ctx.audit("read", "programme", patient.id, row.id if row else None)
    if row is None:
        raise NotFound("No programme has been set for this patient yet.")
    return json_response(programme_json(row))


async def list_versions(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    rows = (
        await ctx.db.execute(
            select(Programme).where(Programme.patient_id == patient.id).order_by(Programme.version)
        )
    ).scalars()
    ctx.audit("read", "programme", patient.id)
    return json_response([programme_json(r) for r in rows])


async def put_programme(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    data = resolve(await ctx.body(ProgrammeIn))
    latest = await ctx.db.scalar(
        select(func.max(Programme.version)).where(Programme.patient_id == patient.id)
    )
    row = Programme(patient_id=patient.id, version=(latest or 0) + 1, created_by=ctx.actor.id, data=data)
    ctx.db.add(row)
    await ctx.db.flush()
    ctx.audit("create", "programme", patient.id, row.id)
    return json_response(programme_json(row), status=201)


def local_today(patient: User, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(patient.timezone)).date()


def local_bounds(patient: User, day: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(patient.timezone)
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    return start, start + timedelta(days=1)


def exercises_done(sessions: list[ClinicSession], patient: User) -> dict[str, set[date]]:
    """Exercise name → the patient's local days with at least one counted rep."""
    tz = ZoneInfo(patient.timezone)
    out: dict[str, set[date]] = {}
    for s in sessions:
        if not s.summary:
            continue
        day = (s.ended_at or s.scheduled_at).astimezone(tz).date()
        for ex in s.summary.get("exercises", []):
            if ex.get("reps", 0) > 0:
                out.setdefault(ex["name"], set()).add(day)
    return out


async def plan_for(ctx: Ctx, patient: User, day: date) -> dict[str, Any]:
    """Today's plan. An exercise is due on a day while the week (Monday to Sunday) still
    has fewer practice days than its ``days_per_week``; ``done_today`` counts the day's
    home sessions in which it was practised with at least one counted rep (the dose the
    patient does on their own), ``done_live_today`` the supervised calls, apart. Only
    calls still to come or under way are listed: an ended or cancelled one is no longer
    joinable. ``upcoming_calls``: the booked calls after today (the next 60 days)."""
    row = await current_programme(ctx, patient.id)
    start, end = local_bounds(patient, day)
    week_start, _ = local_bounds(patient, day - timedelta(days=day.weekday()))
    sessions = list(
        (
            await ctx.db.execute(
                select(ClinicSession).where(
                    ClinicSession.patient_id == patient.id,
                    ClinicSession.scheduled_at >= week_start - timedelta(days=1),
                    ClinicSession.scheduled_at < end + timedelta(days=1),
                )
            )
        ).scalars()
    )
    tz = ZoneInfo(patient.timezone)
    todays = [s for s in sessions if start <= (s.ended_at or s.scheduled_at) < end]
    counts_today: dict[str, int] = {}
    live_today: dict[str, int] = {}
    for s in todays:
        counted = counts_today if s.kind == "home" else live_today
        for ex in (s.summary or {}).get("exercises", []):
            if ex.get("reps", 0) > 0:
                counted[ex["name"]] = counted.get(ex["name"], 0) + 1
    week_days = {
        name: {d for d in days if week_start.date() <= d <= day}
        for name, days in exercises_done(sessions, patient).items()
    }
    checks: dict[str, int] = {}
    if row is not None:
        for item, n in (
            await ctx.db.execute(
                select(CheckOff.item, func.count())
                .where(CheckOff.patient_id == patient.id, CheckOff.day == day)
                .group_by(CheckOff.item)
            )
        ).all():
            checks[item] = n
    data = row.data if row else {}
    exercises = []
    for ex in data.get("exercises", []):
        done_week = len(week_days.get(ex["name"], set()) - {day})
        done_today = counts_today.get(ex["name"], 0)
        exercises.append(
            {
                **ex,
                "done_today": done_today,
                "done_live_today": live_today.get(ex["name"], 0),
                "days_done_this_week": done_week + (1 if done_today else 0),
                "due_today": done_week < ex["days_per_week"],
                "complete": done_today >= ex["times_per_day"],
            }
        )
    self_care = [
        {
            **item,
            "checked_today": checks.get(item["key"], 0),
            "complete": checks.get(item["key"], 0) >= item["times_per_day"],
        }
        for item in data.get("self_care", [])
    ]
    live = [
        {"id": s.id, "kind": s.kind, "scheduled_at": s.scheduled_at, "status": s.status}
        for s in todays
        if s.kind == "live" and s.status == "scheduled"
    ]
    later = (
        await ctx.db.execute(
            select(ClinicSession)
            .where(
                ClinicSession.patient_id == patient.id,
                ClinicSession.kind == "live",
                ClinicSession.status == "scheduled",
                ClinicSession.scheduled_at >= end,
                ClinicSession.scheduled_at < end + UPCOMING_SPAN,
            )
            .order_by(ClinicSession.scheduled_at)
        )
    ).scalars()
    upcoming = [{"id": s.id, "scheduled_at": s.scheduled_at} for s in later]
    return {
        "patient_id": patient.id,
        "date": day,
        "timezone": str(tz),
        "programme_version": row.version if row else None,
        "exercises": exercises,
        "self_care": self_care,
        "education": data.get("education", []),
        "eye_protection": data.get("eye_protection", []),
        "reminder_times": reminder_times(data) if row else [],
        "live_sessions": live,
        "upcoming_calls": upcoming,
    }


async def today(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    day = ctx.date_query("date") or local_today(patient)
    ctx.audit("read", "plan", patient.id)
    return json_response(await plan_for(ctx, patient, day))


async def check_off(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    body = await ctx.body(CheckOffIn)
    row = await current_programme(ctx, patient.id)
    if row is None:
        raise NotFound("No programme has been set for this patient yet.")
    if body.item not in {s["key"] for s in row.data.get("self_care", [])}:
        raise BadRequest(
            f"{body.item!r} is not a self-care item of the current programme.", code="unknown_item"
        )
    local = local_today(patient)
    day = body.day or local
    if not local - timedelta(days=7) <= day <= local:
        raise BadRequest("Tick off items for today or the past week only.")
    check = CheckOff(patient_id=patient.id, programme_id=row.id, item=body.item, day=day)
    ctx.db.add(check)
    await ctx.db.flush()
    ctx.audit("create", "checkoff", patient.id, check.id)
    return json_response({"id": check.id, "item": check.item, "day": check.day}, status=201)


async def catalogue(ctx: Ctx) -> web.Response:
    exercises = [
        {
            "name": s.name,
            "title": s.title,
            "instructions": s.instructions,
            "region": s.region,
            "reps": s.reps,
            "sets": s.sets,
            "hold_s": s.hold_s,
        }
        for s in load_catalogue().values()
    ]
    return json_response({"exercises": exercises, **TEMPLATES})


ROUTES = [
    Route(
        "GET",
        "/api/catalogue",
        catalogue,
        "Exercises from the engine's catalogue, self-care templates",
        ("therapist", "patient", "admin"),
        "programme",
    ),
    Route(
        "GET",
        "/api/patients/{pid}/programme",
        get_programme,
        "The current home programme",
        CLINICAL,
        "programme",
    ),
    Route(
        "PUT",
        "/api/patients/{pid}/programme",
        put_programme,
        "Set the programme (a new version)",
        THERAPIST,
        "programme",
        body=ProgrammeIn,
        created=True,
    ),
    Route(
        "GET",
        "/api/patients/{pid}/programme/versions",
        list_versions,
        "Every version of the programme",
        CLINICAL,
        "programme",
    ),
    Route(
        "GET",
        "/api/patients/{pid}/today",
        today,
        "Today's plan: exercises, self-care, reminders",
        CLINICAL,
        "programme",
        query=("date",),
    ),
    Route(
        "POST",
        "/api/patients/{pid}/checkoffs",
        check_off,
        "Tick off a self-care item",
        ("patient",),
        "programme",
        body=CheckOffIn,
        created=True,
    ),
]
