"""The programme's reading: the patient marks each item read, once; their therapist sees
which; nobody else can, and an item not in the programme cannot be marked."""

from __future__ import annotations

from testkit.clinic_records import PROGRAMME
from tests.clinic.conftest import Clinic

P = "/clinic/api/patients"


async def test_the_patient_marks_reading_read_once_and_the_therapist_sees_it(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    await clinic.ok("PUT", f"{P}/{pid}/programme", "therapist", PROGRAMME, 201)
    [item] = await clinic.ok("GET", f"{P}/{pid}/education", "patient")
    assert item["key"] == "recovery_stages" and item["read_at"] is None
    first = await clinic.ok("POST", f"{P}/{pid}/education/recovery_stages/read", "patient", status=201)
    again = await clinic.ok("POST", f"{P}/{pid}/education/recovery_stages/read", "patient", status=200)
    assert again["read_at"] == first["read_at"]  # once: the first reading counts
    [seen] = await clinic.ok("GET", f"{P}/{pid}/education", "therapist")
    assert seen["read_at"] == first["read_at"]
    reply = await clinic.call("POST", f"{P}/{pid}/education/not_in_it/read", "patient")
    assert reply.status == 404
    assert (await clinic.call("POST", f"{P}/{pid}/education/recovery_stages/read", "therapist")).status == 403
    assert (await clinic.call("GET", f"{P}/{pid}/education", "other_patient")).status == 403
    assert (await clinic.call("GET", f"{P}/{pid}/education", "other_therapist")).status == 404
    export = await clinic.ok("GET", f"{P}/{pid}/export", "patient")
    assert [r["key"] for r in export["education_reads"]] == ["recovery_stages"]


async def test_the_catalogue_offers_real_reading_on_each_topic(clinic: Clinic) -> None:
    catalogue = await clinic.ok("GET", "/clinic/api/catalogue", "therapist")
    topics = {item["key"]: item["text"] for item in catalogue["education"]}
    for key in ("facial_function", "recovery_stages", "synkinesis", "eye_protection_why", "hemifacial_spasm"):
        assert len(topics[key].split()) > 60, key  # paragraphs, not one line
