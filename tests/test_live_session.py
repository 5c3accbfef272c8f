"""The spine end to end: real aiortc peers ↔ gateway ↔ Redis ↔ analyzer ↔ feedback."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from gateway.api import registry_key
from gateway.room import Room
from shared.keys import Keys
from testkit.synthetic import Movement, SyntheticFace
from tests.conftest import Gateway, RunningWorker
from tests.peers import join, patient_tracks, therapist_tracks

pytestmark = pytest.mark.slow


async def test_live_session_relays_media_both_ways_and_feeds_back_measures(
    gateway: Gateway, worker: RunningWorker, face: SyntheticFace, redis: aioredis.Redis, keys: Keys
) -> None:
    session = await gateway.create_session()
    sid = session["sid"]
    camera, tracks = patient_tracks(face)
    patient = await join(gateway.http, gateway.url, session["patient_token"], tracks)
    therapist = await join(gateway.http, gateway.url, session["therapist_token"], therapist_tracks())
    try:
        # Relay: the therapist sees the patient's face, the patient sees the therapist.
        await therapist.wait_frames("video", 10)
        await patient.wait_frames("video", 10)
        await therapist.wait_frames("audio", 10)
        await patient.wait_frames("audio", 10)
        assert therapist.last_video is not None and therapist.last_video.shape[:2] == (480, 640)
        green = patient.last_video
        assert green is not None and green[..., 1].mean() > 150 > green[..., 0].mean() + 100

        # Calibration on the neutral face, then a smile on the patient's left only.
        await patient.wait_for(lambda e: e.get("type") == "feedback" and e["status"] == "tracking")
        camera.movement = Movement(smile_left=14)

        def left_smile_seen(event: dict[str, object]) -> bool:
            if event.get("type") != "feedback" or event["status"] != "tracking":
                return False
            mouth = event["regions"]["mouth"]  # type: ignore[index]
            return mouth["symmetry"] is not None and mouth["symmetry"] < 0.6 and mouth["weaker"] == "right"

        seen_by_therapist = await therapist.wait_for(left_smile_seen)
        await patient.wait_for(left_smile_seen)
        mouth = seen_by_therapist["regions"]["mouth"]
        assert mouth["excursion"]["left"] > 3.0  # millimetres: a clear smile
        assert abs(seen_by_therapist["pose"]["yaw"]) < 20
        assert seen_by_therapist["face"] is True
        assert 0 <= seen_by_therapist["latency_ms"] <= gateway.settings.feedback_max_age_ms
        assert seen_by_therapist["worker"] == worker.worker.id

        async with gateway.http.get(f"{gateway.url}/metrics") as response:
            metrics = dict(
                line.rsplit(" ", 1)
                for line in (await response.text()).splitlines()
                if not line.startswith("#")
            )
        assert float(metrics["telerehab_rooms"]) == 1 and float(metrics["telerehab_participants"]) == 2
        assert float(metrics["telerehab_frames_sampled_total"]) > 20
        assert float(metrics["telerehab_feedback_delivered_total"]) > 20

        # Session end: everyone is told, and every key of the session is gone.
        async with gateway.http.post(
            f"{gateway.url}/api/sessions/{sid}/end",
            headers={"Authorization": f"Bearer {session['therapist_token']}"},
        ) as response:
            assert response.status == 200
        await patient.wait_for(lambda e: e.get("type") == "session_ended", timeout=5)
        await asyncio.sleep(gateway.settings.lease_ms / 1000 + 0.5)  # the worker notices and lets go
        left = [k async for k in redis.scan_iter(match=f"{keys.prefix}:{{{sid}}}:*")]
        assert left == [keys.session_ended(sid).encode()]
        assert sid not in worker.worker.sessions
        sessions_stream = await redis.xrange(keys.sessions())
        assert sessions_stream == []
    finally:
        await patient.close()
        await therapist.close()


async def test_a_therapist_without_a_camera_still_sees_and_hears_the_patient(
    gateway: Gateway, face: SyntheticFace
) -> None:
    session = await gateway.create_session()
    _camera, tracks = patient_tracks(face)
    patient = await join(gateway.http, gateway.url, session["patient_token"], tracks)
    # No tracks: the offer has recvonly audio and video sections, as a browser without
    # a camera sends.
    therapist = await join(gateway.http, gateway.url, session["therapist_token"], [])
    try:
        await therapist.wait_frames("video", 10)
        await therapist.wait_frames("audio", 10)
        await therapist.wait_for(lambda e: e == {"type": "peer", "role": "patient", "state": "joined"})
        await patient.wait_for(lambda e: e == {"type": "peer", "role": "therapist", "state": "joined"})
        await asyncio.sleep(0.5)
        for peer in (patient, therapist):  # told once, whichever channel opened first
            assert sum(e.get("type") == "peer" for e in peer.events) == 1, peer.events
    finally:
        await patient.close()
        await therapist.close()


async def test_a_reconnecting_patient_replaces_the_old_connection_and_analysis_goes_on(
    gateway: Gateway, worker: RunningWorker, face: SyntheticFace
) -> None:
    session = await gateway.create_session()
    _camera, tracks = patient_tracks(face)
    first = await join(gateway.http, gateway.url, session["patient_token"], tracks)
    therapist = await join(gateway.http, gateway.url, session["therapist_token"], therapist_tracks())
    second = None
    try:
        await first.wait_for(lambda e: e.get("type") == "feedback")
        # The patient's network drops and the page offers again with the same link.
        _camera2, tracks2 = patient_tracks(face)
        second = await join(gateway.http, gateway.url, session["patient_token"], tracks2)
        await second.wait_for(lambda e: e.get("type") == "feedback", timeout=30)
        for _ in range(100):
            if first.pc.connectionState == "closed":
                break
            await asyncio.sleep(0.1)
        assert first.pc.connectionState == "closed"  # the gateway dropped the old one
        before = therapist.received.get("video", 0)
        await therapist.wait_frames("video", before + 10)
        # Sound goes on too (the new source's audio timestamps restart at zero).
        heard = therapist.received.get("audio", 0)
        await therapist.wait_frames("audio", heard + 50)
        (room,) = gateway_rooms(gateway)
        assert len(room.participants) == 2 and room.patient is not None
    finally:
        for peer in (first, second, therapist):
            if peer is not None:
                await peer.close()


def gateway_rooms(gateway: Gateway) -> list[Room]:
    assert gateway.app is not None
    return list(gateway.app[registry_key].rooms.values())
