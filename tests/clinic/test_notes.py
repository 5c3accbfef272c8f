"""The therapist's session notes: kept in the clinic, shown to therapists only, audited
and never logged; bad input is refused with a JSON error and changes nothing."""

from __future__ import annotations

import logging
from typing import Any

from services.clinic.sessions import NOTES_MAX_CHARS
from tests.clinic.conftest import Clinic, audit_count

NOTES = "Left brow lifts 2 mm more than last week.\nEye closes fully with effort; keep taping at night."


async def home_session(c: Clinic) -> int:
    pid = c.ids["patient"]
    made = await c.ok("POST", f"/clinic/api/patients/{pid}/sessions", "patient", {"kind": "home"}, 201)
    return int(made["id"])


async def test_notes_are_kept_replaced_and_shown_to_the_therapist_only(clinic: Clinic, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    sid = await home_session(clinic)
    url = f"/clinic/api/sessions/{sid}/notes"
    saved = await clinic.ok("PUT", url, "therapist", {"notes": NOTES})
    assert saved["notes"] == NOTES and saved["notes_updated_at"]
    one = await clinic.ok("GET", f"/clinic/api/sessions/{sid}", "therapist")
    assert one["notes"] == NOTES
    pid = clinic.ids["patient"]
    listed = await clinic.ok("GET", f"/clinic/api/patients/{pid}/sessions", "therapist")
    assert [s["notes"] for s in listed] == [NOTES]
    # The patient sees the session and its summary, not the therapist's notes.
    theirs = await clinic.ok("GET", f"/clinic/api/sessions/{sid}", "patient")
    assert "notes" not in theirs and theirs["id"] == sid
    assert all(
        "notes" not in s for s in await clinic.ok("GET", f"/clinic/api/patients/{pid}/sessions", "patient")
    )
    # Saving again replaces them (the page saves on a button and at the end).
    again = await clinic.ok("PUT", url, "therapist", {"notes": NOTES + "\nEnd: tired."})
    assert again["notes"].endswith("End: tired.")
    cleared = await clinic.ok("PUT", url, "therapist", {"notes": ""})
    assert cleared["notes"] == ""
    # The manual treatment given goes with the notes; saving notes alone keeps it.
    given = [{"kind": "massage", "minutes": 10, "note": "left cheek"}, {"kind": "taping"}]
    treated = await clinic.ok("PUT", url, "therapist", {"notes": "", "treatments": given})
    assert [(t["kind"], t["minutes"]) for t in treated["treatments"]] == [("massage", 10), ("taping", None)]
    kept = await clinic.ok("PUT", url, "therapist", {"notes": "After taping."})
    assert len(kept["treatments"]) == 2
    theirs = await clinic.ok("GET", f"/clinic/api/sessions/{sid}", "patient")
    assert "treatments" not in theirs  # therapists only, like the notes
    bad = await clinic.call("PUT", url, "therapist", {"notes": "", "treatments": [{"kind": "surgery"}]})
    assert bad.status == 422
    assert await audit_count(clinic, resource="session_notes", action="update", resource_id=sid) == 5
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "brow lifts" not in text and "taping" not in text  # never logged


async def test_only_the_patients_own_therapist_may_write_notes(clinic: Clinic) -> None:
    sid = await home_session(clinic)
    url = f"/clinic/api/sessions/{sid}/notes"
    body = {"notes": "x"}
    assert (await clinic.call("PUT", url, None, body)).status == 401
    assert (await clinic.call("PUT", url, "patient", body)).status == 403
    assert (await clinic.call("PUT", url, "admin", body)).status == 403
    other = await clinic.call("PUT", url, "other_therapist", body)
    assert other.status == 404 and other.body["error"]["code"] == "not_found"
    assert (await clinic.call("PUT", "/clinic/api/sessions/424242/notes", "therapist", body)).status == 404
    assert await audit_count(clinic, resource="sessions", action="denied") >= 2  # the refused looks
    mine = await clinic.ok("GET", f"/clinic/api/sessions/{sid}", "therapist")
    assert mine["notes"] == ""


async def test_bad_notes_are_refused_with_json_errors_and_change_nothing(clinic: Clinic) -> None:
    sid = await home_session(clinic)
    url = f"/clinic/api/sessions/{sid}/notes"
    await clinic.ok("PUT", url, "therapist", {"notes": NOTES})
    json_header = {"Content-Type": "application/json"}
    cases: list[tuple[Any, int, str]] = [
        ({"notes": "x" * (NOTES_MAX_CHARS + 1)}, 422, "invalid"),  # too long, under the body cap
        ({"notes": 5}, 422, "invalid"),
        ({"notes": None}, 422, "invalid"),
        ({"notes": ["a"]}, 422, "invalid"),
        ({}, 422, "invalid"),
        ({"notes": "ok", "extra": 1}, 422, "invalid"),
        ("just a string", 422, "invalid"),
        ({"notes": "nul\u0000"}, 400, "bad_text"),
    ]
    for body, status, code in cases:
        reply = await clinic.call("PUT", url, "therapist", body)
        assert (reply.status, reply.body["error"]["code"]) == (status, code), (body, reply.body)
    too_big = await clinic.call(
        "PUT", url, "therapist", data=b'{"notes": "' + b"x" * 70_000 + b'"}', headers=json_header
    )
    assert too_big.status == 413 and too_big.body["error"]["code"] == "too_large"
    broken = await clinic.call("PUT", url, "therapist", data=b'{"notes": ', headers=json_header)
    assert broken.status == 400 and broken.body["error"]["code"] == "bad_json"
    kept = await clinic.ok("GET", f"/clinic/api/sessions/{sid}", "therapist")
    assert kept["notes"] == NOTES
    assert await audit_count(clinic, resource="session_notes", action="update") == 1
