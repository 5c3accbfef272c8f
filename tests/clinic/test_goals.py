"""Goals tied to measures: agreed by the therapist, read by the patient, each with its
measure's latest value and whether it meets the target; reviewed (achieved, dropped)."""

from __future__ import annotations

from testkit.clinic_records import summary
from tests.clinic.conftest import Clinic

P = "/clinic/api/patients"


async def test_goals_show_progress_against_their_targets_and_are_reviewed(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    smile = {"text": "A symmetric smile", "measure": "mouth_symmetry", "target": 0.8}
    made = await clinic.ok("POST", f"{P}/{pid}/goals", "therapist", smile, 201)
    assert made["latest"] is None and made["met"] is None  # nothing measured yet
    words = await clinic.ok("POST", f"{P}/{pid}/goals", "therapist", {"text": "Whistle again"}, 201)
    assert words["measure"] is None and "direction" not in words
    synk = {"text": "Less eye closing when I smile", "measure": "synkinesis", "target": 0.1}
    await clinic.ok("POST", f"{P}/{pid}/goals", "therapist", synk, 201)

    # A home session: mouth symmetry 0.7, synkinesis 0.2 (testkit.clinic_records).
    s = await clinic.ok("POST", f"{P}/{pid}/sessions", "patient", {"kind": "home"}, 201)
    await clinic.ok("POST", f"/clinic/api/sessions/{s['id']}/summary", "patient", summary("g", 0.7), 201)
    goals = {g["text"]: g for g in await clinic.ok("GET", f"{P}/{pid}/goals", "patient")}
    assert goals["A symmetric smile"]["latest"]["value"] == 0.7 and goals["A symmetric smile"]["met"] is False
    assert goals["Less eye closing when I smile"]["direction"] == "at_most"
    assert goals["Less eye closing when I smile"]["met"] is False  # 0.2 > 0.1

    s = await clinic.ok("POST", f"{P}/{pid}/sessions", "patient", {"kind": "home"}, 201)
    await clinic.ok("POST", f"/clinic/api/sessions/{s['id']}/summary", "patient", summary("h", 0.85), 201)
    [smiling] = [g for g in await clinic.ok("GET", f"{P}/{pid}/goals", "therapist") if g["id"] == made["id"]]
    assert smiling["latest"]["value"] == 0.85 and smiling["met"] is True

    reviewed = await clinic.ok(
        "PATCH",
        f"/clinic/api/goals/{made['id']}",
        "therapist",
        {"status": "achieved", "review_note": "Even now."},
    )
    assert (
        reviewed["status"] == "achieved"
        and reviewed["reviewed_at"]
        and reviewed["review_note"] == "Even now."
    )
    order = [g["status"] for g in await clinic.ok("GET", f"{P}/{pid}/goals", "therapist")]
    assert order == ["active", "active", "achieved"]  # the active ones first
    assert words["id"] in [g["id"] for g in await clinic.ok("GET", f"{P}/{pid}/goals", "therapist")]


async def test_goals_are_the_patients_therapists_to_set_and_targets_are_checked(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    smile = {"text": "Smile", "measure": "mouth_symmetry", "target": 0.8}
    assert (await clinic.call("POST", f"{P}/{pid}/goals", "patient", smile)).status == 403
    assert (await clinic.call("POST", f"{P}/{pid}/goals", "other_therapist", smile)).status == 404
    assert (await clinic.call("GET", f"{P}/{pid}/goals", "other_patient")).status == 403
    for body, code in (
        ({"text": "Smile", "measure": "mouth_symmetry", "target": 1.5}, "target_out_of_range"),
        ({"text": "Smile", "measure": "mouth_symmetry"}, "target_missing"),
        ({"text": "Smile", "target": 0.5}, "target_without_measure"),
    ):
        reply = await clinic.call("POST", f"{P}/{pid}/goals", "therapist", body)
        assert (reply.status, reply.body["error"]["code"]) == (400, code), body
    assert (await clinic.call("POST", f"{P}/{pid}/goals", "therapist", {"text": ""})).status == 422
    made = await clinic.ok("POST", f"{P}/{pid}/goals", "therapist", smile, 201)
    assert (
        await clinic.call("PATCH", f"/clinic/api/goals/{made['id']}", "other_therapist", {})
    ).status == 404
    assert (await clinic.call("PATCH", f"/clinic/api/goals/{made['id']}", "patient", {})).status == 403
    # Erasing the patient erases their goals; the export has them before.
    export = await clinic.ok("GET", f"{P}/{pid}/export", "patient")
    assert [g["text"] for g in export["goals"]] == ["Smile"]
