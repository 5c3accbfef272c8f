"""Commands from the pages to the analyzer: validated by the gateway, appended to the
session's commands stream in real Redis, refused for sessions that are not open."""

from __future__ import annotations

from typing import Any

import msgspec
import redis.asyncio as aioredis

from shared import codec, tokens
from shared.exercises import load_catalogue
from shared.keys import Keys
from shared.messages import Checkpoint, Command, ExerciseSummary, SessionSummary
from tests.conftest import Gateway


async def _command(gw: Gateway, sid: str, token: str | None, **kw: Any) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with gw.http.post(f"{gw.url}/api/sessions/{sid}/commands", headers=headers, **kw) as response:
        return response.status, await response.json()


async def _commands_in_stream(redis: aioredis.Redis, keys: Keys, sid: str) -> list[tuple[str, Command]]:
    entries: Any = await redis.xrange(keys.session_commands(sid))
    return [(entry_id.decode(), codec.decode(fields[b"m"], Command)) for entry_id, fields in entries]


async def test_a_therapist_starts_an_exercise_with_their_own_dose(
    gateway: Gateway, redis: aioredis.Redis, keys: Keys
) -> None:
    session = await gateway.create_session()
    sid = session["sid"]
    body = {"command": "start_exercise", "exercise": "closed_smile", "reps": 5, "sets": 2, "hold_s": 2.5}
    status, reply = await _command(gateway, sid, session["therapist_token"], json=body)
    assert status == 202, reply
    [(entry_id, command)] = await _commands_in_stream(redis, keys, sid)
    assert reply == {"id": entry_id}
    assert (command.sid, command.command, command.exercise) == (sid, "start_exercise", "closed_smile")
    assert (command.reps, command.sets, command.hold_s) == (5, 2, 2.5)
    assert command.issued_ms > 0
    # The stream lives as long as the session's record, not for ever.
    meta_ttl = await redis.pttl(keys.session_meta(sid))
    commands_ttl = await redis.pttl(keys.session_commands(sid))
    assert 0 < commands_ttl <= meta_ttl


async def test_a_patient_practising_alone_may_send_commands_in_order(
    gateway: Gateway, redis: aioredis.Redis, keys: Keys
) -> None:
    session = await gateway.create_session()
    sid, token = session["sid"], session["patient_token"]
    sent = [
        {"command": "recalibrate"},
        {"command": "start_exercise", "exercise": "brow_raise"},
        {"command": "stop_exercise"},
        {"command": "start_assessment"},
    ]
    for body in sent:
        status, reply = await _command(gateway, sid, token, json=body)
        assert status == 202, (body, reply)
    commands = [c for _, c in await _commands_in_stream(redis, keys, sid)]
    assert [c.command for c in commands] == [b["command"] for b in sent]
    # No dose given: the analyzer uses the catalogue's.
    assert (commands[1].exercise, commands[1].reps, commands[1].sets, commands[1].hold_s) == (
        "brow_raise",
        None,
        None,
        None,
    )


async def test_the_commands_stream_stays_short(gateway: Gateway, redis: aioredis.Redis, keys: Keys) -> None:
    session = await gateway.create_session()
    body = {"command": "recalibrate"}
    for _ in range(300):
        status, _reply = await _command(gateway, session["sid"], session["therapist_token"], json=body)
        assert status == 202
    # MAXLEN ~ 32: Redis trims whole nodes, so a little above 32 remains, never hundreds.
    assert await redis.xlen(keys.session_commands(session["sid"])) < 200


async def test_unknown_exercises_and_bad_fields_are_400_with_a_reason(gateway: Gateway) -> None:
    session = await gateway.create_session()
    sid, token = session["sid"], session["therapist_token"]
    jump = {"command": "start_exercise", "exercise": "jump"}
    status, reply = await _command(gateway, sid, token, json=jump)
    assert (status, reply["error"]["code"]) == (400, "unknown_exercise")
    message = reply["error"]["message"]
    assert "'jump'" in message and all(name in message for name in load_catalogue())
    cases: list[tuple[Any, str]] = [
        (["start_exercise"], "JSON object"),
        ({"command": "dance"}, "'command' must be one of"),
        ({}, "'command' must be one of"),
        ({"command": "start_exercise"}, "needs 'exercise'"),
        ({"command": "start_exercise", "exercise": 3}, "needs 'exercise'"),
        ({"command": "start_exercise", "exercise": "pucker", "reps": "10"}, "'reps' must be a whole number"),
        ({"command": "start_exercise", "exercise": "pucker", "reps": 2.5}, "'reps' must be a whole number"),
        ({"command": "start_exercise", "exercise": "pucker", "reps": True}, "'reps' must be a whole number"),
        ({"command": "start_exercise", "exercise": "pucker", "sets": 0}, "'sets' must be a whole number"),
        ({"command": "start_exercise", "exercise": "pucker", "hold_s": -1}, "'hold_s' must be a number"),
        ({"command": "start_exercise", "exercise": "pucker", "hold_s": "3"}, "'hold_s' must be a number"),
        ({"command": "stop_exercise", "exercise": "pucker"}, "takes no exercise"),
        ({"command": "recalibrate", "colour": "red"}, "Unknown field(s): colour"),
    ]
    for body, reason in cases:
        status, reply = await _command(gateway, sid, token, json=body)
        assert (status, reply["error"]["code"]) == (400, "bad_command"), (body, reply)
        assert reason in reply["error"]["message"], (body, reply)
    status, reply = await _command(gateway, sid, token, data=b"{nope")
    assert (status, reply["error"]["code"]) == (400, "bad_json")
    status, reply = await _command(gateway, sid, token, json={"command": "recalibrate", "pad": "x" * 5000})
    assert (status, reply["error"]["code"]) == (413, "too_large")


async def test_commands_need_this_sessions_token(gateway: Gateway, redis: aioredis.Redis, keys: Keys) -> None:
    session, other = await gateway.create_session(), await gateway.create_session()
    sid = session["sid"]
    body = {"command": "start_assessment"}
    status, reply = await _command(gateway, sid, None, json=body)
    assert (status, reply["error"]["code"]) == (401, "missing_token")
    status, reply = await _command(gateway, sid, other["therapist_token"], json=body)
    assert (status, reply["error"]["code"]) == (403, "wrong_session")
    status, reply = await _command(gateway, sid, gateway.clinic_token(), json=body)
    assert (status, reply["error"]["code"]) == (403, "wrong_role")
    assert not await redis.exists(keys.session_commands(sid))


async def test_no_commands_for_unknown_or_ended_sessions(
    gateway: Gateway, redis: aioredis.Redis, keys: Keys
) -> None:
    body = {"command": "recalibrate"}
    unknown = tokens.issue(gateway.settings.secret, "nosuchsession1", "therapist", ttl_s=60)
    status, reply = await _command(gateway, "nosuchsession1", unknown, json=body)
    assert (status, reply["error"]["code"]) == (404, "not_found")
    assert not await redis.exists(keys.session_commands("nosuchsession1"))
    session = await gateway.create_session()
    async with gateway.http.post(
        f"{gateway.url}/api/sessions/{session['sid']}/end",
        headers={"Authorization": f"Bearer {session['therapist_token']}"},
    ) as r:
        assert r.status == 200
    status, reply = await _command(gateway, session["sid"], session["therapist_token"], json=body)
    assert (status, reply["error"]["code"]) == (410, "session_ended")
    # Ending deleted the session's keys; a late command must not bring one back.
    assert not await redis.exists(keys.session_commands(session["sid"]))


async def test_the_exercise_catalogue_is_served_to_session_tokens(gateway: Gateway) -> None:
    session = await gateway.create_session()
    for token in (session["patient_token"], session["therapist_token"]):
        async with gateway.http.get(
            f"{gateway.url}/api/exercises", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 200
            exercises = (await r.json())["exercises"]
    catalogue = load_catalogue()
    assert [e["name"] for e in exercises] == list(catalogue)
    smile = next(e for e in exercises if e["name"] == "closed_smile")
    assert smile == {
        "name": "closed_smile",
        "title": catalogue["closed_smile"].title,
        "instructions": catalogue["closed_smile"].instructions,
        "reps": 10,
        "sets": 1,
        "hold_s": 3.0,
        "region": "mouth",
        "direction": "up_out",
        "unit": "mm",
        "target": 3.0,
    }
    async with gateway.http.get(f"{gateway.url}/api/exercises") as r:
        assert r.status == 401


async def test_the_summary_so_far_is_read_without_ending_the_session(
    gateway: Gateway, redis: aioredis.Redis, keys: Keys
) -> None:
    session = await gateway.create_session()
    sid = session["sid"]
    url = f"{gateway.url}/api/sessions/{sid}/summary"
    auth = {"Authorization": f"Bearer {session['patient_token']}"}
    async with gateway.http.get(url, headers=auth) as r:
        assert (r.status, await r.json()) == (200, {"summary": None})  # nothing analysed yet
    summary = SessionSummary(
        sid=sid,
        frames=450,
        exercises=[
            ExerciseSummary(
                "closed_smile",
                reps=5,
                attempts=6,
                sets=1,
                mean_hold_s=1.2,
                symmetry=0.4,
                synkinesis=0.1,
                quality=0.83,
            )
        ],
    )
    checkpoint = Checkpoint(
        sid=sid, seq=450, baseline=b"", baseline_points=0, iris_mm_per_unit=1.0, worker="w", summary=summary
    )
    await redis.set(keys.session_state(sid), codec.encode(checkpoint))
    async with gateway.http.get(url, headers=auth) as r:
        body = await r.json()
        assert r.status == 200
    assert (
        codec.decode(codec.encode(msgspec.convert(body["summary"], SessionSummary)), SessionSummary)
        == summary
    )
    assert await redis.exists(keys.session_meta(sid))  # still open
    other = await gateway.create_session()
    async with gateway.http.get(url, headers={"Authorization": f"Bearer {other['patient_token']}"}) as r:
        assert r.status == 403
    async with gateway.http.post(
        f"{gateway.url}/api/sessions/{sid}/end",
        headers={"Authorization": f"Bearer {session['therapist_token']}"},
    ) as r:
        assert r.status == 200
    async with gateway.http.get(url, headers=auth) as r:
        assert r.status == 410
