"""What the patient has read of the education in their programme.

The texts themselves are part of the programme (``services.clinic.programme``: the
therapist picks them from the catalogue's templates or writes their own); the patient
marks each one read on their plan, once, and the therapist sees which ones they have.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.clinic.context import CLINICAL, Ctx, Route, json_response
from services.clinic.db import utcnow
from services.clinic.errors import NotFound
from services.clinic.models import EducationRead
from services.clinic.programme import current_programme


async def education_with_reads(ctx: Ctx, patient_id: int) -> list[dict[str, Any]]:
    """The current programme's education items, each with when the patient read it."""
    row = await current_programme(ctx, patient_id)
    items: list[dict[str, Any]] = list(row.data.get("education", [])) if row else []
    reads = {
        r.key: r.read_at
        for r in (
            await ctx.db.execute(select(EducationRead).where(EducationRead.patient_id == patient_id))
        ).scalars()
    }
    return [{**item, "read_at": reads.get(item["key"])} for item in items]


async def list_education(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    ctx.audit("read", "education", patient.id)
    return json_response(await education_with_reads(ctx, patient.id))


async def mark_read(ctx: Ctx) -> web.Response:
    """The patient has read an item of their programme's education (once: again is 200)."""
    patient = await ctx.patient(ctx.id_param("pid"))
    key = ctx.request.match_info["key"]
    items = {i["key"]: i for i in await education_with_reads(ctx, patient.id)}
    if key not in items:
        raise NotFound("That is not part of your programme's reading.")
    if items[key]["read_at"] is not None:
        return json_response({"key": key, "read_at": items[key]["read_at"]})
    read = EducationRead(patient_id=patient.id, key=key, read_at=utcnow())
    try:
        async with ctx.db.begin_nested():  # a second tap at the same moment: one row
            ctx.db.add(read)
    except IntegrityError:
        [again] = [i for i in await education_with_reads(ctx, patient.id) if i["key"] == key]
        return json_response({"key": key, "read_at": again["read_at"]})
    ctx.audit("create", "education_read", patient.id, read.id)
    return json_response({"key": key, "read_at": read.read_at}, status=201)


ROUTES = [
    Route(
        "GET",
        "/api/patients/{pid}/education",
        list_education,
        "The programme's education, each with when the patient read it",
        CLINICAL,
        "programme",
    ),
    Route(
        "POST",
        "/api/patients/{pid}/education/{key}/read",
        mark_read,
        "The patient marks an education item read",
        ("patient",),
        "programme",
        created=True,
    ),
]
