"""The clinic's main paths, as a therapist and a patient use them."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
from pypdf import PdfReader
from sqlalchemy import func, select

from services.clinic import audit
from services.clinic.app import sessions_key
from services.clinic.db import utcnow
from services.clinic.models import Programme, User
from services.clinic.progress import History, SessionRecord, weekly_adherence
from shared.settings import Settings
from testkit.clinic_records import INTAKE, PROGRAMME, SUNNYBROOK, summary
from tests.clinic.conftest import PASSWORD, Clinic, audit_count

P = "/clinic/api/patients"


async def test_intake_is_recorded_read_back_and_audited(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    await clinic.ok("PUT", f"{P}/{pid}/intake", "therapist", INTAKE)
    mine = await clinic.ok("GET", f"{P}/{pid}/intake", "patient")
    assert mine["diagnosis"] == "bells_palsy" and mine["goals"] == ["symmetric smile", "close my eye"]
    assert mine["treatments"]["corticosteroids"] is True and mine["eye_care"]["taping"] is False
    changed = {**INTAKE, "course": "stable"}
    assert (await clinic.ok("PUT", f"{P}/{pid}/intake", "therapist", changed))["course"] == "stable"
    assert await audit_count(clinic, resource="intake", patient_id=pid, action="create") == 1
    assert await audit_count(clinic, resource="intake", patient_id=pid, action="update") == 1
    assert await audit_count(clinic, resource="intake", patient_id=pid, action="read") == 1


async def test_therapist_sunnybrook_is_scored_and_estimates_sit_beside_it(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    graded = await clinic.ok(
        "POST", f"{P}/{pid}/assessments", "therapist", {"sunnybrook": SUNNYBROOK, "house_brackmann": 4}, 201
    )
    # voluntary (2+3+2+2+3)*4 = 48, resting (1+1+0)*5 = 10, synkinesis 2 → 36
    assert graded["sunnybrook"]["composite"] == 36 and graded["sunnybrook"]["resting_score"] == 10
    assert graded["source"] == "therapist" and graded["estimate"] is False
    session = await clinic.ok("POST", f"{P}/{pid}/sessions", "patient", {"kind": "home"}, 201)
    await clinic.ok(
        "POST",
        f"/clinic/api/sessions/{session['id']}/summary",
        "therapist",
        summary("home-1", estimate=True),
        201,
    )
    rows = await clinic.ok("GET", f"{P}/{pid}/assessments", "therapist")
    assert [(r["source"], r["sunnybrook"]["composite"]) for r in rows] == [
        ("therapist", 36),
        ("estimate", 39),
    ]
    assert rows[1]["estimate"] is True and rows[1]["session_id"] == session["id"]


async def test_programme_versions_and_todays_plan_with_checkoffs(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    v1 = await clinic.ok("PUT", f"{P}/{pid}/programme", "therapist", PROGRAMME, 201)
    assert v1["version"] == 1
    brow = v1["exercises"][1]
    assert (brow["reps"], brow["sets"], brow["hold_s"]) == (10, 1, 3.0)  # the catalogue's dose
    v2 = await clinic.ok("PUT", f"{P}/{pid}/programme", "therapist", {**PROGRAMME, "note": "more holds"}, 201)
    assert v2["version"] == 2
    assert [v["version"] for v in await clinic.ok("GET", f"{P}/{pid}/programme/versions", "patient")] == [
        1,
        2,
    ]

    await clinic.ok("POST", f"{P}/{pid}/checkoffs", "patient", {"item": "eye_drops"}, 201)
    await clinic.ok("POST", f"{P}/{pid}/checkoffs", "patient", {"item": "eye_ointment"}, 201)
    session = await clinic.ok("POST", f"{P}/{pid}/sessions", "patient", {"kind": "home"}, 201)
    await clinic.ok("POST", f"/clinic/api/sessions/{session['id']}/summary", "patient", summary("h"), 201)

    plan = await clinic.ok("GET", f"{P}/{pid}/today", "patient")
    assert plan["programme_version"] == 2 and plan["reminder_times"] == ["08:30", "18:00"]
    smile = plan["exercises"][0]
    assert smile["name"] == "closed_smile" and smile["done_today"] == 1 and smile["complete"] is False
    assert smile["done_live_today"] == 0
    care = {i["key"]: i for i in plan["self_care"]}
    assert care["eye_drops"]["checked_today"] == 1 and care["eye_drops"]["complete"] is False
    assert care["eye_ointment"]["complete"] is True and care["massage"]["checked_today"] == 0
    assert plan["eye_protection"] == ["Wear glasses outdoors."]
    reminders = await clinic.ok("GET", f"{P}/{pid}/reminders", "patient")
    assert [r["local_time"] for r in reminders["reminders"]] == ["08:30", "18:00"]


async def test_home_practice_counts_as_adherence_and_feeds_progress(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    await clinic.ok("PUT", f"{P}/{pid}/programme", "therapist", PROGRAMME, 201)
    for symmetry, twitches in ((0.6, 0), (0.7, 3)):
        s = await clinic.ok("POST", f"{P}/{pid}/sessions", "patient", {"kind": "home"}, 201)
        await clinic.ok(
            "POST",
            f"/clinic/api/sessions/{s['id']}/summary",
            "patient",
            summary("x", symmetry, twitches=twitches),
            201,
        )
    await clinic.ok("POST", f"{P}/{pid}/questionnaires", "patient", {"kind": "saq", "answers": [2] * 9}, 201)
    progress = await clinic.ok("GET", f"{P}/{pid}/progress", "therapist")
    assert [p["value"] for p in progress["symmetry"]["mouth"]] == [0.6, 0.7]
    assert [p["value"] for p in progress["symmetry"]["brow"]] == [0.9, 0.9]
    assert progress["resting_asymmetry"]["mouth_mm"][0]["value"] == -2.5
    assert progress["synkinesis"][0]["value"] == 0.2
    # Twitches at rest: the session that saw some, with its count.
    assert [p["value"] for p in progress["spasms"]] == [3]
    week = progress["adherence"][-1]
    # brow_raise asks for 7 days a week (the default); the programme began today, so
    # this week asks for today only, and today's practice meets it.
    assert week["practice_days"] == 1 and week["target_days"] == 1 and week["value"] == 1.0
    assert progress["questionnaires"]["saq_total"][0]["value"] == 40.0


async def test_a_patient_in_care_not_graded_for_four_weeks_is_due_a_reassessment(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]

    async def due() -> tuple[bool, Any]:
        [me] = [p for p in await clinic.ok("GET", P, "therapist") if p["id"] == pid]
        return me["reassessment_due"], me["last_graded_at"]

    assert await due() == (False, None)  # no intake yet: not in care
    await clinic.ok("PUT", f"{P}/{pid}/intake", "therapist", INTAKE)
    assert await due() == (True, None)  # in care, never graded
    old = (datetime.now(UTC) - timedelta(days=40)).replace(microsecond=0)
    body = {"sunnybrook": SUNNYBROOK, "assessed_at": old.isoformat()}
    await clinic.ok("POST", f"{P}/{pid}/assessments", "therapist", body, 201)
    is_due, last = await due()
    assert is_due and datetime.fromisoformat(last) == old, last
    await clinic.ok("POST", f"{P}/{pid}/assessments", "therapist", {"house_brackmann": 3}, 201)
    assert (await due())[0] is False  # graded today


def test_adherence_counts_from_the_programmes_first_day_and_up_to_today() -> None:
    # A programme of 5 days a week begun on Thursday 5 November: that week asks for 3 of
    # its 4 days (5 x 4/7, rounded up), the next one for 5, the week under way (to
    # Wednesday 18th) for 3 (5 x 3/7 rounded up).
    begun = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
    programme = {"exercises": [{"days_per_week": 5}], "self_care": []}
    practised = [date(2026, 11, d) for d in (2, 5, 6, 9, 10, 11, 12, 13, 16, 17)]  # the 2nd: before it
    h = History(
        patient_id=1,
        programmes=[(begun, programme)],
        sessions=[
            SessionRecord(datetime(d.year, d.month, d.day, 12, tzinfo=UTC), "home", {}) for d in practised
        ],
    )
    weeks = weekly_adherence(h, date(2026, 11, 18))
    assert [(w["practice_days"], w["target_days"], w["value"]) for w in weeks] == [
        (2, 3, 0.667),
        (5, 5, 1.0),
        (2, 3, 0.667),
    ]


async def test_summary_is_stored_once(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    s = await clinic.ok("POST", f"{P}/{pid}/sessions", "patient", {"kind": "home"}, 201)
    url = f"/clinic/api/sessions/{s['id']}/summary"
    await clinic.ok("POST", url, "therapist", summary("a", estimate=True), 201)
    again = await clinic.call("POST", url, "therapist", summary("a", estimate=True))
    assert again.status == 409 and again.body["error"]["code"] == "summary_exists"
    rows = await clinic.ok("GET", f"{P}/{pid}/assessments", "therapist")
    assert len(rows) == 1


async def test_a_patients_summary_is_refused_when_its_figures_are_impossible_or_it_claims_an_estimate(
    clinic: Clinic,
) -> None:
    pid = clinic.ids["patient"]
    s = await clinic.ok("POST", f"{P}/{pid}/sessions", "patient", {"kind": "home"}, 201)
    url = f"/clinic/api/sessions/{s['id']}/summary"
    good = summary("a")
    forged = [
        {**good, "frames": 2**63 + 5},
        {**good, "exercises": [{**good["exercises"][0], "reps": 999_999}]},
        {**good, "exercises": [{**good["exercises"][0], "symmetry": 1e300}]},
        {**good, "exercises": [{**good["exercises"][0], "quality": -0.5}]},
        {**good, "resting": {"brow_mm": 0.0, "eye_mm": 0.0, "mouth_mm": 5000.0}},
        {
            **summary("a", estimate=True),
            "assessment": {**summary("a", estimate=True)["assessment"], "composite": 987654321},
        },
    ]
    for body in forged:
        reply = await clinic.call("POST", url, "patient", body)
        assert reply.status == 422, (body, reply.body)
    made_up = await clinic.call("POST", url, "patient", summary("a", estimate=True))
    assert made_up.status == 403
    assert await clinic.ok("GET", f"{P}/{pid}/assessments", "therapist") == []
    await clinic.ok("POST", url, "patient", good, 201)  # nothing above was kept


async def test_questionnaires_store_answers_and_scores(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    face = await clinic.ok(
        "POST", f"{P}/{pid}/questionnaires", "patient", {"kind": "face", "answers": [5] * 15}, 201
    )
    assert face["scores"]["total"] == 100.0 and face["answers"] == [5] * 15
    fdi = await clinic.ok(
        "POST",
        f"{P}/{pid}/questionnaires",
        "therapist",
        {"kind": "fdi", "answers": [5, 4, None, 4, 5, 6, 5, 4, 3, 2]},
        201,
    )
    # physical (18 - 4) / 4 × 25; social (20 - 5) / 5 × 20
    assert fdi["scores"] == {"physical": 87.5, "social": 60.0}
    listed = await clinic.ok("GET", f"{P}/{pid}/questionnaires?kind=fdi", "patient")
    assert [r["id"] for r in listed] == [fdi["id"]]
    bad = await clinic.call(
        "POST", f"{P}/{pid}/questionnaires", "patient", {"kind": "saq", "answers": [6] * 9}
    )
    assert bad.status == 400 and bad.body["error"]["code"] == "bad_answers"


async def test_referral_flags_are_suggested_then_accepted_or_dismissed(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    await clinic.ok("PUT", f"{P}/{pid}/intake", "therapist", {**INTAKE, "new_symptoms": ["hearing_loss"]})
    # The rules ran when the intake was saved: the flags are there at once.
    codes = {f["code"]: f for f in await clinic.ok("GET", f"{P}/{pid}/referral-flags", "therapist")}
    assert set(codes) == {"eye_exposure", "new_symptoms"}
    assert codes["eye_exposure"]["specialty"] == "ophthalmology"
    assert "dryness" in codes["eye_exposure"]["reason"]
    assert await clinic.ok("POST", f"{P}/{pid}/referral-flags/evaluate", "therapist") == []  # no duplicates
    letter = f"/clinic/api/referral-flags/{codes['eye_exposure']['id']}/letter.pdf"
    not_yet = await clinic.call("GET", letter, "therapist")
    assert not_yet.status == 409 and not_yet.body["error"]["code"] == "not_accepted"
    done = await clinic.ok(
        "POST",
        f"/clinic/api/referral-flags/{codes['eye_exposure']['id']}/decision",
        "therapist",
        {"decision": "accepted", "note": "letter sent"},
    )
    assert done["status"] == "accepted" and done["decided_by"] == clinic.ids["therapist"]
    reply = await clinic.call("GET", letter, "therapist")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(reply.body)).pages)
    assert "Referral to ophthalmology" in text and "Pat patient" in text
    assert "dryness" in text and "letter sent" in text  # the evidence and the therapist's note
    assert (await clinic.call("GET", letter, "other_therapist")).status == 404
    assert (await clinic.call("GET", letter, "patient")).status == 403
    await clinic.ok(
        "POST",
        f"/clinic/api/referral-flags/{codes['new_symptoms']['id']}/decision",
        "therapist",
        {"decision": "dismissed"},
    )
    again = await clinic.call(
        "POST",
        f"/clinic/api/referral-flags/{codes['new_symptoms']['id']}/decision",
        "therapist",
        {"decision": "accepted"},
    )
    assert again.status == 409
    flags = await clinic.ok("GET", f"{P}/{pid}/referral-flags", "therapist")
    assert sorted(f["status"] for f in flags) == ["accepted", "dismissed"]


async def test_totp_once_enabled_is_required_to_sign_in(clinic: Clinic) -> None:
    import time

    import pyotp

    began = await clinic.ok("POST", "/clinic/api/me/totp", "therapist")
    totp = pyotp.TOTP(began["secret"])
    # Codes change every 30 s: start right after a step begins, so the test's codes and
    # the server's clock agree on the step (no flake at the boundary).
    await asyncio.sleep(-time.time() % totp.interval + 0.05 if time.time() % totp.interval > 20 else 0)
    wrong = await clinic.call(
        "POST",
        "/clinic/api/me/totp/confirm",
        "therapist",
        {"code": "000000" if totp.now() != "000000" else "111111", "password": PASSWORD},
    )
    assert wrong.status == 403
    earlier = totp.at(time.time() - 30)  # the previous step's code (clock drift allowed)
    # A bearer token alone cannot switch it on (a thief would lock the owner out).
    stolen = await clinic.call(
        "POST", "/clinic/api/me/totp/confirm", "therapist", {"code": earlier, "password": "a guess, wrong"}
    )
    assert stolen.status == 401
    await clinic.ok(
        "POST", "/clinic/api/me/totp/confirm", "therapist", {"code": earlier, "password": PASSWORD}
    )
    async with clinic.app[sessions_key]() as db:  # kept sealed, not as the secret itself
        stored = await db.scalar(select(User.totp_secret).where(User.id == clinic.ids["therapist"]))
    assert stored is not None and began["secret"] not in stored
    without = await clinic.login("therapist@clinic.test")
    assert without.status == 401 and without.body["error"]["code"] == "totp_required"
    code = totp.now()
    assert (await clinic.login("therapist@clinic.test", totp=code)).status == 200
    replay = await clinic.login("therapist@clinic.test", totp=code)  # a code signs in once
    assert replay.status == 401 and replay.body["error"]["code"] == "invalid_credentials"
    ahead = totp.at(time.time() + 30)  # the next step's code (drift allowed), sent twice at once
    twice = await asyncio.gather(*(clinic.login("therapist@clinic.test", totp=ahead) for _ in range(2)))
    assert sorted(r.status for r in twice) == [200, 401]
    assert (await clinic.login("therapist@clinic.test", totp=earlier)).status == 401  # older step
    bad_password = await clinic.login("therapist@clinic.test", "wrong password!", totp=totp.now())
    assert bad_password.status == 401 and bad_password.body["error"]["code"] == "invalid_credentials"


async def test_magic_links_work_once_and_patients_cannot_use_passwords(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    invite = await clinic.ok("POST", f"{P}/{pid}/invite", "therapist")
    assert invite["sent"] is False and invite["link"].startswith("http://telerehab.test/clinic/magic#token=")
    token = invite["link"].split("#token=")[1]
    signed = await clinic.ok("POST", "/clinic/api/auth/magic", None, {"token": token})
    assert signed["user"]["id"] == pid and signed["user"]["role"] == "patient"
    reuse = await clinic.call("POST", "/clinic/api/auth/magic", json={"token": token})
    assert reuse.status == 401 and reuse.body["error"]["code"] == "used_link"
    forged = await clinic.call("POST", "/clinic/api/auth/magic", json={"token": "x" * 43})
    assert forged.status == 401 and forged.body["error"]["code"] == "invalid_link"


async def test_a_magic_link_signs_in_once_even_at_the_same_moment_and_a_new_one_retires_the_old(
    clinic: Clinic,
) -> None:
    pid = clinic.ids["patient"]
    older = (await clinic.ok("POST", f"{P}/{pid}/invite", "therapist"))["link"].split("#token=")[1]
    token = (await clinic.ok("POST", f"{P}/{pid}/invite", "therapist"))["link"].split("#token=")[1]
    retired = await clinic.call("POST", "/clinic/api/auth/magic", json={"token": older})
    assert retired.status == 401 and retired.body["error"]["code"] == "invalid_link"
    replies = await asyncio.gather(
        *(clinic.call("POST", "/clinic/api/auth/magic", json={"token": token}) for _ in range(10))
    )
    assert sorted(r.status for r in replies) == [200] + [401] * 9
    assert {r.body["error"]["code"] for r in replies if r.status == 401} == {"used_link"}
    assert (await clinic.login("patient@example.test", "anything at all")).status == 401
    # Signing out revokes the bearer token.
    await clinic.ok("POST", "/clinic/api/auth/logout", "patient")
    assert (await clinic.call("GET", "/clinic/api/me", "patient")).status == 401


async def test_bad_input_gets_clear_json_errors_and_writes_nothing(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    url = f"{P}/{pid}/programme"
    malformed = await clinic.call(
        "PUT", url, "therapist", data=b'{"exercises": [', headers={"Content-Type": "application/json"}
    )
    assert malformed.status == 400 and malformed.body["error"]["code"] == "bad_json"
    wrong_type = await clinic.call(
        "PUT", url, "therapist", {"exercises": [{"name": "brow_raise", "reps": "ten"}]}
    )
    assert wrong_type.status == 422 and "reps" in wrong_type.body["error"]["message"]
    unknown = await clinic.call(
        "PUT", url, "therapist", {"exercises": [{"name": "brow_raise"}, {"name": "jump"}]}
    )
    assert unknown.status == 400 and unknown.body["error"]["code"] == "unknown_exercise"
    big = await clinic.call(
        "PUT",
        url,
        "therapist",
        data=b'{"note": "' + b"x" * 70_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert big.status == 413 and big.body["error"]["code"] == "too_large"
    extra = await clinic.call("PUT", url, "therapist", {"exercises": [], "surprise": 1})
    assert extra.status == 422
    missing = await clinic.call("GET", f"{P}/999999/programme", "therapist")
    assert missing.status == 404 and missing.body["error"]["code"] == "not_found"
    not_a_number = await clinic.call("GET", f"{P}/abc/intake", "therapist")
    assert not_a_number.status == 404
    no_route = await clinic.call("GET", "/clinic/api/nothing-here", "therapist")
    assert no_route.status == 404 and "error" in no_route.body
    wrong_method = await clinic.call("DELETE", f"{P}/{pid}/intake", "therapist")
    assert wrong_method.status == 405 and "error" in wrong_method.body
    nul = await clinic.call("PUT", f"{P}/{pid}/intake", "therapist", {**INTAKE, "imaging": "MRI\u0000"})
    assert nul.status == 400 and nul.body["error"]["code"] == "bad_text"
    future = await clinic.call(
        "PUT", f"{P}/{pid}/intake", "therapist", {**INTAKE, "onset_date": "2999-01-01"}
    )
    assert future.status == 400
    async with clinic.app[sessions_key]() as db:
        assert await db.scalar(select(func.count()).select_from(Programme)) == 0


async def test_a_failure_inside_a_request_rolls_back_everything(clinic: Clinic) -> None:
    """Sunnybrook out of range after the row was built: neither the assessment nor its
    audit entry is kept."""
    pid = clinic.ids["patient"]
    bad = {**SUNNYBROOK, "voluntary": {**SUNNYBROOK["voluntary"], "snarl": 9}}
    reply = await clinic.call("POST", f"{P}/{pid}/assessments", "therapist", {"sunnybrook": bad})
    assert reply.status == 400 and "snarl" in reply.body["error"]["message"]
    assert await clinic.ok("GET", f"{P}/{pid}/assessments", "therapist") == []
    assert await audit_count(clinic, resource="assessment", action="create") == 0


async def test_denied_looks_are_audited_without_content(clinic: Clinic) -> None:
    other = clinic.ids["other_patient"]
    assert (await clinic.call("GET", f"{P}/{other}/intake", "therapist")).status == 404
    assert (await clinic.call("GET", f"{P}/{other}/intake", "patient")).status == 403
    entries = await clinic.ok("GET", f"/clinic/api/audit?patient_id={other}", "admin")
    denied = [e for e in entries if e["action"] == "denied"]
    assert {e["actor_id"] for e in denied} == {clinic.ids["therapist"], clinic.ids["patient"]}
    assert set(denied[0]) == {
        "id",
        "at",
        "actor_id",
        "actor_role",
        "action",
        "resource",
        "patient_id",
        "resource_id",
    }


async def test_scheduling_far_ahead_opens_no_room_yet(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    s = await clinic.ok(
        "POST", f"{P}/{pid}/sessions", "therapist", {"kind": "live", "scheduled_at": later}, 201
    )
    assert s["gateway_sid"] is None and "links" not in s
    live = await clinic.call("POST", f"{P}/{pid}/sessions", "patient", {"kind": "live"})
    assert live.status == 403


async def test_logs_carry_ids_never_names_emails_or_tokens(clinic: Clinic, caplog: Any) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    pid = clinic.ids["patient"]
    made = await clinic.ok(
        "POST", P, "therapist", {"email": "secret.person@example.test", "name": "Ada Secret"}, 201
    )
    token = made["invite"]["link"].split("#token=")[1]
    signed = await clinic.ok("POST", "/clinic/api/auth/magic", None, {"token": token})
    await clinic.ok("PUT", f"{P}/{pid}/intake", "therapist", INTAKE)
    await clinic.call("PUT", f"{P}/{pid}/intake", "therapist", {**INTAKE, "diagnosis": "nonsense"})
    await clinic.call("GET", f"{P}/{made['patient']['id']}/intake", "other_therapist")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "audit actor=" in text  # the audit lines are there…
    for secret in ("secret.person", "Ada Secret", token, signed["token"], clinic.tokens["therapist"], "MRI"):
        assert secret not in text  # …with no personal details, tokens or clinical content


async def test_concurrent_programme_changes_never_share_a_version(clinic: Clinic) -> None:
    import asyncio

    pid = clinic.ids["patient"]
    replies = await asyncio.gather(
        *(
            clinic.call("PUT", f"{P}/{pid}/programme", "therapist", {**PROGRAMME, "note": str(i)})
            for i in range(6)
        )
    )
    assert {r.status for r in replies} <= {201, 409}
    made = sorted(r.body["version"] for r in replies if r.status == 201)
    assert made == list(range(1, len(made) + 1))
    versions = await clinic.ok("GET", f"{P}/{pid}/programme/versions", "therapist")
    assert [v["version"] for v in versions] == made


async def test_a_flood_of_concurrent_wrong_passwords_is_counted_exactly_and_harms_nobody_else(
    clinic: Clinic,
) -> None:
    """41 guesses at once: exactly 5 are checked and recorded, the rest are refused before
    any password is checked, none fails with a 500, and another therapist is served."""
    guesses = [clinic.login("therapist@clinic.test", f"guess number {i}") for i in range(41)]
    replies = await asyncio.gather(*guesses, clinic.call("GET", "/clinic/api/me", "other_therapist"))
    statuses = [r.status for r in replies[:-1]]
    assert replies[-1].status == 200
    assert statuses.count(401) == 5 and statuses.count(429) == 36, statuses
    failures = await clinic.ok("GET", "/clinic/api/audit", "admin")
    assert (
        sum(e["action"] == "login_failed" and e["actor_id"] == clinic.ids["therapist"] for e in failures) == 5
    )


async def test_unknown_e_mails_are_refused_like_real_ones(clinic: Clinic) -> None:
    """The 429 does not reveal which addresses have accounts."""
    for email in ("therapist@clinic.test", "nobody.here@clinic.test"):
        replies = [await clinic.login(email, "not the password") for _ in range(6)]
        assert [r.status for r in replies] == [401] * 5 + [429]


async def test_a_password_change_needs_the_old_one_and_signs_out_the_other_devices(clinic: Clinic) -> None:
    other_device = (await clinic.login("therapist@clinic.test")).body["token"]
    change = {"current": PASSWORD, "new": "a brand new passphrase"}
    wrong = await clinic.call(
        "POST", "/clinic/api/me/password", "therapist", {**change, "current": "not it at all"}
    )
    assert wrong.status == 401
    done = await clinic.ok("POST", "/clinic/api/me/password", "therapist", change)
    assert done["signed_out"] >= 1
    gone = await clinic.call("GET", "/clinic/api/me", headers={"Authorization": f"Bearer {other_device}"})
    assert gone.status == 401
    await clinic.ok("GET", "/clinic/api/me", "therapist")  # this device stays signed in
    assert (await clinic.login("therapist@clinic.test")).status == 401
    assert (await clinic.login("therapist@clinic.test", "a brand new passphrase")).status == 200


async def test_sign_out_everywhere_ends_every_sign_in(clinic: Clinic) -> None:
    second = (await clinic.login("therapist@clinic.test")).body["token"]
    await clinic.ok("POST", "/clinic/api/me/sign-out-everywhere", "therapist")
    for token in (second, clinic.tokens["therapist"]):
        reply = await clinic.call("GET", "/clinic/api/me", headers={"Authorization": f"Bearer {token}"})
        assert reply.status == 401


async def test_an_admin_switches_a_therapist_off_and_on(clinic: Clinic) -> None:
    tid = clinic.ids["therapist"]
    assert (await clinic.call("POST", f"/clinic/api/therapists/{tid}/deactivate", "therapist")).status == 403
    off = await clinic.ok("POST", f"/clinic/api/therapists/{tid}/deactivate", "admin")
    assert off["active"] is False
    reply = await clinic.call("GET", "/clinic/api/me", "therapist")  # signed out at once
    assert reply.status == 401
    refused = await clinic.login("therapist@clinic.test")
    assert refused.status == 403 and refused.body["error"]["code"] == "account_off"
    assert (await clinic.call("POST", "/clinic/api/therapists/999999/deactivate", "admin")).status == 404
    on = await clinic.ok("POST", f"/clinic/api/therapists/{tid}/reactivate", "admin")
    assert on["active"] is True
    assert (await clinic.login("therapist@clinic.test")).status == 200


async def test_sign_in_events_are_in_the_audit_log(clinic: Clinic) -> None:
    therapist = clinic.ids["therapist"]
    assert (await clinic.login("therapist@clinic.test", "wrong password!")).status == 401
    signed = await clinic.login("therapist@clinic.test")
    token = signed.body["token"]
    bye = await clinic.call("POST", "/clinic/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert bye.status == 200
    await clinic.ok("POST", "/clinic/api/me/totp", "therapist")
    made = await clinic.ok(
        "POST",
        "/clinic/api/therapists",
        "admin",
        {"email": "new.one@clinic.test", "name": "New One", "password": "long enough password"},
        201,
    )
    await clinic.ok("GET", "/clinic/api/audit", "admin")
    entries = await clinic.ok("GET", "/clinic/api/audit", "admin")
    seen = {(e["action"], e["resource"], e["actor_id"]) for e in entries}
    for expected in (
        ("login_failed", "auth", therapist),
        ("login", "auth", therapist),
        ("logout", "auth", therapist),
        ("totp_begun", "auth", therapist),
        ("create", "therapist", clinic.ids["admin"]),
        ("read", "audit", clinic.ids["admin"]),
    ):
        assert expected in seen, expected
    assert any(e["resource_id"] == made["id"] for e in entries if e["resource"] == "therapist")


async def test_repeated_wrong_passwords_lock_the_account_for_a_while(clinic: Clinic) -> None:
    for _ in range(5):
        assert (await clinic.login("therapist@clinic.test", "not the password")).status == 401
    locked = await clinic.login("therapist@clinic.test")  # the right password, too late
    assert locked.status == 429 and locked.body["error"]["code"] == "too_many_attempts"
    assert (await clinic.login("other_therapist@clinic.test")).status == 200  # others unaffected
    # The owner, at another address, still signs in: a guesser cannot lock them out.
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    ) as elsewhere:
        body = {"email": "therapist@clinic.test", "password": PASSWORD}
        async with elsewhere.post(f"{clinic.url}/clinic/api/auth/login", json=body) as reply:
            assert reply.status == 200
    failures = await clinic.ok("GET", "/clinic/api/audit", "admin")
    assert (
        sum(e["action"] == "login_failed" and e["actor_id"] == clinic.ids["therapist"] for e in failures) == 5
    )


async def test_a_patient_and_their_therapist_can_export_everything_held_about_them(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    await clinic.ok("PUT", f"{P}/{pid}/intake", "therapist", INTAKE)
    await clinic.ok("PUT", f"{P}/{pid}/programme", "therapist", PROGRAMME, 201)
    await clinic.ok("POST", f"{P}/{pid}/questionnaires", "patient", {"kind": "saq", "answers": [2] * 9}, 201)
    for who in ("patient", "therapist"):
        reply = await clinic.call("GET", f"{P}/{pid}/export", who)
        assert reply.status == 200 and "attachment" in reply.headers["Content-Disposition"]
        data = reply.body
        assert data["patient"]["id"] == pid and "password_hash" not in data["patient"]
        assert len(data["intakes"]) == 1 and len(data["programmes"]) == 1
        assert [q["kind"] for q in data["questionnaires"]] == ["saq"]
    # The same, with the progress report, as one zip file.
    reply = await clinic.call("GET", f"{P}/{pid}/export.zip", "patient")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(reply.body)) as archive:
        names = archive.namelist()
        assert f"telerehab-patient-{pid}.json" in names
        (pdf_name,) = [n for n in names if n.endswith(".pdf")]
        assert json.loads(archive.read(f"telerehab-patient-{pid}.json"))["patient"]["id"] == pid
        report = PdfReader(io.BytesIO(archive.read(pdf_name)))
        assert "Pat patient" in "".join(page.extract_text() for page in report.pages)
    assert (await clinic.call("GET", f"{P}/{pid}/export", "other_therapist")).status == 404
    assert (await clinic.call("GET", f"{P}/{pid}/export.zip", "other_patient")).status == 403
    audit = await clinic.ok("GET", "/clinic/api/audit", "admin")
    assert sum(e["action"] == "export" and e["patient_id"] == pid for e in audit) == 3


async def test_erasing_a_patient_removes_every_record_but_keeps_the_audit_trail(clinic: Clinic) -> None:
    from services.clinic import models

    pid = clinic.ids["patient"]
    await clinic.ok("PUT", f"{P}/{pid}/intake", "therapist", INTAKE)
    await clinic.ok("PUT", f"{P}/{pid}/programme", "therapist", PROGRAMME, 201)
    await clinic.ok("POST", f"{P}/{pid}/checkoffs", "patient", {"item": "eye_drops"}, 201)
    await clinic.ok("POST", f"{P}/{pid}/assessments", "therapist", {"house_brackmann": 3}, 201)
    s = await clinic.ok("POST", f"{P}/{pid}/sessions", "patient", {"kind": "home"}, 201)
    await clinic.ok(
        "POST", f"/clinic/api/sessions/{s['id']}/summary", "therapist", summary("e", estimate=True), 201
    )
    await clinic.ok("POST", f"{P}/{pid}/questionnaires", "patient", {"kind": "saq", "answers": [2] * 9}, 201)
    await clinic.ok("POST", f"{P}/{pid}/referral-flags/evaluate", "therapist")
    assert (await clinic.call("DELETE", f"{P}/{pid}", "other_therapist")).status == 404
    await clinic.ok("DELETE", f"{P}/{pid}", "therapist")

    assert (await clinic.call("GET", f"{P}/{pid}", "therapist")).status == 404
    assert (await clinic.call("GET", "/clinic/api/me", "patient")).status == 401  # signed out for good
    async with clinic.app[sessions_key]() as db:
        for table in (
            models.Intake,
            models.Programme,
            models.CheckOff,
            models.Assessment,
            models.ClinicSession,
            models.QuestionnaireResponse,
            models.ReferralFlag,
        ):
            left = await db.scalar(select(func.count()).select_from(table).where(table.patient_id == pid))
            assert left == 0, table.__tablename__
        assert (
            await db.scalar(
                select(func.count()).select_from(models.AuthToken).where(models.AuthToken.user_id == pid)
            )
            == 0
        )
    assert await audit_count(clinic, action="delete", resource="patient", patient_id=pid) == 1
    assert await audit_count(clinic, patient_id=pid) > 5  # the trail stays (ids only)


async def test_dates_far_out_of_any_record_are_a_clear_400_not_a_500(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    for day in ("0001-01-01", "9999-12-31", "1899-12-31"):
        reply = await clinic.call("GET", f"{P}/{pid}/today?date={day}", "patient")
        assert reply.status == 400 and "between 1900-01-01 and 2200-12-31" in reply.body["error"]["message"]
    assert (await clinic.call("GET", f"{P}/{pid}/today?date=2026-01-31", "patient")).status in (200, 404)
    year_one = {"house_brackmann": 3, "assessed_at": "0001-01-01T10:00:00Z"}
    reply = await clinic.call("POST", f"{P}/{pid}/assessments", "therapist", year_one)
    assert reply.status == 400 and "before 1900-01-01" in reply.body["error"]["message"]
    assert await clinic.ok("GET", f"{P}/{pid}/assessments", "therapist") == []


async def test_a_script_cannot_open_sessions_without_end(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    made = [
        (await clinic.call("POST", f"{P}/{pid}/sessions", "patient", {"kind": "home"})).status
        for _ in range(21)
    ]
    assert made == [201] * 20 + [429]
    quota = await clinic.call("POST", f"{P}/{pid}/sessions", "therapist", {"kind": "home"})
    assert quota.status == 429 and quota.body["error"]["code"] == "quota"


async def test_home_sessions_left_open_are_closed_by_the_server(clinic: Clinic) -> None:
    from services.clinic.sessions import close_abandoned

    pid = clinic.ids["patient"]
    long_ago = (datetime.now(UTC) - timedelta(hours=13)).isoformat()
    left = await clinic.ok(
        "POST", f"{P}/{pid}/sessions", "patient", {"kind": "home", "scheduled_at": long_ago}, 201
    )
    fresh = await clinic.ok("POST", f"{P}/{pid}/sessions", "patient", {"kind": "home"}, 201)
    assert await close_abandoned(clinic.app[sessions_key]) == 1
    assert (await clinic.ok("GET", f"/clinic/api/sessions/{left['id']}", "patient"))["status"] == "ended"
    assert (await clinic.ok("GET", f"/clinic/api/sessions/{fresh['id']}", "patient"))["status"] == "scheduled"


async def test_audit_records_past_their_retention_are_deleted_and_no_others(clinic: Clinic) -> None:
    sessions = clinic.app[sessions_key]
    before = await audit_count(clinic)
    assert before > 0  # the fixture's sign-ins and creations
    assert await audit.prune(sessions, 0, now=utcnow() + timedelta(days=10_000)) == 0  # 0: kept for ever
    assert await audit.prune(sessions, 30, now=utcnow() + timedelta(days=29)) == 0
    assert await audit_count(clinic) == before
    assert await audit.prune(sessions, 30, now=utcnow() + timedelta(days=31)) == before
    assert await audit_count(clinic) == 0
    env = {"TELEREHAB_AUDIT_RETENTION_DAYS": "0", "TELEREHAB_SUMMARY_RETENTION_S": "3600"}
    settings = Settings.from_env(env)
    assert (settings.audit_retention_days, settings.summary_retention_s) == (0, 3600)


async def test_a_grading_runs_the_referral_rules_when_it_is_saved(clinic: Clinic) -> None:
    pid = clinic.ids["patient"]
    long_ago = (date.today() - timedelta(days=400)).isoformat()
    quiet = {**INTAKE, "onset_date": long_ago, "problems": {"eye_closure": False}, "eye_symptoms": []}
    await clinic.ok("PUT", f"{P}/{pid}/intake", "therapist", quiet)
    assert await clinic.ok("GET", f"{P}/{pid}/referral-flags", "therapist") == []
    await clinic.ok("POST", f"{P}/{pid}/assessments", "therapist", {"house_brackmann": 5}, 201)
    flags = await clinic.ok("GET", f"{P}/{pid}/referral-flags", "therapist")
    assert [f["code"] for f in flags] == ["long_standing"]  # no explicit evaluate needed
