"""Progress over time: a patient's history (loaded once) and the series computed from it
by pure functions: symmetry per region, resting asymmetry, synkinesis, Sunnybrook
(therapist and estimate), House–Brackmann, adherence and questionnaire scores."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.context import CLINICAL, Ctx, Route, json_response
from services.clinic.models import (
    Assessment,
    CheckOff,
    ClinicSession,
    Intake,
    Programme,
    QuestionnaireResponse,
    User,
)
from services.clinic.programme import local_today
from shared.exercises import load_catalogue


@dataclass(frozen=True)
class SessionRecord:
    at: datetime
    kind: str
    summary: dict[str, Any]


@dataclass(frozen=True)
class Grading:
    at: datetime
    source: str  # therapist | estimate
    composite: int | None
    house_brackmann: int | None


@dataclass
class History:
    """Everything the series and the referral rules look at, for one patient."""

    patient_id: int
    timezone: str = "UTC"
    intake: dict[str, Any] | None = None
    onset: date | None = None
    gradings: list[Grading] = field(default_factory=list)
    sessions: list[SessionRecord] = field(default_factory=list)
    programmes: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)
    checkoffs: list[date] = field(default_factory=list)
    questionnaires: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)


async def load_history(db: AsyncSession, patient: User) -> History:
    h = History(patient_id=patient.id, timezone=patient.timezone)
    intake = (await db.execute(select(Intake).where(Intake.patient_id == patient.id))).scalar_one_or_none()
    if intake is not None:
        h.intake, h.onset = intake.data, intake.onset_date
    for a in (
        await db.execute(
            select(Assessment).where(Assessment.patient_id == patient.id).order_by(Assessment.assessed_at)
        )
    ).scalars():
        h.gradings.append(Grading(a.assessed_at, a.source, a.composite, a.house_brackmann))
    for s in (
        await db.execute(
            select(ClinicSession).where(
                ClinicSession.patient_id == patient.id, ClinicSession.summary.is_not(None)
            )
        )
    ).scalars():
        h.sessions.append(SessionRecord(s.ended_at or s.scheduled_at, s.kind, s.summary or {}))
    h.sessions.sort(key=lambda r: r.at)
    for p in (
        await db.execute(
            select(Programme).where(Programme.patient_id == patient.id).order_by(Programme.version)
        )
    ).scalars():
        h.programmes.append((p.created_at, p.data))
    h.checkoffs = list(
        (await db.execute(select(CheckOff.day).where(CheckOff.patient_id == patient.id))).scalars()
    )
    for q in (
        await db.execute(
            select(QuestionnaireResponse)
            .where(QuestionnaireResponse.patient_id == patient.id)
            .order_by(QuestionnaireResponse.answered_at)
        )
    ).scalars():
        h.questionnaires.append((q.answered_at, q.kind, q.scores))
    return h


def _point(at: datetime | date, value: float | None) -> dict[str, Any]:
    return {"t": at, "value": None if value is None else round(float(value), 3)}


def session_symmetry(summary: dict[str, Any]) -> dict[str, float]:
    """Region → mean of the session's per-exercise symmetry (exercise region from the
    catalogue; exercises not in the catalogue or without a symmetry are left out)."""
    catalogue = load_catalogue()
    by_region: dict[str, list[float]] = {}
    for ex in summary.get("exercises", []):
        spec = catalogue.get(ex.get("name", ""))
        if spec is not None and ex.get("symmetry") is not None:
            by_region.setdefault(spec.region, []).append(float(ex["symmetry"]))
    return {region: mean(values) for region, values in by_region.items()}


def mean_symmetry(summary: dict[str, Any]) -> float | None:
    values = list(session_symmetry(summary).values())
    return mean(values) if values else None


def session_synkinesis(summary: dict[str, Any]) -> float | None:
    values = [
        float(ex["synkinesis"]) for ex in summary.get("exercises", []) if ex.get("synkinesis") is not None
    ]
    return max(values) if values else None


def composites(h: History, source: str) -> list[tuple[datetime, int]]:
    return [(g.at, g.composite) for g in h.gradings if g.source == source and g.composite is not None]


def weekly_adherence(h: History, today: date) -> list[dict[str, Any]]:
    """Per week (Monday to Sunday) since the first programme: home-practice days (a home
    session with a summary) / the programme's days per week (its most demanding
    exercise), capped at 1; and self-care ticks / the ticks the programme asks for. The
    first week counts from the programme's first day, the current one up to today."""
    if not h.programmes:
        return []
    tz = ZoneInfo(h.timezone)
    practice = {r.at.astimezone(tz).date() for r in h.sessions if r.kind == "home"}
    ticks: dict[date, int] = {}
    for d in h.checkoffs:
        monday = d - timedelta(days=d.weekday())
        ticks[monday] = ticks.get(monday, 0) + 1
    first = h.programmes[0][0].astimezone(tz).date()
    week = first - timedelta(days=first.weekday())
    out = []
    while week <= today:
        end = week + timedelta(days=7)
        current = [data for at, data in h.programmes if at.astimezone(tz).date() < end][-1]
        # Measured from the programme's first day, and up to today: a programme begun on
        # a Thursday asks for four days' worth of that week, and the week under way for
        # the days gone so far (rounded up), not a whole week each.
        start, stop = max(week, first), min(end, today + timedelta(days=1))
        share = (stop - start).days / 7
        weekly = max([e["days_per_week"] for e in current.get("exercises", [])] or [0])
        target_days = min(weekly, math.ceil(weekly * share - 1e-9))
        target_ticks = math.ceil(
            7 * share * sum(s["times_per_day"] for s in current.get("self_care", [])) - 1e-9
        )
        days = len({d for d in practice if start <= d < stop})
        out.append(
            {
                "t": week,
                "practice_days": days,
                "target_days": target_days,
                "value": round(min(1.0, days / target_days), 3) if target_days else None,
                "self_care": round(min(1.0, ticks.get(week, 0) / target_ticks), 3) if target_ticks else None,
            }
        )
        week = end
    return out


def series(h: History, today: date) -> dict[str, Any]:
    symmetry: dict[str, list[dict[str, Any]]] = {}
    resting: dict[str, list[dict[str, Any]]] = {"brow_mm": [], "eye_mm": [], "mouth_mm": []}
    synkinesis = []
    spasms = []
    for r in h.sessions:
        twitches = r.summary.get("spasms")
        if twitches:
            spasms.append({**_point(r.at, twitches.get("count")), "kind": r.kind})
        for region, value in session_symmetry(r.summary).items():
            symmetry.setdefault(region, []).append({**_point(r.at, value), "kind": r.kind})
        rest = r.summary.get("resting")
        if rest:
            for key in resting:
                resting[key].append(_point(r.at, rest.get(key)))
        syn = session_synkinesis(r.summary)
        if syn is not None:
            synkinesis.append({**_point(r.at, syn), "kind": r.kind})
    questionnaires: dict[str, list[dict[str, Any]]] = {}
    for at, kind, scores in h.questionnaires:
        for name, value in scores.items():
            if value is not None:
                questionnaires.setdefault(f"{kind}_{name}", []).append(_point(at, value))
    return {
        "symmetry": symmetry,
        "resting_asymmetry": resting,
        "synkinesis": synkinesis,
        "spasms": spasms,  # twitches at rest per session that saw any (hemifacial spasm)
        "sunnybrook_therapist": [_point(at, v) for at, v in composites(h, "therapist")],
        "sunnybrook_estimate": [_point(at, v) for at, v in composites(h, "estimate")],
        "house_brackmann": [
            _point(g.at, g.house_brackmann) for g in h.gradings if g.house_brackmann is not None
        ],
        "adherence": weekly_adherence(h, today),
        "questionnaires": questionnaires,
    }


async def get_progress(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    history = await load_history(ctx.db, patient)
    ctx.audit("read", "progress", patient.id)
    return json_response({"patient_id": patient.id, **series(history, local_today(patient))})


ROUTES = [
    Route(
        "GET",
        "/api/patients/{pid}/progress",
        get_progress,
        "Time series: symmetry, resting asymmetry, synkinesis, twitches at rest, Sunnybrook, adherence,"
        " questionnaires",
        CLINICAL,
        "progress",
    ),
]
