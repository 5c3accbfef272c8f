"""The clinic mounted in the real gateway (real Redis): a scheduled live session opens a
gateway room whose join links work, and ending it from the clinic ends the room."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import redis.asyncio as aioredis

from services.clinic.manage import create_admin
from shared import codec
from shared.keys import Keys
from shared.messages import Checkpoint, SessionSummary
from shared.settings import Settings
from testkit.clinic_records import PROGRAMME
from testkit.clinic_records import summary as flows_summary
from testkit.net import free_port
from testkit.synthetic import SyntheticFace
from tests.clinic.conftest import FAST_HASHER, PASSWORD, clinic_token, serve, site
from tests.peers import join, patient_tracks


async def test_live_session_through_the_gateway(
    settings: Settings, redis: aioredis.Redis, database_url: str, tmp_path: Path
) -> None:
    async with site(settings, database_url, tmp_path) as web:
        s, base, call, t, pid = web.settings, web.base, web.call, web.therapist, web.pid
        status, session = await call("POST", f"/clinic/api/patients/{pid}/sessions", t, {"kind": "live"})
        assert status == 201, session
        links = session["links"]
        assert session["gateway_sid"] == links["sid"]
        assert links["patient_url"].startswith(f"{base}/patient#token=")
        join_token = links["patient_url"].split("#token=")[1]
        status, info = await call("GET", "/api/session", join_token)
        assert status == 200 and info["sid"] == links["sid"] and info["role"] == "patient"

        # The patient fetches their own link later; it is for the same room.
        status, mine = await call("GET", f"/clinic/api/sessions/{session['id']}/join", web.patient)
        assert status == 200 and mine["sid"] == links["sid"] and "/patient#token=" in mine["url"]
        status, info = await call("GET", "/api/session", mine["url"].split("#token=")[1])
        assert status == 200 and info["role"] == "patient"

        status, ended = await call("POST", f"/clinic/api/sessions/{session['id']}/end", t)
        assert status == 200 and ended["status"] == "ended", ended
        status, gone = await call("GET", "/api/session", join_token)
        assert status == 410
        # No analyzer ran: the session is kept as ended with nothing measured, and a
        # summary posted afterwards cannot replace it.
        assert ended["summary"]["frames"] == 0 and ended["summary"]["exercises"] == []
        summary = {"t": "summary", "sid": links["sid"], "frames": 10, "exercises": []}
        url = f"/clinic/api/sessions/{session['id']}/summary"
        status, wrong = await call("POST", url, t, {**summary, "sid": "another-room"})
        assert status == 400 and wrong["error"]["code"] == "wrong_session"
        status, again = await call("POST", url, t, summary)
        assert status == 409 and again["error"]["code"] == "summary_exists"

        # A session the analyzer ran: its checkpoint holds the summary, which the
        # gateway returns at the end and the clinic keeps (with the estimate beside
        # the therapist's gradings).
        status, second = await call("POST", f"/clinic/api/patients/{pid}/sessions", t, {"kind": "live"})
        sid = second["gateway_sid"]
        analysed = msgspec.convert(flows_summary(sid, estimate=True), SessionSummary)
        checkpoint = Checkpoint(
            sid=sid,
            seq=42,
            baseline=b"",
            baseline_points=0,
            iris_mm_per_unit=1.0,
            worker="w-test",
            summary=analysed,
        )
        await redis.set(Keys(s.key_prefix).session_state(sid), codec.encode(checkpoint))
        status, ended = await call("POST", f"/clinic/api/sessions/{second['id']}/end", t)
        assert status == 200 and ended["summary"]["sid"] == sid, ended
        assert [e["name"] for e in ended["summary"]["exercises"]] == ["closed_smile", "brow_raise"]
        status, gradings = await call("GET", f"/clinic/api/patients/{pid}/assessments", web.patient)
        assert [(g["source"], g["session_id"]) for g in gradings] == [("estimate", second["id"])]
        # On the patient's plan the ended calls are gone, and the supervised smiles are
        # counted apart from the home dose.
        status, _ = await call("PUT", f"/clinic/api/patients/{pid}/programme", t, PROGRAMME)
        assert status == 201
        status, plan = await call("GET", f"/clinic/api/patients/{pid}/today", web.patient)
        assert status == 200 and plan["live_sessions"] == []
        smile = next(e for e in plan["exercises"] if e["name"] == "closed_smile")
        assert smile["done_today"] == 0 and smile["done_live_today"] == 1

        # Ended from the therapist's live page (the gateway's own end, a session
        # token): the clinic still keeps the summary, from the ended-sessions stream.
        status, third = await call("POST", f"/clinic/api/patients/{pid}/sessions", t, {"kind": "live"})
        sid = third["gateway_sid"]
        analysed = msgspec.convert(flows_summary(sid, estimate=False), SessionSummary)
        third_checkpoint = msgspec.structs.replace(checkpoint, sid=sid, summary=analysed)
        await redis.set(Keys(s.key_prefix).session_state(sid), codec.encode(third_checkpoint))
        therapist_link = third["links"]["therapist_url"].split("#token=")[1]
        status, answer = await call("POST", f"/api/sessions/{sid}/end", therapist_link)
        assert status == 200 and answer["summary"]["sid"] == sid
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            status, kept = await call("GET", f"/clinic/api/sessions/{third['id']}", t)
            if kept["status"] == "ended" or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
        assert kept["status"] == "ended" and kept["summary"]["sid"] == sid, kept
        assert kept["summary"]["exercises"] == answer["summary"]["exercises"]
        status, late = await call("POST", f"/clinic/api/sessions/{third['id']}/end", t)
        assert status == 409 and late["error"]["code"] == "session_ended"
        # A room the clinic never scheduled is acknowledged and skipped.
        status, stray = await call("POST", "/api/sessions", clinic_token(s))
        await call("POST", f"/api/sessions/{stray['sid']}/end", clinic_token(s))
        pending = await redis.xpending(Keys(s.key_prefix).ended_sessions(), "clinic")
        for _ in range(100):
            if pending["pending"] == 0:
                break
            await asyncio.sleep(0.1)
            pending = await redis.xpending(Keys(s.key_prefix).ended_sessions(), "clinic")
        assert pending["pending"] == 0
        # Kept in the clinic, the summaries leave Redis.
        assert await redis.xlen(Keys(s.key_prefix).ended_sessions()) == 0


async def test_erasing_a_patient_closes_their_open_room_at_once(
    settings: Settings, redis: aioredis.Redis, database_url: str, tmp_path: Path
) -> None:
    async with site(settings, database_url, tmp_path) as web:
        call, t, pid = web.call, web.therapist, web.pid
        status, session = await call("POST", f"/clinic/api/patients/{pid}/sessions", t, {"kind": "live"})
        assert status == 201
        join = session["links"]["patient_url"].split("#token=")[1]
        assert (await call("GET", "/api/session", join))[0] == 200
        status, _ = await call("DELETE", f"/clinic/api/patients/{pid}", t)
        assert status == 200
        assert (await call("GET", "/api/session", join))[0] == 410  # the link is dead


async def test_cancelling_a_call_closes_its_open_room_at_once(
    settings: Settings, redis: aioredis.Redis, database_url: str, tmp_path: Path
) -> None:
    async with site(settings, database_url, tmp_path) as web:
        call, t, pid = web.call, web.therapist, web.pid
        status, session = await call("POST", f"/clinic/api/patients/{pid}/sessions", t, {"kind": "live"})
        join = session["links"]["patient_url"].split("#token=")[1]
        assert (await call("GET", "/api/session", join))[0] == 200
        status, cancelled = await call("POST", f"/clinic/api/sessions/{session['id']}/cancel", t)
        assert (status, cancelled["status"]) == (200, "cancelled")
        assert (await call("GET", "/api/session", join))[0] == 410  # the link is dead


async def test_the_waiting_room_says_when_the_patient_is_in_the_call(
    settings: Settings, redis: aioredis.Redis, database_url: str, tmp_path: Path, face: SyntheticFace
) -> None:
    async with site(settings, database_url, tmp_path) as web:
        call, t, pid = web.call, web.therapist, web.pid
        status, session = await call("POST", f"/clinic/api/patients/{pid}/sessions", t, {"kind": "live"})
        url = f"/clinic/api/sessions/{session['id']}/presence"
        assert await call("GET", url, t) == (200, {"patient": False, "therapists": 0, "camera": None})
        assert (await call("GET", url, web.patient))[0] == 403  # the therapist's waiting room
        join_token = session["links"]["patient_url"].split("#token=")[1]
        _, tracks = patient_tracks(face)
        peer = await join(web.http, web.base, join_token, tracks)
        try:
            deadline = time.monotonic() + 20
            here: dict[str, Any] = {}
            while time.monotonic() < deadline and not here.get("patient"):
                await asyncio.sleep(0.2)
                here = (await call("GET", url, t))[1]
            # No analyzer runs here: the patient is in, their picture not judged yet.
            assert here == {"patient": True, "therapists": 0, "camera": None}, here
        finally:
            await peer.close()


async def test_gateway_unreachable_is_a_clear_502(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    s = replace(
        settings,
        database_url=database_url,
        state_dir=str(tmp_path),
        gateway_url=f"http://127.0.0.1:{free_port()}",
    )
    await create_admin(s, "admin@clinic.test", "Admin", PASSWORD, FAST_HASHER)
    server, _ = await serve(s)
    url = str(server.make_url("")).rstrip("/")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                url + "/clinic/api/auth/login", json={"email": "admin@clinic.test", "password": PASSWORD}
            ) as r:
                admin = (await r.json())["token"]
            h = {"Authorization": f"Bearer {admin}"}
            await http.post(
                url + "/clinic/api/therapists",
                headers=h,
                json={"email": "t@clinic.test", "name": "T", "password": PASSWORD},
            )
            async with http.post(
                url + "/clinic/api/auth/login", json={"email": "t@clinic.test", "password": PASSWORD}
            ) as r:
                h = {"Authorization": f"Bearer {(await r.json())['token']}"}
            async with http.post(
                url + "/clinic/api/patients", headers=h, json={"email": "p@example.test", "name": "P"}
            ) as r:
                pid = (await r.json())["patient"]["id"]
            async with http.post(url + f"/clinic/api/patients/{pid}/sessions", headers=h, json={}) as r:
                assert r.status == 502
                assert (await r.json())["error"]["code"] == "gateway_unavailable"
            async with http.get(url + f"/clinic/api/patients/{pid}/sessions", headers=h) as r:
                assert await r.json() == []  # nothing half-written
    finally:
        await server.close()


async def test_ending_a_session_the_live_page_already_ended_is_a_clear_409(
    settings: Settings, redis: aioredis.Redis, database_url: str, tmp_path: Path
) -> None:
    """The clinic's End after the therapist's page ended the room: not a gateway error.
    (The summary comes through the ended-sessions stream, switched off here so the
    clinic's own end call meets the gateway's 410.)"""
    async with site(settings, database_url, tmp_path, clinic_collect_summaries=False) as web:
        call, t, pid = web.call, web.therapist, web.pid
        _, session = await call("POST", f"/clinic/api/patients/{pid}/sessions", t, {"kind": "live"})
        link = session["links"]["therapist_url"].split("#token=")[1]
        assert (await call("POST", f"/api/sessions/{session['gateway_sid']}/end", link))[0] == 200
        status, body = await call("POST", f"/clinic/api/sessions/{session['id']}/end", t)
        assert status == 409 and body["error"]["code"] == "session_ended", body
        status, kept = await call("GET", f"/clinic/api/sessions/{session['id']}", t)
        assert kept["status"] == "scheduled" and kept["summary"] is None  # the stream will bring it
