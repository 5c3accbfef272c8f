"""Who may call what: anonymous, the patient, their therapist, another therapist and an
admin, against every endpoint of the route table, on the patient's own records."""

from __future__ import annotations

from services.clinic.app import ROUTES
from services.clinic.context import Route
from testkit.clinic_records import INTAKE, PROGRAMME
from tests.clinic.conftest import Clinic

DENIED = {401, 403, 404}
WHO = ("anonymous", "patient", "therapist", "other_therapist", "admin")


def role_of(who: str) -> str:
    return {"other_therapist": "therapist"}.get(who, who)


def expected(route: Route, who: str) -> str:
    """'ok' (passes access control), or the status that must come back."""
    if route.roles is None:
        return "ok"
    if who == "anonymous":
        return "401"
    if role_of(who) not in route.roles:
        return "403"
    scoped = "{pid}" in route.path or "{id}" in route.path
    if who == "other_therapist" and scoped:
        return "404"
    return "ok"


async def setup_records(c: Clinic) -> dict[str, int]:
    pid = c.ids["patient"]
    await c.ok(
        "PUT", f"/clinic/api/patients/{pid}/intake", "therapist", {**INTAKE, "new_symptoms": ["vertigo"]}
    )
    await c.ok("PUT", f"/clinic/api/patients/{pid}/programme", "therapist", PROGRAMME, 201)
    session = await c.ok("POST", f"/clinic/api/patients/{pid}/sessions", "patient", {"kind": "home"}, 201)
    flags = await c.ok("GET", f"/clinic/api/patients/{pid}/referral-flags", "therapist")  # made by the intake
    answers = {"onset_date": INTAKE["onset_date"], "goals": ["smile again"]}
    await c.ok("PUT", f"/clinic/api/patients/{pid}/intake/answers", "patient", answers)
    goal = {"text": "A symmetric smile", "measure": "mouth_symmetry", "target": 0.8}
    made_goal = await c.ok("POST", f"/clinic/api/patients/{pid}/goals", "therapist", goal, 201)
    # Erasure is tried on a patient of the same therapist made for it.
    doomed = await c.ok(
        "POST", "/clinic/api/patients", "therapist", {"email": "d@example.test", "name": "D"}, 201
    )
    # Switching an account off is tried on a therapist made for it.
    leaver = await c.ok(
        "POST",
        "/clinic/api/therapists",
        "admin",
        {"email": "leaver@example.test", "name": "L", "password": "long enough password"},
        201,
    )
    return {
        "pid": pid,
        "session": session["id"],
        "flag": flags[0]["id"],
        "doomed": doomed["patient"]["id"],
        "tid": leaver["id"],
        "goal": made_goal["id"],
    }


def url_for(route: Route, ids: dict[str, int], pid: int | None = None) -> str:
    if route.method == "DELETE" and pid is None:
        pid = ids["doomed"]
    path = route.path.replace("{pid}", str(pid or ids["pid"])).replace("{tid}", str(ids["tid"]))
    if "{id}" in path:
        record = "flag" if "referral-flags" in path else "goal" if "/goals/" in path else "session"
        path = path.replace("{id}", str(ids[record]))
    path = path.replace("{key}", "recovery_stages")  # an education item of PROGRAMME
    return "/clinic" + path


def ordered(routes: list[Route]) -> list[Route]:
    # Signing out revokes the caller's tokens: do it last (with fresh ones, see below).
    return sorted(routes, key=lambda r: r.path in SIGN_OUTS)


SIGN_OUTS = ("/api/auth/logout", "/api/me/sign-out-everywhere")


async def sign_in_again(c: Clinic) -> None:
    """Fresh tokens for everyone (each sign-out route revokes its caller's own)."""
    for who in ("admin", "therapist", "other_therapist"):
        c.tokens[who] = (await c.login(f"{who}@clinic.test")).body["token"]
    invite = await c.ok("POST", f"/clinic/api/patients/{c.ids['patient']}/invite", "therapist")
    link = invite["link"].split("#token=")[1]
    c.tokens["patient"] = (await c.ok("POST", "/clinic/api/auth/magic", None, {"token": link}))["token"]


async def test_every_endpoint_answers_each_role_as_the_access_rules_say(clinic: Clinic) -> None:
    ids = await setup_records(clinic)
    clinic.tokens["anonymous"] = ""
    failures = []
    for route in ordered(ROUTES):
        if route.path in SIGN_OUTS:
            await sign_in_again(clinic)
        for who in WHO:
            reply = await clinic.call(
                route.method, url_for(route, ids), None if who == "anonymous" else who, json=None
            )
            want = expected(route, who)
            ok = reply.status not in DENIED if want == "ok" else reply.status == int(want)
            if not ok:
                failures.append(f"{route.method} {route.path} as {who}: {reply.status}, expected {want}")
            if reply.status >= 400:
                assert isinstance(reply.body, dict) and set(reply.body["error"]) == {"code", "message"}
    assert not failures, "\n".join(failures)


async def test_a_patient_never_reaches_another_patients_records(clinic: Clinic) -> None:
    ids = await setup_records(clinic)
    other = clinic.ids["other_patient"]
    for route in ROUTES:
        if route.roles is None or "patient" not in route.roles or "{pid}" not in route.path:
            continue
        reply = await clinic.call(route.method, url_for(route, ids, pid=other), "patient")
        assert reply.status == 403, (route.method, route.path, reply.status)
    # …nor, through ids, another patient's session: the other patient asks for this one's.
    for path in (f"/clinic/api/sessions/{ids['session']}", f"/clinic/api/sessions/{ids['session']}/join"):
        assert (await clinic.call("GET", path, "other_patient")).status == 403


async def test_unknown_ids_are_404_for_everyone_allowed(clinic: Clinic) -> None:
    for path in (
        "/clinic/api/sessions/424242",
        "/clinic/api/patients/424242/intake",
        "/clinic/api/patients/99999999999999999/intake",  # beyond a 32-bit id
        "/clinic/api/sessions/２",  # a non-ASCII digit
    ):
        assert (await clinic.call("GET", path, "therapist")).status == 404
    reply = await clinic.call(
        "POST", "/clinic/api/referral-flags/424242/decision", "therapist", {"decision": "accepted"}
    )
    assert reply.status == 404


async def test_session_notes_are_in_the_matrix_for_their_therapist_only(clinic: Clinic) -> None:
    route = next(r for r in ROUTES if (r.method, r.path) == ("PUT", "/api/sessions/{id}/notes"))
    assert [expected(route, who) for who in WHO] == ["401", "403", "ok", "404", "403"]
    ids = await setup_records(clinic)
    body = {"notes": "Observed: left eye closes with effort."}
    for who in WHO:
        caller = None if who == "anonymous" else who
        reply = await clinic.call(route.method, url_for(route, ids), caller, body)
        want = expected(route, who)
        assert reply.status == (200 if want == "ok" else int(want)), (who, reply.status, reply.body)
