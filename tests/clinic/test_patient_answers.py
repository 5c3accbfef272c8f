"""Before the visit: the patient answers the intake's questions themselves; their
therapist reads the answers, takes them into the intake (which marks them reviewed);
answers sent again after that ask for another review."""

from __future__ import annotations

from datetime import date, timedelta

from testkit.clinic_records import INTAKE
from tests.clinic.conftest import Clinic

P = "/clinic/api/patients"


async def test_the_patients_answers_reach_their_therapist_and_are_reviewed(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    empty = await clinic.ok("GET", f"{P}/{pid}/intake/answers", "patient")
    assert empty == {"answers": None, "submitted_at": None, "reviewed_at": None, "intake_recorded": False}
    answers = {
        "onset_date": (date.today() - timedelta(days=10)).isoformat(),
        "course": "improving",
        "diagnosis": "not_sure",
        "problems": {"eye_closure": True},
        "eye_symptoms": ["dryness"],
        "goals": ["smile in photos"],
    }
    sent = await clinic.ok("PUT", f"{P}/{pid}/intake/answers", "patient", answers)
    assert sent["answers"]["goals"] == ["smile in photos"] and sent["reviewed_at"] is None
    seen = await clinic.ok("GET", f"{P}/{pid}/intake/answers", "therapist")
    assert seen["answers"]["problems"]["eye_closure"] is True and seen["submitted_at"]
    await clinic.ok("PUT", f"{P}/{pid}/intake", "therapist", INTAKE)
    reviewed = await clinic.ok("GET", f"{P}/{pid}/intake/answers", "patient")
    assert reviewed["reviewed_at"] and reviewed["intake_recorded"] is True
    again = await clinic.ok("PUT", f"{P}/{pid}/intake/answers", "patient", {**answers, "course": "stable"})
    assert again["reviewed_at"] is None  # new answers: to review again


async def test_only_the_patient_answers_and_only_for_themselves(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    body = {"onset_date": date.today().isoformat()}
    assert (await clinic.call("PUT", f"{P}/{pid}/intake/answers", "therapist", body)).status == 403
    assert (await clinic.call("PUT", f"{P}/{pid}/intake/answers", "other_patient", body)).status == 403
    assert (await clinic.call("GET", f"{P}/{pid}/intake/answers", "other_therapist")).status == 404
    future = {"onset_date": (date.today() + timedelta(days=3)).isoformat()}
    assert (await clinic.call("PUT", f"{P}/{pid}/intake/answers", "patient", future)).status == 400
    assert (
        await clinic.call("PUT", f"{P}/{pid}/intake/answers", "patient", {"diagnosis": "x"})
    ).status == 422
