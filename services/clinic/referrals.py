"""Referral flags: rules over a patient's history that suggest a referral, each with its
reason. They are suggestions for the therapist to accept or dismiss, never acted on.

The rules are pure functions ``rule(history, today) -> Suggestion | None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.audit import record
from services.clinic.context import THERAPIST, Ctx, Route, json_response
from services.clinic.db import utcnow
from services.clinic.errors import Conflict, NotFound
from services.clinic.models import ReferralFlag, User
from services.clinic.programme import local_today
from services.clinic.progress import History, composites, load_history, mean_symmetry

NO_RECOVERY_DAYS = 90  # "about 3-4 months after onset"
# "No recovery" is a claim about time: the measures compared must lie this far apart
# (two gradings minutes apart say nothing about recovery).
NO_RECOVERY_SPAN = timedelta(days=28)
LONG_STANDING_DAYS = 365
RECOVERY_GAIN = 10  # Sunnybrook points counted as a sign of recovery
RECOVERY_SYMMETRY_GAIN = 0.1
NEUROLOGY = "neurology"
WORSENING_DROP = 10  # Sunnybrook points lost across the last three gradings
WORSENING_SYMMETRY_DROP = 0.15
REOFFER_AFTER = timedelta(days=30)  # a dismissed suggestion may come back after this


@dataclass(frozen=True)
class Suggestion:
    code: str
    reason: str
    specialty: str


def _dated_scores(h: History) -> tuple[str, list[tuple[datetime, int]]]:
    """The therapist's Sunnybrook composites when there are two or more, else the
    estimates; with when each was graded."""
    therapist = composites(h, "therapist")
    if len(therapist) >= 2:
        return "therapist", therapist
    estimate = composites(h, "estimate")
    return ("estimate", estimate) if len(estimate) >= 2 else ("therapist", therapist)


def _scores(h: History) -> tuple[str, list[int]]:
    source, dated = _dated_scores(h)
    return source, [v for _, v in dated]


def _dated_symmetries(h: History) -> list[tuple[datetime, float]]:
    return [(r.at, v) for r in h.sessions if (v := mean_symmetry(r.summary)) is not None]


def _symmetries(h: History) -> list[float]:
    return [v for _, v in _dated_symmetries(h)]


def _day(at: datetime) -> str:
    return at.date().isoformat()


def _spans(dated: Sequence[tuple[datetime, Any]]) -> bool:
    """Two or more measures, the first and the last ``NO_RECOVERY_SPAN`` apart or more."""
    return len(dated) >= 2 and dated[-1][0] - dated[0][0] >= NO_RECOVERY_SPAN


def no_recovery(h: History, today: date) -> Suggestion | None:
    """No recovery signs ≥ 90 days after onset: gradings (or sessions) at least four
    weeks apart, and neither a Sunnybrook gain of ≥ 10 points nor a symmetry gain of ≥ 0.1
    from the first, nor a House–Brackmann grade better than the first; the face is not near
    normal (latest Sunnybrook < 70). The reason names the measures and their dates."""
    if h.onset is None or (today - h.onset).days < NO_RECOVERY_DAYS:
        return None
    source, dated = _dated_scores(h)
    dated_sym = _dated_symmetries(h)
    if not _spans(dated) and not _spans(dated_sym):
        return None
    scores, sym = [v for _, v in dated], [v for _, v in dated_sym]
    hb = [g.house_brackmann for g in h.gradings if g.house_brackmann is not None]
    if len(scores) >= 2 and (max(scores) - scores[0] >= RECOVERY_GAIN or scores[-1] >= 70):
        return None
    if len(sym) >= 2 and max(sym) - sym[0] >= RECOVERY_SYMMETRY_GAIN:
        return None
    if len(hb) >= 2 and min(hb[1:]) < hb[0]:
        return None
    weeks = (today - h.onset).days // 7
    if _spans(dated):
        first, last = dated[0], dated[-1]
        detail = f"Sunnybrook ({source}) {first[1]} on {_day(first[0])} → {last[1]} on {_day(last[0])}"
    else:
        s0, s1 = dated_sym[0], dated_sym[-1]
        detail = f"mean symmetry {s0[1]:.2f} on {_day(s0[0])} → {s1[1]:.2f} on {_day(s1[0])}"
    return Suggestion(
        "no_recovery",
        f"No signs of recovery {weeks} weeks after onset ({detail}). Consider electrodiagnostic testing, "
        "imaging and a facial nerve opinion.",
        "ENT / facial nerve clinic",
    )


def worsening(h: History, today: date) -> Suggestion | None:
    """Worse across the last three gradings (each no better than the one before, ≥ 10
    Sunnybrook points lost) or the last three sessions (mean symmetry falling each time,
    ≥ 0.15 lost)."""
    source, dated = _dated_scores(h)
    last = [v for _, v in dated[-3:]]
    if len(last) == 3 and last[0] >= last[1] >= last[2] and last[0] - last[2] >= WORSENING_DROP:
        steps = " → ".join(f"{v} on {_day(at)}" for at, v in dated[-3:])
        reason = f"Facial function is getting worse: Sunnybrook ({source}) {steps}."
        return Suggestion("worsening", reason, NEUROLOGY)
    dated_sym = _dated_symmetries(h)[-3:]
    sym = [v for _, v in dated_sym]
    if len(sym) == 3 and sym[0] > sym[1] > sym[2] and sym[0] - sym[2] >= WORSENING_SYMMETRY_DROP:
        steps = " → ".join(f"{v:.2f} on {_day(at)}" for at, v in dated_sym)
        reason = f"Symmetry is falling over the last three sessions: {steps}."
        return Suggestion("worsening", reason, NEUROLOGY)
    return None


def eye_exposure(h: History, today: date) -> Suggestion | None:
    """The eye still does not close fully (intake: eye closure is a problem) and the eye
    has symptoms (dryness, pain, redness, blurred vision…) → ophthalmology."""
    if h.intake is None:
        return None
    closes = not h.intake.get("problems", {}).get("eye_closure", False)
    symptoms = h.intake.get("eye_symptoms", [])
    if closes or not symptoms:
        return None
    named = ", ".join(s.replace("_", " ") for s in symptoms)
    return Suggestion(
        "eye_exposure",
        f"Incomplete eye closure with eye symptoms ({named}): risk to the cornea.",
        "ophthalmology",
    )


def new_symptoms(h: History, today: date) -> Suggestion | None:
    """Symptoms the palsy alone does not explain (hearing loss, vertigo, other cranial
    nerves, the other side, recurrence, pain, limb weakness) → neurology / ENT."""
    symptoms = (h.intake or {}).get("new_symptoms", [])
    if not symptoms:
        return None
    named = ", ".join(s.replace("_", " ") for s in symptoms)
    return Suggestion("new_symptoms", f"New symptoms reported: {named}.", "neurology / ENT")


def long_standing(h: History, today: date) -> Suggestion | None:
    """A year or more after onset with a latest Sunnybrook below 50 (or House–Brackmann
    IV or worse): surgical options (facial reanimation) may help."""
    if h.onset is None or (today - h.onset).days < LONG_STANDING_DAYS:
        return None
    _, scores = _scores(h)
    hb = [g.house_brackmann for g in h.gradings if g.house_brackmann is not None]
    if (scores and scores[-1] < 50) or (hb and hb[-1] >= 4):
        months = (today - h.onset).days // 30
        return Suggestion(
            "long_standing",
            f"Palsy for about {months} months with limited function; discuss surgical options.",
            "plastic surgery (facial reanimation)",
        )
    return None


RULES: tuple[Callable[[History, date], Suggestion | None], ...] = (
    no_recovery,
    worsening,
    eye_exposure,
    new_symptoms,
    long_standing,
)


def suggest(h: History, today: date) -> list[Suggestion]:
    return [s for rule in RULES if (s := rule(h, today)) is not None]


def flag_json(row: ReferralFlag) -> dict[str, Any]:
    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "code": row.code,
        "reason": row.reason,
        "specialty": row.specialty,
        "status": row.status,
        "created_at": row.created_at,
        "decided_at": row.decided_at,
        "decided_by": row.decided_by,
        "note": row.note,
    }


async def evaluate_for(ctx: Ctx, patient_id: int) -> list[ReferralFlag]:
    """Run the rules for a patient the caller may see (see ``evaluate_patient``)."""
    return await evaluate_patient(ctx.db, await ctx.patient(patient_id), ctx.actor_ids)


async def evaluate_patient(
    db: AsyncSession, patient: User, actor: tuple[int, str] | None
) -> list[ReferralFlag]:
    """Run the rules and store new suggestions: none while the same code is open or
    accepted, or was dismissed less than 30 days ago."""
    history = await load_history(db, patient)
    record(db, actor, "read", "history", patient.id)
    flags = await db.execute(select(ReferralFlag).where(ReferralFlag.patient_id == patient.id))
    existing = list(flags.scalars())
    now = utcnow()
    new = []
    for s in suggest(history, local_today(patient)):
        if any(
            f.code == s.code
            and (f.status != "dismissed" or (f.decided_at and now - f.decided_at < REOFFER_AFTER))
            for f in existing
        ):
            continue
        row = ReferralFlag(patient_id=patient.id, code=s.code, reason=s.reason, specialty=s.specialty)
        db.add(row)
        new.append(row)
    await db.flush()
    for row in new:
        record(db, actor, "create", "referral_flag", patient.id, row.id)
    return new


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    decision: Literal["accepted", "dismissed"]
    note: Annotated[str, msgspec.Meta(max_length=2000)] = ""


async def list_flags(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    rows = (
        await ctx.db.execute(
            select(ReferralFlag)
            .where(ReferralFlag.patient_id == patient.id)
            .order_by(ReferralFlag.created_at)
        )
    ).scalars()
    ctx.audit("read", "referral_flag", patient.id)
    return json_response([flag_json(r) for r in rows])


async def evaluate(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    new = await evaluate_for(ctx, patient.id)
    return json_response([flag_json(r) for r in new])


async def decide(ctx: Ctx) -> web.Response:
    row = await ctx.db.get(ReferralFlag, ctx.id_param("id"))
    if row is None:
        raise NotFound("No such referral flag.")
    await ctx.patient(row.patient_id)
    body = await ctx.body(DecisionIn)
    if row.status != "open":
        raise Conflict(f"This flag was {row.status} already.", code="decided")
    row.status, row.note, row.decided_at, row.decided_by = body.decision, body.note, utcnow(), ctx.actor.id
    ctx.audit("update", "referral_flag", row.patient_id, row.id)
    return json_response(flag_json(row))


ROUTES = [
    Route(
        "GET",
        "/api/patients/{pid}/referral-flags",
        list_flags,
        "Referral suggestions and decisions",
        THERAPIST,
        "referrals",
    ),
    Route(
        "POST",
        "/api/patients/{pid}/referral-flags/evaluate",
        evaluate,
        "Run the referral rules now; returns new suggestions",
        THERAPIST,
        "referrals",
    ),
    Route(
        "POST",
        "/api/referral-flags/{id}/decision",
        decide,
        "Accept or dismiss a suggestion",
        THERAPIST,
        "referrals",
        body=DecisionIn,
    ),
]
