"""Booked video calls: moved and cancelled by the patient's therapist only, listed on the
patient's plan while still to come, each as a calendar file; a cancelled call cannot be
joined. (The e-mails with the calendar entry: test_mail.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.clinic.conftest import Clinic


def _at(days: float, hour: int = 10) -> datetime:
    day = datetime.now(UTC) + timedelta(days=days)
    return day.replace(hour=hour, minute=30, second=0, microsecond=0)


async def _book(clinic: Clinic, when: datetime) -> dict[str, object]:
    pid = clinic.ids["patient"]
    body = {"kind": "live", "scheduled_at": when.isoformat()}
    made: dict[str, object] = await clinic.ok(
        "POST", f"/clinic/api/patients/{pid}/sessions", "therapist", body, 201
    )
    return made


async def test_a_booked_call_is_on_the_plan_moves_and_cancels(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    booked = await _book(clinic, _at(3))
    sid = booked["id"]
    assert "links" not in booked  # days ahead: the room opens when someone joins
    assert booked["patient_told"] == {"sent": None}  # no SMTP in this clinic
    plan = await clinic.ok("GET", f"/clinic/api/patients/{pid}/today", "patient")
    assert [c["id"] for c in plan["upcoming_calls"]] == [sid]
    assert plan["live_sessions"] == []  # not today

    later = _at(5, 14)
    moved = await clinic.ok(
        "PATCH", f"/clinic/api/sessions/{sid}", "therapist", {"scheduled_at": later.isoformat()}
    )
    assert datetime.fromisoformat(moved["scheduled_at"]) == later
    entry = await clinic.call("GET", f"/clinic/api/sessions/{sid}/calendar.ics", "patient")
    assert entry.status == 200 and entry.headers["Content-Type"].startswith("text/calendar")
    text = entry.body.decode()
    assert f"DTSTART:{later:%Y%m%dT%H%M%S}Z" in text and "SEQUENCE:1" in text and "METHOD:PUBLISH" in text
    assert "token" not in text  # no join link in a calendar: links are personal and short-lived

    past = {"scheduled_at": _at(-1).isoformat()}
    reply = await clinic.call("PATCH", f"/clinic/api/sessions/{sid}", "therapist", past)
    assert (reply.status, reply.body["error"]["code"]) == (400, "in_the_past")
    far = {"scheduled_at": "9999-12-31T23:59:00Z"}  # its calendar entry's end would overflow
    assert (await clinic.call("PATCH", f"/clinic/api/sessions/{sid}", "therapist", far)).status == 400
    booked_far = await clinic.call(
        "POST", f"/clinic/api/patients/{pid}/sessions", "therapist", {"kind": "live", **far}
    )
    assert booked_far.status == 400
    naive = {"scheduled_at": later.replace(tzinfo=None).isoformat()}
    assert (await clinic.call("PATCH", f"/clinic/api/sessions/{sid}", "therapist", naive)).status == 400
    # The patient and another therapist cannot move or cancel it.
    assert (await clinic.call("PATCH", f"/clinic/api/sessions/{sid}", "patient", past)).status == 403
    assert (await clinic.call("POST", f"/clinic/api/sessions/{sid}/cancel", "patient")).status == 403
    assert (await clinic.call("POST", f"/clinic/api/sessions/{sid}/cancel", "other_therapist")).status == 404
    assert (
        await clinic.call("GET", f"/clinic/api/sessions/{sid}/calendar.ics", "other_patient")
    ).status == 403

    cancelled = await clinic.ok("POST", f"/clinic/api/sessions/{sid}/cancel", "therapist")
    assert cancelled["status"] == "cancelled"
    plan = await clinic.ok("GET", f"/clinic/api/patients/{pid}/today", "patient")
    assert plan["upcoming_calls"] == []
    reply = await clinic.call("GET", f"/clinic/api/sessions/{sid}/join", "patient")
    assert (reply.status, reply.body["error"]["code"]) == (409, "session_cancelled")
    for method, path, body in (
        ("POST", f"/clinic/api/sessions/{sid}/cancel", None),
        ("PATCH", f"/clinic/api/sessions/{sid}", {"scheduled_at": later.isoformat()}),
    ):
        reply = await clinic.call(method, path, "therapist", body)
        assert (reply.status, reply.body["error"]["code"]) == (409, "session_cancelled"), path
    text = (await clinic.call("GET", f"/clinic/api/sessions/{sid}/calendar.ics", "patient")).body.decode()
    assert "METHOD:CANCEL" in text and "STATUS:CANCELLED" in text and "SEQUENCE:2" in text


async def test_a_home_session_is_not_a_call_to_move(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    home = await clinic.ok("POST", f"/clinic/api/patients/{pid}/sessions", "patient", {"kind": "home"}, 201)
    reply = await clinic.call("POST", f"/clinic/api/sessions/{home['id']}/cancel", "therapist")
    assert (reply.status, reply.body["error"]["code"]) == (400, "not_a_call")
