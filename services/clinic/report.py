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
import matplotlib.dates as mdates
from aiohttp import web
from fpdf import FPDF
from matplotlib.figure import Figure
from sqlalchemy import select

from services.clinic.context import THERAPIST, Ctx, Route
from services.clinic.goals import goal_line, goals_with_progress
from services.clinic.intake import load_intake
from services.clinic.models import Assessment, ClinicSession, ReferralFlag, User
from services.clinic.programme import current_programme, local_today
from services.clinic.progress import load_history, series

NOTES_IN_REPORT = 10  # the latest sessions' notes; the rest are in the clinic

FONT = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
FONT_BOLD = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"


# What each series and field is called on paper (the API's keys are for programs).
LABELS = {
    "brow": "Brow",
    "eye": "Eye",
    "mouth": "Mouth",
    "brow_mm": "Brow",
    "eye_mm": "Eye",
    "mouth_mm": "Mouth",
    "therapist": "Therapist",
    "estimate": "Estimate (analyzer)",
    "synkinesis": "Synkinesis",
    "spasms": "Twitches",
    "adherence": "Home practice",
    "face_total": "FaCE total",
    "saq_total": "SAQ",
    "fdi_physical": "FDI physical",
    "fdi_social": "FDI social",
}
DIAGNOSES = {
    "bells_palsy": "Bell's palsy",
    "ramsay_hunt": "Ramsay Hunt syndrome",
    "post_surgical": "Facial palsy after surgery",
    "trauma": "Facial palsy after trauma",
    "hemifacial_spasm": "Hemifacial spasm",
    "synkinesis": "Synkinesis",
    "spasms": "Twitches",
    "other": "Other",
}
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}
MOVEMENT_NAMES = {
    "brow_raise": "brow raise",
    "gentle_eye_closure": "gentle eye closure",
    "open_smile": "open smile",
    "snarl": "snarl",
    "pucker": "pucker",
}


def label(key: str) -> str:
    return LABELS.get(key, key.replace("_", " ").capitalize())


def _when(t: Any) -> datetime | date:
    return datetime.fromisoformat(t) if isinstance(t, str) else t


def _chart(
    title: str, lines: dict[str, list[dict[str, Any]]], ylabel: str, ylim: tuple[float, float] | None
) -> bytes:
    fig = Figure(figsize=(7.0, 2.4), dpi=110)
    ax = fig.add_subplot()
    for key, points in lines.items():
        pts = [(_when(p["t"]), p["value"]) for p in points if p["value"] is not None]
        if pts:
            times: Any = [t for t, _ in pts]  # dates: matplotlib converts them itself
            ax.plot(times, [v for _, v in pts], marker="o", label=label(key))
    # Dates on the date axis, as a reader writes them.
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b %Y"))  # type: ignore[no-untyped-call]
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=8)
    if ylim:
        ax.set_ylim(*ylim)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if any(p["value"] is not None for points in lines.values() for p in points):
        ax.legend(fontsize=7, loc="best")
    else:
        ax.text(0.5, 0.5, "No data yet", ha="center", va="center", transform=ax.transAxes, fontsize=9)
    fig.autofmt_xdate()
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def _day(t: Any) -> str:
    moment = _when(t)
    day = moment.date() if isinstance(moment, datetime) else moment
    return f"{day:%d %b %Y}"


def _latest(points: list[dict[str, Any]], roman: bool = False) -> str:
    for p in reversed(points):
        if p["value"] is not None:
            value = p["value"]
            if roman:
                shown = ROMAN.get(int(value), str(value))
            else:
                shown = f"{value:g}" if isinstance(value, float) else str(value)
            return f"{shown} ({_day(p['t'])})"
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
    key = str(intake["diagnosis"])
    diagnosis = DIAGNOSES.get(key, key.replace("_", " "))
    if intake.get("diagnosis_other"):
        diagnosis = (
            intake["diagnosis_other"] if key == "other" else f"{diagnosis} ({intake['diagnosis_other']})"
        )
    return diagnosis


def _ticked(group: dict[str, Any] | None, names: dict[str, str]) -> list[str]:
    return [text for key, text in names.items() if (group or {}).get(key)]


def intake_lines(intake: dict[str, Any]) -> list[str]:
    """The intake's history as sentences: treatments, everyday problems, eye care and
    symptoms, imaging (each only when recorded)."""
    out = []
    treatments = intake.get("treatments") or {}
    given = _ticked(
        treatments, {"corticosteroids": "corticosteroids", "antivirals": "antivirals", "surgery": "surgery"}
    )
    if given or treatments.get("notes"):
        out.append(
            "Treatments: " + "; ".join([*given, *([treatments["notes"]] if treatments.get("notes") else [])])
        )
    problems = intake.get("problems") or {}
    hard = _ticked(
        problems,
        {"eye_closure": "closing the eye", "eating_drinking": "eating and drinking", "speaking": "speaking"},
    )
    if hard or problems.get("other"):
        out.append(
            "Everyday problems: "
            + "; ".join([*hard, *([problems["other"]] if problems.get("other") else [])])
        )
    care = _ticked(
        intake.get("eye_care"), {"drops": "drops", "ointment": "ointment", "taping": "taping at night"}
    )
    if care:
        out.append("Eye care in use: " + ", ".join(care))
    if intake.get("eye_symptoms"):
        out.append("Eye symptoms: " + ", ".join(s.replace("_", " ") for s in intake["eye_symptoms"]))
    if intake.get("new_symptoms"):
        out.append("New symptoms: " + ", ".join(s.replace("_", " ") for s in intake["new_symptoms"]))
    if intake.get("imaging"):
        out.append(f"Imaging: {intake['imaging']}")
    return out


def sunnybrook_lines(grading: dict[str, Any]) -> list[str]:
    """A Sunnybrook grading's items: resting symmetry, voluntary movement and synkinesis
    per movement, and how they add up."""
    resting = grading.get("resting") or {}
    voluntary = grading.get("voluntary") or {}
    synkinesis = grading.get("synkinesis") or {}
    r_score, v_score, s_score = (
        5 * sum(resting.values()),
        4 * sum(voluntary.values()),
        sum(synkinesis.values()),
    )
    return [
        f"Composite {grading['composite']} = voluntary {v_score} − resting {r_score} − synkinesis {s_score}",
        "Resting symmetry: " + ", ".join(f"{k} {v}" for k, v in resting.items()),
        "Voluntary movement (1–5): "
        + ", ".join(f"{MOVEMENT_NAMES.get(k, k)} {v}" for k, v in voluntary.items()),
        "Synkinesis (0–3): " + ", ".join(f"{MOVEMENT_NAMES.get(k, k)} {v}" for k, v in synkinesis.items()),
    ]


def render(
    patient: dict[str, Any],
    intake: dict[str, Any] | None,
    s: dict[str, Any],
    programme: dict[str, Any] | None,
    today: date,
) -> bytes:
    """The report as PDF bytes (pure: everything it shows is passed in). ``patient`` may
    carry ``flags``, ``gradings`` (the latest Sunnybrook grading per source, with its
    items), ``goals`` (each in a sentence with its progress) and ``notes`` (the
    therapist's session notes, (date, text), newest first)."""
    pdf = new_pdf(f"Progress report: {patient['name']}", margin=15)
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def heading(text: str, keep_mm: float = 25) -> None:
        """A section heading, never left alone at the foot of a page: it moves to the
        next page unless ``keep_mm`` of what follows fits under it."""
        if pdf.get_y() + 9 + keep_mm > pdf.page_break_trigger:
            pdf.add_page()
        pdf.ln(2)
        pdf.set_font("DejaVu", "B", 12)
        pdf.cell(width, 7, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 9)

    def line(text: str) -> None:
        pdf.multi_cell(width, 5, text, new_x="LMARGIN", new_y="NEXT")

    pdf.set_font("DejaVu", "B", 16)
    pdf.cell(width, 10, "Facial rehabilitation progress report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    line(f"Patient: {patient['name']} (id {patient['id']})    Report date: {today:%d %b %Y}")
    line(f"Therapist: {patient.get('therapist_name', '–')}")
    if intake:
        heading("History")
        side = intake.get("affected_side") or "not recorded"
        onset = _when(str(intake["onset_date"]))
        line(
            f"Diagnosis: {diagnosis_text(intake)}; onset {onset:%d %b %Y}; affected side: {side}; "
            f"course since onset: {intake.get('course', 'unknown')}"
        )
        for text in intake_lines(intake):
            line(text)
        if intake.get("goals"):
            line("The patient's goals: " + "; ".join(intake["goals"]))

    heading("Latest scores")
    q = s["questionnaires"]
    adherence = [w["value"] for w in s["adherence"][-4:] if w["value"] is not None]
    rows = [
        ("Sunnybrook composite (therapist)", _latest(s["sunnybrook_therapist"])),
        ("Sunnybrook composite (automated estimate, to confirm)", _latest(s["sunnybrook_estimate"])),
        ("House–Brackmann grade", _latest(s["house_brackmann"], roman=True)),
        ("FaCE total (0–100, higher better)", _latest(q.get("face_total", []))),
        ("SAQ (20–100, higher = more synkinesis)", _latest(q.get("saq_total", []))),
        (
            "FDI physical / social (0–100)",
            f"{_latest(q.get('fdi_physical', []))} / {_latest(q.get('fdi_social', []))}",
        ),
        (
            "Home-practice adherence, last 4 weeks (since the programme began)",
            f"{round(100 * sum(adherence) / len(adherence))} %" if adherence else "–",
        ),
    ]
    for name, value in rows:
        pdf.cell(width * 0.6, 5, name)
        pdf.cell(width * 0.4, 5, value, new_x="LMARGIN", new_y="NEXT")
    for source, title in (
        ("therapist", "therapist's grading"),
        ("estimate", "automated estimate, to confirm"),
    ):
        grading = (patient.get("gradings") or {}).get(source)
        if grading:
            heading(f"Sunnybrook items, latest {title} ({_day(grading['at'])})", keep_mm=20)
            for text in sunnybrook_lines(grading):
                line(text)

    heading("Charts", keep_mm=65)
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
        _chart("Twitches at rest per session (hemifacial spasm)", {"spasms": s["spasms"]}, "count", None),
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
        for item in programme.get("education", []):
            line(f"• Reading: {item['title']}")
        for text in programme.get("eye_protection", []):
            line(f"Eye protection: {text}")
    goals = patient.get("goals", [])
    if goals:
        heading("Goals")
        for text in goals:
            line(f"• {text}")
    notes = patient.get("notes", [])
    if notes:
        heading("Session notes and treatment given (latest first)")
        for day, text in notes:
            line(f"{day:%d %b %Y}: {text}")
    flags = patient.get("flags", [])
    if flags:
        heading("Referral suggestions")
        for f in flags:
            line(f"• {f['specialty'].replace('_', ' ').capitalize()} ({f['status']}): {f['reason']}")
    return bytes(pdf.output())


def session_note(row: ClinicSession) -> str:
    """A session's notes and the manual treatment given in it, as one paragraph."""
    given = ", ".join(str(t["kind"]).replace("_", " ") for t in row.treatments or [])
    return " ".join(part for part in (row.notes or "", f"Treatment given: {given}." if given else "") if part)


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
    progress = series(history, today)  # the charts' and the goals' (computed once)
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
    gradings: dict[str, dict[str, Any]] = {}
    for row in (
        await ctx.db.execute(
            select(Assessment)
            .where(Assessment.patient_id == patient.id, Assessment.composite.is_not(None))
            .order_by(Assessment.assessed_at, Assessment.id)
        )
    ).scalars():
        gradings[row.source] = {
            "at": row.assessed_at,
            "composite": row.composite,
            "resting": row.resting,
            "voluntary": row.voluntary,
            "synkinesis": row.synkinesis,
        }
    recent = (
        await ctx.db.execute(
            select(ClinicSession)
            .where(ClinicSession.patient_id == patient.id)
            .order_by(ClinicSession.scheduled_at.desc())
            .limit(5 * NOTES_IN_REPORT)
        )
    ).scalars()
    noted = [r for r in recent if r.notes or r.treatments][:NOTES_IN_REPORT]
    info = {
        "id": patient.id,
        "name": patient.name,
        "therapist_name": therapist.name if therapist else "–",
        "flags": [{"status": f.status, "specialty": f.specialty, "reason": f.reason} for f in flags],
        "gradings": gradings,
        "notes": [((r.ended_at or r.scheduled_at).date(), session_note(r)) for r in noted],
        "goals": [goal_line(g) for g in await goals_with_progress(ctx, patient.id, progress)],
    }
    prog = {"version": programme.version, **programme.data} if programme else None
    pdf = await asyncio.to_thread(
        render, info, intake.data if intake else None, progress, prog, today
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
