"""Intake: how the palsy began and what it does to the patient's day."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web
from sqlalchemy import select

from services.clinic.context import CLINICAL, THERAPIST, Ctx, Route, json_response
from services.clinic.db import utcnow
from services.clinic.errors import BadRequest, NotFound
from services.clinic.models import Intake, PatientIntake
from services.clinic.referrals import evaluate_for

Diagnosis = Literal[
    "bells_palsy", "ramsay_hunt", "post_surgical", "trauma", "hemifacial_spasm", "synkinesis", "other"
]
Course = Literal["improving", "stable", "worsening", "fluctuating", "unknown"]
EyeSymptom = Literal[
    "dryness", "grittiness", "pain", "redness", "blurred_vision", "watering", "light_sensitivity"
]
# Symptoms that the palsy alone does not explain (the "new symptoms" referral rule).
NewSymptom = Literal[
    "hearing_loss",
    "vertigo",
    "other_cranial_nerve",
    "other_side",
    "recurrence",
    "facial_pain",
    "limb_weakness",
    "other",
]
Text = Annotated[str, msgspec.Meta(max_length=2000)]
Short = Annotated[str, msgspec.Meta(max_length=200)]


class Treatments(msgspec.Struct, forbid_unknown_fields=True):
    corticosteroids: bool = False
    antivirals: bool = False
    surgery: bool = False
    notes: Text = ""


class Problems(msgspec.Struct, forbid_unknown_fields=True):
    """Everyday problems: closing the eye, eating and drinking, speaking."""

    eye_closure: bool = False
    eating_drinking: bool = False
    speaking: bool = False
    other: Text = ""


class EyeCare(msgspec.Struct, forbid_unknown_fields=True):
    drops: bool = False
    ointment: bool = False
    taping: bool = False


class IntakeIn(msgspec.Struct, forbid_unknown_fields=True):
    onset_date: date
    diagnosis: Diagnosis
    diagnosis_other: Short = ""
    affected_side: Literal["left", "right", "both"] | None = None
    course: Course = "unknown"
    treatments: Treatments = msgspec.field(default_factory=Treatments)
    problems: Problems = msgspec.field(default_factory=Problems)
    eye_care: EyeCare = msgspec.field(default_factory=EyeCare)
    eye_symptoms: Annotated[list[EyeSymptom], msgspec.Meta(max_length=10)] = msgspec.field(
        default_factory=list
    )
    new_symptoms: Annotated[list[NewSymptom], msgspec.Meta(max_length=10)] = msgspec.field(
        default_factory=list
    )
    imaging: Text = ""
    goals: Annotated[list[Short], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)


class PatientIntakeIn(msgspec.Struct, forbid_unknown_fields=True):
    """The patient's own answers before the visit: what they can say themselves (the
    diagnosis as they were told it, or not sure)."""

    onset_date: date
    course: Course = "unknown"
    diagnosis: Diagnosis | Literal["not_sure"] = "not_sure"
    treatments: Treatments = msgspec.field(default_factory=Treatments)
    problems: Problems = msgspec.field(default_factory=Problems)
    eye_care: EyeCare = msgspec.field(default_factory=EyeCare)
    eye_symptoms: Annotated[list[EyeSymptom], msgspec.Meta(max_length=10)] = msgspec.field(
        default_factory=list
    )
    imaging: Text = ""
    goals: Annotated[list[Short], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)


def intake_json(row: Intake) -> dict[str, Any]:
    return {
        **row.data,
        "patient_id": row.patient_id,
        "updated_at": row.updated_at,
        "updated_by": row.updated_by,
    }


async def load_intake(ctx: Ctx, patient_id: int) -> Intake | None:
    return (await ctx.db.execute(select(Intake).where(Intake.patient_id == patient_id))).scalar_one_or_none()


async def get_intake(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    row = await load_intake(ctx, patient.id)
    ctx.audit("read", "intake", patient.id, row.id if row else None)
    if row is None:
        raise NotFound("No intake has been recorded for this patient yet.")
    return json_response(intake_json(row))


async def put_intake(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    body = await ctx.body(IntakeIn)
    if body.onset_date > utcnow().date():
        raise BadRequest("The onset date is in the future.")
    if body.diagnosis == "other" and not body.diagnosis_other.strip():
        raise BadRequest("Say what the diagnosis is in 'diagnosis_other'.")
    data = msgspec.to_builtins(body)
    row = await load_intake(ctx, patient.id)
    if row is None:
        row = Intake(
            patient_id=patient.id,
            onset_date=body.onset_date,
            diagnosis=body.diagnosis,
            data=data,
            updated_by=ctx.actor.id,
        )
        ctx.db.add(row)
        action = "create"
    else:
        row.onset_date, row.diagnosis, row.data = body.onset_date, body.diagnosis, data
        row.updated_at, row.updated_by = utcnow(), ctx.actor.id
        action = "update"
    await ctx.db.flush()
    ctx.audit(action, "intake", patient.id, row.id)
    answers = await _patient_answers(ctx, patient.id)
    if answers is not None and answers.reviewed_at is None:
        answers.reviewed_at = utcnow()  # the therapist has taken them into the intake
    await evaluate_for(ctx, patient.id)  # an eye that does not close, new symptoms: flagged now
    return json_response(intake_json(row))


async def _patient_answers(ctx: Ctx, patient_id: int) -> PatientIntake | None:
    query = select(PatientIntake).where(PatientIntake.patient_id == patient_id)
    return (await ctx.db.execute(query)).scalar_one_or_none()


async def answers_state(ctx: Ctx, patient_id: int) -> dict[str, Any]:
    """The patient's own answers (or null), when sent and reviewed, and whether the
    therapist has recorded the intake: what the plan needs to ask, or to thank."""
    row = await _patient_answers(ctx, patient_id)
    return {
        "answers": row.data if row else None,
        "submitted_at": row.submitted_at if row else None,
        "reviewed_at": row.reviewed_at if row else None,
        "intake_recorded": await load_intake(ctx, patient_id) is not None,
    }


async def get_answers(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    ctx.audit("read", "patient_intake", patient.id)
    return json_response(await answers_state(ctx, patient.id))


async def put_answers(ctx: Ctx) -> web.Response:
    """The patient answers (or corrects) the questions before the visit; their therapist
    then reviews them into the intake (a new answer after the review asks for another)."""
    patient = await ctx.patient(ctx.id_param("pid"))
    body = await ctx.body(PatientIntakeIn)
    if body.onset_date > utcnow().date():
        raise BadRequest("The date it started is in the future.")
    row = await _patient_answers(ctx, patient.id)
    data = msgspec.to_builtins(body)
    if row is None:
        row = PatientIntake(patient_id=patient.id, data=data, submitted_at=utcnow())
        ctx.db.add(row)
    else:
        row.data, row.submitted_at, row.reviewed_at = data, utcnow(), None
    await ctx.db.flush()
    ctx.audit("update", "patient_intake", patient.id, row.id)
    return json_response(await answers_state(ctx, patient.id))


ROUTES = [
    Route("GET", "/api/patients/{pid}/intake", get_intake, "The patient's intake", CLINICAL, "intake"),
    Route(
        "GET",
        "/api/patients/{pid}/intake/answers",
        get_answers,
        "The patient's own answers before the visit",
        CLINICAL,
        "intake",
    ),
    Route(
        "PUT",
        "/api/patients/{pid}/intake/answers",
        put_answers,
        "The patient answers the questions before the visit (their therapist reviews them)",
        ("patient",),
        "intake",
        body=PatientIntakeIn,
    ),
    Route(
        "PUT",
        "/api/patients/{pid}/intake",
        put_intake,
        "Record or replace the intake",
        THERAPIST,
        "intake",
        body=IntakeIn,
    ),
]
