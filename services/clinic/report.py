"""The PDF progress report a therapist can attach to a referral: the patient's figures,
charts of the series, the current programme and the latest scores.

fpdf2 lays out the pages; matplotlib (its object API, no pyplot state) draws the charts
as PNGs; both run in a worker thread. Text uses matplotlib's bundled DejaVu Sans so any
name or symbol prints."""

from __future__ import annotations

import asyncio
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

import matplotlib
from aiohttp import web
from fpdf import FPDF
from matplotlib.figure import Figure
from sqlalchemy import select

from services.clinic.context import THERAPIST, Ctx, Route
from services.clinic.intake import load_intake
from services.clinic.models import ReferralFlag, User
from services.clinic.programme import current_programme, local_today
from services.clinic.progress import load_history, series

FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
FONT_BOLD = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"


def _chart(
    title: str, lines: dict[str, list[dict[str, Any]]], ylabel: str, ylim: tuple[float, float] | None
) -> bytes:
    fig = Figure(figsize=(7.0, 2.4), dpi=110)
    ax = fig.add_subplot()
    for label, points in lines.items():
        pts = [(p["t"], p["value"]) for p in points if p["value"] is not None]
        if pts:
            ax.plot([t for t, _ in pts], [v for _, v in pts], marker="o", label=label)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=8)
    if ylim:
        ax.set_ylim(*ylim)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if any(lines.values()):
        ax.legend(fontsize=7, loc="best")
    fig.autofmt_xdate()
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def _latest(points: list[dict[str, Any]]) -> str:
    for p in reversed(points):
        if p["value"] is not None:
            t = p["t"]
            day = t.date() if isinstance(t, datetime) else t
            value = p["value"]
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            return f"{shown} ({day.isoformat()})"
    return "–"


def new_pdf(title: str, margin: float) -> FPDF:
    """An A4 document with the DejaVu fonts (every script a name may use) and a first page."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=margin)
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.add_font("DejaVu", "B", str(FONT_BOLD))
    pdf.set_title(title)
    pdf.add_page()
    return pdf


def diagnosis_text(intake: dict[str, Any]) -> str:
    diagnosis = str(intake["diagnosis"]).replace("_", " ")
    if intake.get("diagnosis_other"):
        diagnosis += f" ({intake['diagnosis_other']})"
    return diagnosis


def render(
    patient: dict[str, Any],
    intake: dict[str, Any] | None,
    s: dict[str, Any],
    programme: dict[str, Any] | None,
    today: date,
) -> bytes:
    """The report as PDF bytes (pure: everything it shows is passed in)."""
    pdf = new_pdf(f"Progress report: {patient['name']}", margin=15)
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def heading(text: str) -> None:
        pdf.ln(2)
        pdf.set_font("DejaVu", "B", 12)
        pdf.cell(width, 7, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 9)

    def line(text: str) -> None:
        pdf.multi_cell(width, 5, text, new_x="LMARGIN", new_y="NEXT")

    pdf.set_font("DejaVu", "B", 16)
    pdf.cell(width, 10, "Facial rehabilitation progress report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    line(f"Patient: {patient['name']} (id {patient['id']})    Report date: {today.isoformat()}")
    line(f"Therapist: {patient.get('therapist_name', '–')}")
    if intake:
        side = intake.get("affected_side") or "not recorded"
        line(
            f"Diagnosis: {diagnosis_text(intake)}; onset {intake['onset_date']}; affected side: {side}; "
            f"course: {intake.get('course', 'unknown')}"
        )
        if intake.get("goals"):
            line("Goals: " + "; ".join(intake["goals"]))

    heading("Latest scores")
    q = s["questionnaires"]
    adherence = [w["value"] for w in s["adherence"][-4:] if w["value"] is not None]
    rows = [
        ("Sunnybrook composite (therapist)", _latest(s["sunnybrook_therapist"])),
        ("Sunnybrook composite (automated estimate, to confirm)", _latest(s["sunnybrook_estimate"])),
        ("House–Brackmann grade", _latest(s["house_brackmann"])),
        ("FaCE total (0–100, higher better)", _latest(q.get("face_total", []))),
        ("SAQ (20–100, higher = more synkinesis)", _latest(q.get("saq_total", []))),
        (
            "FDI physical / social (0–100)",
            f"{_latest(q.get('fdi_physical', []))} / {_latest(q.get('fdi_social', []))}",
        ),
        (
            "Home-practice adherence, last 4 weeks",
            f"{round(100 * sum(adherence) / len(adherence))} %" if adherence else "–",
        ),
    ]
    for label, value in rows:
        pdf.cell(width * 0.6, 5, label)
        pdf.cell(width * 0.4, 5, value, new_x="LMARGIN", new_y="NEXT")

    heading("Charts")
    charts = [
        _chart(
            "Sunnybrook composite",
            {"therapist": s["sunnybrook_therapist"], "estimate": s["sunnybrook_estimate"]},
            "score",
            (0, 100),
        ),
        _chart("Symmetry by region (1 = symmetric)", s["symmetry"], "symmetry", (0, 1.05)),
        _chart("Resting asymmetry (left − right)", s["resting_asymmetry"], "mm", None),
        _chart("Synkinesis index", {"synkinesis": s["synkinesis"]}, "index", (0, 1)),
        _chart("Weekly home-practice adherence", {"adherence": s["adherence"]}, "fraction", (0, 1.05)),
        _chart("Questionnaires", q, "score", (0, 100)),
    ]
    for png in charts:
        pdf.image(io.BytesIO(png), w=width)

    heading(f"Current programme (version {programme['version']})" if programme else "Current programme")
    if programme is None:
        line("No programme set.")
    else:
        for ex in programme["exercises"]:
            line(
                f"• {ex['title']}: {ex['reps']} reps × {ex['sets']} sets, hold {ex['hold_s']:g} s, "
                f"{ex['times_per_day']}×/day, {ex['days_per_week']} days/week"
            )
        for item in programme.get("self_care", []):
            duration = f", {item['duration_min']:g} min" if item.get("duration_min") else ""
            line(
                f"• {item['title']} ({item['kind'].replace('_', ' ')}{duration}, {item['when']}, "
                f"{item['times_per_day']}×/day)"
            )
        for text in programme.get("eye_protection", []):
            line(f"Eye protection: {text}")
    flags = patient.get("flags", [])
    if flags:
        heading("Referral suggestions")
        for f in flags:
            line(f"• [{f['status']}] {f['specialty']}: {f['reason']}")
    return bytes(pdf.output())


async def get_report(ctx: Ctx) -> web.Response:
    patient = await ctx.patient(ctx.id_param("pid"))
    pdf, name = await report_pdf(ctx, patient)
    ctx.audit("read", "report", patient.id)
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return web.Response(body=pdf, content_type="application/pdf", headers=disposition)


async def report_pdf(ctx: Ctx, patient: User) -> tuple[bytes, str]:
    """The patient's progress report as of their today, and its file name."""
    history = await load_history(ctx.db, patient)
    today = local_today(patient)
    intake = await load_intake(ctx, patient.id)
    programme = await current_programme(ctx, patient.id)
    therapist = await ctx.db.get(User, patient.therapist_id) if patient.therapist_id else None
    flags = (
        await ctx.db.execute(
            select(ReferralFlag).where(
                ReferralFlag.patient_id == patient.id, ReferralFlag.status != "dismissed"
            )
        )
    ).scalars()
    info = {
        "id": patient.id,
        "name": patient.name,
        "therapist_name": therapist.name if therapist else "–",
        "flags": [{"status": f.status, "specialty": f.specialty, "reason": f.reason} for f in flags],
    }
    prog = {"version": programme.version, **programme.data} if programme else None
    pdf = await asyncio.to_thread(
        render, info, intake.data if intake else None, series(history, today), prog, today
    )
    return pdf, f"progress-{patient.id}-{today.isoformat()}.pdf"


ROUTES = [
    Route(
        "GET",
        "/api/patients/{pid}/report.pdf",
        get_report,
        "PDF progress report for a referral",
        THERAPIST,
        "report",
        produces="application/pdf",
    ),
]
