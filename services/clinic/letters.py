"""Referral letters: an accepted referral suggestion becomes a letter (PDF) to the named
specialty, with the evidence the rule saw and the therapist's note, for the therapist to
sign and send. Written only for accepted flags; every letter is audited."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from aiohttp import web

from services.clinic.context import THERAPIST, Ctx, Route
from services.clinic.errors import Conflict, NotFound
from services.clinic.intake import load_intake
from services.clinic.models import ReferralFlag, User
from services.clinic.programme import local_today
from services.clinic.progress import composites, load_history, mean_symmetry
from services.clinic.report import diagnosis_text, new_pdf


def render_letter(
    patient: dict[str, Any], flag: dict[str, Any], intake: dict[str, Any] | None, today: date
) -> bytes:
    """The letter as PDF bytes (pure: everything it shows is passed in)."""
    pdf = new_pdf(f"Referral: {patient['name']} to {flag['specialty']}", margin=20)
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def line(text: str, size: int = 10, bold: bool = False) -> None:
        pdf.set_font("DejaVu", "B" if bold else "", size)
        pdf.multi_cell(width, 6, text, new_x="LMARGIN", new_y="NEXT")

    line(f"Referral to {flag['specialty']}", 15, bold=True)
    line(f"Date: {today.isoformat()}")
    line(f"From: {patient['therapist_name']}, facial rehabilitation")
    pdf.ln(3)
    line(f"Re: {patient['name']} (clinic id {patient['id']})", bold=True)
    if intake:
        diagnosis = diagnosis_text(intake)
        side = intake.get("affected_side") or "side not recorded"
        course = intake.get("course", "unknown")
        line(f"Diagnosis: {diagnosis}, {side}; onset {intake['onset_date']}; course: {course}.")
    pdf.ln(3)
    line("Why I am referring", 11, bold=True)
    line(flag["reason"])
    if flag.get("note"):
        line(f"My note: {flag['note']}")
    pdf.ln(3)
    line("Latest measures", 11, bold=True)
    for label, value in patient["measures"]:
        line(f"{label}: {value}")
    pdf.ln(6)
    line("I would be grateful for your opinion. The patient's progress report can be sent on request.")
    pdf.ln(12)
    line(patient["therapist_name"])
    line(
        "This suggestion came from the clinic's referral rules and was accepted by the treating "
        "therapist; the automated measures are estimates for clinical confirmation.",
        8,
    )
    return bytes(pdf.output())


async def get_letter(ctx: Ctx) -> web.Response:
    row = await ctx.db.get(ReferralFlag, ctx.id_param("id"))
    if row is None:
        raise NotFound("No such referral flag.")
    patient = await ctx.patient(row.patient_id)
    if row.status != "accepted":
        raise Conflict(
            f"This suggestion is {row.status}: a letter is written once it is accepted.", code="not_accepted"
        )
    history = await load_history(ctx.db, patient)
    intake = await load_intake(ctx, patient.id)
    therapist = await ctx.db.get(User, patient.therapist_id) if patient.therapist_id else None
    measures: list[tuple[str, str]] = []
    for source, label in (
        ("therapist", "Sunnybrook composite"),
        ("estimate", "Sunnybrook estimate (automated)"),
    ):
        dated = composites(history, source)
        if dated:
            at, value = dated[-1]
            measures.append((label, f"{value} on {at.date().isoformat()}"))
    hb = [g for g in history.gradings if g.house_brackmann is not None]
    if hb:
        measures.append(("House–Brackmann grade", f"{_roman(hb[-1].house_brackmann)} on {hb[-1].at.date()}"))
    symmetric = [(r.at, s) for r in history.sessions if (s := mean_symmetry(r.summary)) is not None]
    if symmetric:
        when, symmetry = symmetric[-1]
        measures.append(("Mean movement symmetry, last session", f"{symmetry:.2f} on {when.date()}"))
    info = {
        "id": patient.id,
        "name": patient.name,
        "therapist_name": therapist.name if therapist else "the treating therapist",
        "measures": measures or [("Measures", "none recorded yet")],
    }
    flag = {"specialty": row.specialty, "reason": row.reason, "note": row.note}
    today = local_today(patient)
    pdf = await asyncio.to_thread(render_letter, info, flag, intake.data if intake else None, today)
    ctx.audit("read", "referral_letter", patient.id, row.id)
    name = f"referral-{patient.id}-{row.code}-{today.isoformat()}.pdf"
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _roman(grade: int | None) -> str:
    return {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}.get(grade or 0, "–")


ROUTES = [
    Route(
        "GET",
        "/api/referral-flags/{id}/letter.pdf",
        get_letter,
        "Referral letter (PDF) for an accepted suggestion",
        THERAPIST,
        "referrals",
        produces="application/pdf",
    ),
]
