"""Assessments: the therapist's Sunnybrook (with sub-scores) and House–Brackmann are the
record; the analyzer's Sunnybrook-style estimates are stored beside them (``source =
"estimate"``), labelled, never in their place."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from aiohttp import web
from sqlalchemy import select

from services.clinic.context import CLINICAL, EARLIEST_DATE, THERAPIST, Ctx, Route, json_response
from services.clinic.db import utcnow
from services.clinic.errors import BadRequest
from services.clinic.models import Assessment
from services.clinic.referrals import evaluate_for
from shared.messages import SunnybrookEstimate
from shared.sunnybrook import composite


class SunnybrookIn(msgspec.Struct, forbid_unknown_fields=True):
    resting: dict[str, int]
    voluntary: dict[str, int]
    synkinesis: dict[str, int]


class AssessmentIn(msgspec.Struct, forbid_unknown_fields=True):
    sunnybrook: SunnybrookIn | None = None
    house_brackmann: Annotated[int, msgspec.Meta(ge=1, le=6)] | None = None
    assessed_at: datetime | None = None
    notes: Annotated[str, msgspec.Meta(max_length=4000)] = ""


def sunnybrook_scores(
    resting: dict[str, int], voluntary: dict[str, int], synkinesis: dict[str, int]
) -> dict[str, int]:
    """The sub-scores and composite of a grading (``shared.sunnybrook``, the one place
    the scale's arithmetic lives); ValueError on a missing or out-of-range grade."""
    scored = composite(resting, voluntary, synkinesis, estimate=False)
    return {
        "resting_score": scored.resting_score,
        "voluntary_score": scored.voluntary_score,
        "synkinesis_score": scored.synkinesis_score,
        "composite": scored.composite,
    }


def assessment_json(row: Assessment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "patient_id": row.patient_id,
        "source": row.source,
        "estimate": row.source == "estimate",
        "session_id": row.session_id,
        "assessed_at": row.assessed_at,
        "entered_by": row.entered_by,
        "house_brackmann": row.house_brackmann,
        "notes": row.notes,
        "sunnybrook": None,
    }
    if row.resting is not None and row.voluntary is not None and row.synkinesis is not None:
        out["sunnybrook"] = {
            "resting": row.resting,
            "voluntary": row.voluntary,
            "synkinesis": row.synkinesis,
            **sunnybrook_parts(row),
            "composite": row.composite,
        }
    return out


def sunnybrook_parts(row: Assessment) -> dict[str, int]:
    scores = sunnybrook_scores(row.resting or {}, row.voluntary or {}, row.synkinesis or {})
    return {key: value for key, value in scores.items() if key != "composite"}


def estimate_row(patient_id: int, session_id: int, estimate: SunnybrookEstimate, at: datetime) -> Assessment:
    """The analyzer's estimate from a session summary, as an ``estimate`` assessment."""
    return Assessment(
        patient_id=patient_id,
        source="estimate",
        session_id=session_id,
        assessed_at=at,
        entered_by=None,
        resting=dict(estimate.resting),
        voluntary=dict(estimate.voluntary),
        synkinesis=dict(estimate.synkinesis),
        composite=estimate.composite,
        house_brackmann=None,
        notes="",
    )


async def list_assessments(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    rows = (
        await ctx.db.execute(
            select(Assessment)
            .where(Assessment.patient_id == patient.id)
            .order_by(Assessment.assessed_at, Assessment.id)
        )
    ).scalars()
    ctx.audit("read", "assessment", patient.id)
    return json_response([assessment_json(r) for r in rows])


async def add_assessment(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    body = await ctx.body(AssessmentIn)
    if body.sunnybrook is None and body.house_brackmann is None:
        raise BadRequest("Give a Sunnybrook grading, a House–Brackmann grade, or both.")
    at = body.assessed_at or utcnow()
    if at.tzinfo is None:
        raise BadRequest("'assessed_at' needs a time zone (e.g. 2026-01-31T10:00:00Z).")
    if at > utcnow():
        raise BadRequest("'assessed_at' is in the future.")
    if at.date() < EARLIEST_DATE:
        raise BadRequest(f"'assessed_at' is before {EARLIEST_DATE}.")
    row = Assessment(
        patient_id=patient.id,
        source="therapist",
        session_id=None,
        assessed_at=at,
        entered_by=ctx.actor.id,
        house_brackmann=body.house_brackmann,
        notes=body.notes,
    )
    if body.sunnybrook is not None:
        sb = body.sunnybrook
        try:
            scores = sunnybrook_scores(sb.resting, sb.voluntary, sb.synkinesis)
        except ValueError as exc:
            raise BadRequest(f"Sunnybrook: {exc}.") from None
        row.resting, row.voluntary, row.synkinesis = sb.resting, sb.voluntary, sb.synkinesis
        row.composite = scores["composite"]
    ctx.db.add(row)
    await ctx.db.flush()
    ctx.audit("create", "assessment", patient.id, row.id)
    await evaluate_for(ctx, patient.id)
    return json_response(assessment_json(row), status=201)


ROUTES = [
    Route(
        "GET",
        "/api/patients/{pid}/assessments",
        list_assessments,
        "Sunnybrook/House–Brackmann gradings, therapist's and estimates",
        CLINICAL,
        "assessment",
    ),
    Route(
        "POST",
        "/api/patients/{pid}/assessments",
        add_assessment,
        "Record a therapist's grading",
        THERAPIST,
        "assessment",
        body=AssessmentIn,
        created=True,
    ),
]
