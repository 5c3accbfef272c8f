"""Patient-reported questionnaires: FaCE, SAQ and FDI. Item answers are stored as given;
scores are computed here, by pure functions (``score(kind, answers)``).

Answers are the numbers printed beside each response on the published forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web
from sqlalchemy import select

from services.clinic.context import CLINICAL, Ctx, Route, json_response
from services.clinic.db import utcnow
from services.clinic.errors import BadRequest
from services.clinic.models import QuestionnaireResponse
from services.clinic.referrals import evaluate_for

Kind = Literal["face", "saq", "fdi"]

# FaCE (Facial Clinimetric Evaluation) scale, Kahn et al., Laryngoscope 2001;111:387-398.
# 15 items, each answered 1-5 where 1 is the lowest and 5 the highest level of function
# (the form prints the responses so that this holds for every item, including the
# negatively worded statements; answers are recorded as those printed numbers, so no
# item is reversed here). Item -> domain, 1-based item numbers:
FACE_DOMAINS: dict[str, tuple[int, ...]] = {
    "facial_movement": (1, 2, 3),
    "facial_comfort": (4, 6, 10),
    "oral_function": (7, 13),
    "eye_comfort": (5, 14),
    "lacrimal_control": (12,),
    "social_function": (8, 9, 11, 15),
}
FACE_ITEMS = 15
SAQ_ITEMS = 9
FDI_PHYSICAL = 5  # items 1-5
FDI_SOCIAL = 5  # items 6-10


class QuestionnaireError(ValueError):
    pass


def _check(
    answers: Sequence[int | None], n: int, lo: int, hi: int, name: str, allow_none: bool = False
) -> None:
    if len(answers) != n:
        raise QuestionnaireError(f"{name} has {n} items; got {len(answers)} answers")
    for i, a in enumerate(answers, 1):
        if a is None:
            if not allow_none:
                raise QuestionnaireError(f"{name} item {i} is unanswered")
            continue
        if isinstance(a, bool) or not lo <= a <= hi:
            raise QuestionnaireError(f"{name} item {i} must be {lo} to {hi}")


def _scale(values: Sequence[int], lo: int, hi: int) -> float:
    """(sum − minimum possible) / range × 100."""
    n = len(values)
    return round((sum(values) - lo * n) / ((hi - lo) * n) * 100, 1)


def score_face(answers: Sequence[int | None]) -> dict[str, float]:
    """FaCE (Kahn et al. 2001, appendix B): each domain score = (sum of the domain's
    items − number of items) / (4 × number of items) × 100, i.e. (sum − min) / range ×
    100; the total is the same over all 15 items (so domains weigh by their item count,
    as published). 0 is the worst, 100 the best. All 15 items must be answered."""
    _check(answers, FACE_ITEMS, 1, 5, "FaCE")
    values = [int(a) for a in answers if a is not None]
    out = {domain: _scale([values[i - 1] for i in items], 1, 5) for domain, items in FACE_DOMAINS.items()}
    out["total"] = _scale(values, 1, 5)
    return out


def score_saq(answers: Sequence[int | None]) -> dict[str, float]:
    """Synkinesis Assessment Questionnaire (Mehta et al., Laryngoscope 2007): 9 items,
    1 (seldom or not at all) to 5 (all the time); score = sum / 45 × 100 (20 to 100;
    higher means more synkinesis)."""
    _check(answers, SAQ_ITEMS, 1, 5, "SAQ")
    return {"total": round(sum(int(a) for a in answers if a is not None) / 45 * 100, 1)}


def score_fdi(answers: Sequence[int | None]) -> dict[str, float | None]:
    """Facial Disability Index (VanSwearingen & Brach, Phys Ther 1996;76:1288-1298).

    Physical function, items 1-5, answered 5 (no difficulty) … 1 (usually did not do
    because of the face); "usually did not do for other reasons" is recorded as null
    and left out. Physical = (sum − N) / N × 25 with N the items answered (0-100).

    Social/well-being function, items 6-10, answered 1-6 as printed on the form (higher
    = better; item 6, "calm and peaceful", is printed the other way round so its number
    already means the same). Social = (sum − N) / N × 20 (0-100). Higher is better on
    both; a subscale with no items answered has no score (null)."""
    if len(answers) != FDI_PHYSICAL + FDI_SOCIAL:
        raise QuestionnaireError(f"FDI has 10 items; got {len(answers)} answers")
    physical, social = list(answers[:FDI_PHYSICAL]), list(answers[FDI_PHYSICAL:])
    _check(physical, FDI_PHYSICAL, 1, 5, "FDI physical", allow_none=True)
    _check(social, FDI_SOCIAL, 1, 6, "FDI social", allow_none=True)
    p = [int(a) for a in physical if a is not None]
    s = [int(a) for a in social if a is not None]
    return {
        "physical": round((sum(p) - len(p)) / len(p) * 25, 1) if p else None,
        "social": round((sum(s) - len(s)) / len(s) * 20, 1) if s else None,
    }


def score(kind: str, answers: Sequence[int | None]) -> dict[str, Any]:
    if kind == "face":
        return score_face(answers)
    if kind == "saq":
        return score_saq(answers)
    if kind == "fdi":
        return score_fdi(answers)
    raise QuestionnaireError(f"unknown questionnaire {kind!r}")


class QuestionnaireIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Kind
    answers: Annotated[list[int | None], msgspec.Meta(max_length=20)]
    answered_at: datetime | None = None


def response_json(row: QuestionnaireResponse) -> dict[str, Any]:
    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "kind": row.kind,
        "answers": row.answers["items"],
        "scores": row.scores,
        "answered_at": row.answered_at,
        "entered_by": row.entered_by,
    }


async def add_response(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    body = await ctx.body(QuestionnaireIn)
    try:
        scores = score(body.kind, body.answers)
    except QuestionnaireError as exc:
        raise BadRequest(f"{exc}.", code="bad_answers") from None
    at = body.answered_at or utcnow()
    if at.tzinfo is None or at > utcnow():
        raise BadRequest("'answered_at' needs a time zone and may not be in the future.")
    row = QuestionnaireResponse(
        patient_id=patient.id,
        kind=body.kind,
        answers={"items": body.answers},
        scores=scores,
        answered_at=at,
        entered_by=ctx.actor.id,
    )
    ctx.db.add(row)
    await ctx.db.flush()
    ctx.audit("create", "questionnaire", patient.id, row.id)
    await evaluate_for(ctx, patient.id)
    return json_response(response_json(row), status=201)


async def list_responses(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    query = select(QuestionnaireResponse).where(QuestionnaireResponse.patient_id == patient.id)
    kind = ctx.request.query.get("kind")
    if kind is not None:
        if kind not in ("face", "saq", "fdi"):
            raise BadRequest("'kind' is one of face, saq, fdi.")
        query = query.where(QuestionnaireResponse.kind == kind)
    rows = (await ctx.db.execute(query.order_by(QuestionnaireResponse.answered_at))).scalars()
    ctx.audit("read", "questionnaire", patient.id)
    return json_response([response_json(r) for r in rows])


ROUTES = [
    Route(
        "POST",
        "/api/patients/{pid}/questionnaires",
        add_response,
        "Answer FaCE, SAQ or FDI (scores computed by the clinic)",
        CLINICAL,
        "questionnaires",
        body=QuestionnaireIn,
        created=True,
    ),
    Route(
        "GET",
        "/api/patients/{pid}/questionnaires",
        list_responses,
        "Questionnaire answers and scores",
        CLINICAL,
        "questionnaires",
        query=("kind",),
    ),
]
