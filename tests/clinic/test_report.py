"""The PDF progress report opens and holds the patient's figures."""

from __future__ import annotations

import io

import pypdf

from testkit.clinic_records import INTAKE, PROGRAMME, SUNNYBROOK, summary
from tests.clinic.conftest import Clinic

P = "/clinic/api/patients"


async def test_report_pdf_opens_and_holds_the_patients_figures(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    await clinic.ok("PUT", f"{P}/{pid}/intake", "therapist", INTAKE)
    await clinic.ok("PUT", f"{P}/{pid}/programme", "therapist", PROGRAMME, 201)
    await clinic.ok(
        "POST", f"{P}/{pid}/assessments", "therapist", {"sunnybrook": SUNNYBROOK, "house_brackmann": 3}, 201
    )
    s = await clinic.ok("POST", f"{P}/{pid}/sessions", "patient", {"kind": "home"}, 201)
    await clinic.ok(
        "POST", f"/clinic/api/sessions/{s['id']}/summary", "therapist", summary("r", estimate=True), 201
    )
    await clinic.ok(
        "PUT",
        f"/clinic/api/sessions/{s['id']}/notes",
        "therapist",
        {"notes": "Smile more even today.", "treatments": [{"kind": "massage", "minutes": 10}]},
    )
    goal = {"text": "A symmetric smile", "measure": "mouth_symmetry", "target": 0.8}
    await clinic.ok("POST", f"{P}/{pid}/goals", "therapist", goal, 201)
    await clinic.ok("POST", f"{P}/{pid}/questionnaires", "patient", {"kind": "saq", "answers": [3] * 9}, 201)
    await clinic.ok(
        "POST", f"{P}/{pid}/questionnaires", "patient", {"kind": "face", "answers": [4] * 15}, 201
    )

    reply = await clinic.call("GET", f"{P}/{pid}/report.pdf", "therapist")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/pdf"
    assert reply.body.startswith(b"%PDF-")
    pdf = pypdf.PdfReader(io.BytesIO(reply.body))
    text = " ".join(page.extract_text() for page in pdf.pages)
    flat = " ".join(text.split())
    assert "Pat patient" in flat  # the patient's name
    assert "Therapist" in flat and "Diagnosis: Bell's palsy" in flat  # a name, not a key
    # The history as recorded at intake: treatments, problems, eye care, imaging, goals.
    assert "Treatments: corticosteroids" in flat
    assert "Everyday problems: closing the eye; eating and drinking" in flat
    assert "Eye care in use: drops, ointment" in flat and "Imaging: MRI 2026-10-01: no lesion" in flat
    assert "The patient's goals: symmetric smile; close my eye" in flat
    assert "Sunnybrook composite (therapist)" in flat and "36 (" in flat  # therapist's grading
    assert "39 (" in flat  # the analyzer's estimate, labelled as such
    assert "automated estimate" in flat
    assert "House–Brackmann grade III (" in flat  # Roman, as the scale writes it
    # The Sunnybrook items behind each composite, the therapist's and the estimate's.
    assert "Sunnybrook items, latest therapist's grading" in flat
    assert "Composite 36 = voluntary 48 − resting 10 − synkinesis 2" in flat
    assert (
        "Voluntary movement (1–5): brow raise 2, gentle eye closure 3, open smile 2, snarl 2, pucker 3"
        in flat
    )
    assert "Sunnybrook items, latest automated estimate" in flat
    assert "60 (" in flat  # SAQ 27/45×100
    assert "75 (" in flat  # FaCE all 4s
    assert "Closed smile: 8 reps × 2 sets, hold 4 s, 2×/day, 5 days/week" in flat
    assert "Eye drops" in flat and "Wear glasses outdoors." in flat
    images = sum(len(page.images) for page in pdf.pages)
    assert images == 7  # the charts
    assert "Ophthalmology (open)" in flat  # the flag, its specialty as a name
    assert "Session notes and treatment given (latest first)" in flat
    assert "Smile more even today. Treatment given: massage." in flat
    assert "A symmetric smile: Mouth symmetry (1 = even) at least 0.8; latest 0.7 on" in flat
    assert "not yet" in flat
    # No heading left alone at the foot of a page: each page's last line of text is not
    # one ("Charts" is followed by images, which hold no text).
    headings = {
        "History",
        "Latest scores",
        "Goals",
        "Referral suggestions",
        "Session notes and treatment given (latest first)",
    }
    for page in pdf.pages:
        lines = [x.strip() for x in page.extract_text().splitlines() if x.strip()]
        if lines:  # (a page of charts alone has none)
            assert lines[-1] not in headings and not lines[-1].startswith("Current programme"), lines[-3:]


async def test_report_of_a_new_patient_still_renders(clinic: Clinic) -> None:
    reply = await clinic.call("GET", f"{P}/{clinic.ids['patient']}/report.pdf", "therapist")
    assert reply.status == 200
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(reply.body)).pages)
    assert "No programme set." in text
