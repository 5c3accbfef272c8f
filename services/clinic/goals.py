"""Goals agreed with the patient, tied to the measures the clinic keeps.

A goal is the patient's own words ("a symmetric smile") and, where it can be, a measure
with a target: mouth symmetry at least 0.8, a Sunnybrook composite of at least 70, a
synkinesis index of at most 0.15, a FaCE total of at least 60... Every read answers
with the measure's latest value from the patient's progress (``services.clinic.progress``)
and whether it meets the target, so the dashboard, the patient's plan and the report
show progress against each goal. The therapist marks a goal achieved or dropped at a
review, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web
from sqlalchemy import select

from services.clinic.context import CLINICAL, THERAPIST, Ctx, Route, json_response
from services.clinic.db import utcnow
from services.clinic.errors import BadRequest, NotFound
from services.clinic.models import Goal
from services.clinic.programme import local_today
from services.clinic.progress import load_history, series

MeasureName = Literal[
    "mouth_symmetry", "eye_symmetry", "brow_symmetry", "sunnybrook", "synkinesis", "face_total", "saq_total"
]


@dataclass(frozen=True)
class Measure:
    label: str
    at_least: bool  # the target is a floor (else a ceiling)
    low: float
    high: float


MEASURES: dict[str, Measure] = {
    "mouth_symmetry": Measure("Mouth symmetry (1 = even)", True, 0.0, 1.0),
    "eye_symmetry": Measure("Eye symmetry (1 = even)", True, 0.0, 1.0),
    "brow_symmetry": Measure("Brow symmetry (1 = even)", True, 0.0, 1.0),
    "sunnybrook": Measure("Sunnybrook composite (therapist)", True, 0.0, 100.0),
    "synkinesis": Measure("Synkinesis index", False, 0.0, 1.0),
    "face_total": Measure("FaCE total", True, 0.0, 100.0),
    "saq_total": Measure("SAQ", False, 20.0, 100.0),
}
GoalText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Note = Annotated[str, msgspec.Meta(max_length=2000)]


class GoalIn(msgspec.Struct, forbid_unknown_fields=True):
    text: GoalText
    measure: MeasureName | None = None
    target: float | None = None


class GoalChange(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["active", "achieved", "dropped"] | None = None
    target: float | None = None
    review_note: Note | None = None


def _check_target(measure: str | None, target: float | None) -> None:
    if measure is None:
        if target is not None:
            raise BadRequest("A target needs a measure to be compared with.", code="target_without_measure")
        return
    m = MEASURES[measure]
    if target is None:
        raise BadRequest(f"Give a target for {m.label}.", code="target_missing")
    if not m.low <= target <= m.high:
        raise BadRequest(
            f"{m.label}: the target must be {m.low:g} to {m.high:g}.", code="target_out_of_range"
        )


def latest_values(progress: dict[str, Any]) -> dict[str, tuple[float, Any]]:
    """Each measure's latest (value, when) in a patient's progress series."""
    candidates = {
        "mouth_symmetry": progress["symmetry"].get("mouth", []),
        "eye_symmetry": progress["symmetry"].get("eye", []),
        "brow_symmetry": progress["symmetry"].get("brow", []),
        "sunnybrook": progress["sunnybrook_therapist"],
        "synkinesis": progress["synkinesis"],
        "face_total": progress["questionnaires"].get("face_total", []),
        "saq_total": progress["questionnaires"].get("saq_total", []),
    }
    out: dict[str, tuple[float, Any]] = {}
    for name, points in candidates.items():
        valued = [p for p in points if p["value"] is not None]
        if valued:
            out[name] = (float(valued[-1]["value"]), valued[-1]["t"])
    return out


def goal_json(goal: Goal, latest: dict[str, tuple[float, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": goal.id,
        "patient_id": goal.patient_id,
        "text": goal.text,
        "measure": goal.measure,
        "target": goal.target,
        "status": goal.status,
        "created_at": goal.created_at,
        "reviewed_at": goal.reviewed_at,
        "review_note": goal.review_note,
        "latest": None,
        "met": None,
    }
    if goal.measure is not None and goal.target is not None:
        m = MEASURES[goal.measure]
        out["measure_label"] = m.label
        out["direction"] = "at_least" if m.at_least else "at_most"
        if goal.measure in latest:
            value, at = latest[goal.measure]
            out["latest"] = {"value": value, "at": at}
            out["met"] = value >= goal.target if m.at_least else value <= goal.target
    return out


def goal_line(goal: dict[str, Any]) -> str:
    """A goal (as ``goal_json`` gives it) in one sentence, for the report."""
    status = "" if goal["status"] == "active" else f" ({goal['status']})"
    if goal["measure"] is None:
        return f"{goal['text']}{status}"
    sign = "at least" if goal["direction"] == "at_least" else "at most"
    latest = goal["latest"]
    if latest is None:
        progress = "not measured yet"
    else:
        at = latest["at"]
        day = at.date() if isinstance(at, datetime) else at
        progress = f"latest {latest['value']:g} on {day:%d %b %Y}: {'met' if goal['met'] else 'not yet'}"
    return f"{goal['text']}{status}: {goal['measure_label']} {sign} {goal['target']:g}; {progress}"


async def goals_with_progress(
    ctx: Ctx, patient_id: int, progress: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The patient's goals (active first, then the reviewed ones), each with its measure's
    latest value and whether it meets the target. ``progress``: the patient's series
    (``services.clinic.progress.series``) where the caller has them already."""
    patient = await ctx.patient(patient_id)
    rows = list(
        (
            await ctx.db.execute(
                select(Goal).where(Goal.patient_id == patient.id).order_by(Goal.created_at, Goal.id)
            )
        ).scalars()
    )
    if not rows:
        return []
    if progress is None:
        progress = series(await load_history(ctx.db, patient), local_today(patient))
    latest = latest_values(progress)
    order = {"active": 0, "achieved": 1, "dropped": 2}
    return [goal_json(g, latest) for g in sorted(rows, key=lambda g: order.get(g.status, 3))]


async def list_goals(ctx: Ctx) -> web.Response:
    pid = ctx.id_param("pid")
    out = await goals_with_progress(ctx, pid)
    ctx.audit("read", "goal", pid)
    return json_response(out)


async def create_goal(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    body = await ctx.body(GoalIn)
    _check_target(body.measure, body.target)
    goal = Goal(
        patient_id=patient.id,
        text=body.text.strip(),
        measure=body.measure,
        target=body.target,
        status="active",
        created_at=utcnow(),
        created_by=ctx.actor.id,
        review_note="",
    )
    ctx.db.add(goal)
    await ctx.db.flush()
    ctx.audit("create", "goal", patient.id, goal.id)
    [made] = [g for g in await goals_with_progress(ctx, patient.id) if g["id"] == goal.id]
    return json_response(made, status=201)


async def change_goal(ctx: Ctx) -> web.Response:
    """A review: achieved or dropped (or active again), a new target, a note."""
    goal = await ctx.db.get(Goal, ctx.id_param("id"))
    if goal is None:
        raise NotFound("No such goal.")
    await ctx.patient(goal.patient_id)
    body = await ctx.body(GoalChange)
    if body.target is not None:
        _check_target(goal.measure, body.target)
        goal.target = body.target
    if body.status is not None:
        goal.status = body.status
    if body.review_note is not None:
        goal.review_note = body.review_note
    reviewed: datetime = utcnow()
    goal.reviewed_at = reviewed
    await ctx.db.flush()
    ctx.audit("update", "goal", goal.patient_id, goal.id)
    [changed] = [g for g in await goals_with_progress(ctx, goal.patient_id) if g["id"] == goal.id]
    return json_response(changed)


ROUTES = [
    Route(
        "GET", "/api/patients/{pid}/goals", list_goals, "A patient's goals, with progress", CLINICAL, "goals"
    ),
    Route(
        "POST",
        "/api/patients/{pid}/goals",
        create_goal,
        "Agree a goal (the patient's words; a measure and target where it can be)",
        THERAPIST,
        "goals",
        body=GoalIn,
        created=True,
    ),
    Route(
        "PATCH",
        "/api/goals/{id}",
        change_goal,
        "Review a goal: achieved, dropped or active, a new target, a note",
        THERAPIST,
        "goals",
        body=GoalChange,
    ),
]
