"""Analyzer workers on real Redis: newest frame wins, bad input is skipped, state survives."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import replace
from typing import Any

import cv2
import pytest
import redis.asyncio as aioredis

from analyzer.frames import encode_jpeg
from gateway.sessions import SessionStore
from shared import codec
from shared.keys import Keys
from shared.messages import Checkpoint, SessionEntry
from shared.settings import Settings
from testkit.synthetic import Movement, SyntheticFace
from testkit.worker_feed import calibrate, feedback, has_seq, make_frame, open_session, push, wait_until
from tests.conftest import RunningWorker, running_worker

pytestmark = pytest.mark.slow


async def test_newest_frame_wins_and_stale_frames_are_dropped(
    worker: RunningWorker, redis: aioredis.Redis, keys: Keys, face: SyntheticFace, settings: Settings
) -> None:
    sid = await open_session(redis, keys)
    seq = await calibrate(redis, keys, face, sid)
    before = len(await feedback(redis, keys, sid))
    # Ten frames land at once: the stream keeps the newest four, the worker analyses the
    # newest one and reports the other three as dropped, instead of working through a queue.
    burst = [codec.encode(make_frame(face, sid, seq + i)) for i in range(10)]
    await push(redis, keys, sid, *burst)
    newest = seq + 9
    await wait_until(lambda: has_seq(redis, keys, sid, newest))
    results = (await feedback(redis, keys, sid))[before:]
    assert [f.seq for f in results] == [newest]
    assert results[0].dropped == 3
    # A frame already older than the feedback deadline is not analysed at all.
    old = make_frame(face, sid, newest + 1, captured_ms=int(time.time() * 1000) - 5_000)
    fresh = make_frame(face, sid, newest + 2)
    await push(redis, keys, sid, codec.encode(old))
    await asyncio.sleep(0.3)
    await push(redis, keys, sid, codec.encode(fresh))
    await wait_until(lambda: has_seq(redis, keys, sid, newest + 2))
    seqs = [f.seq for f in await feedback(redis, keys, sid)]
    assert newest + 1 not in seqs
    runner = worker.worker._owned[sid].runner
    assert runner.dropped >= 4


async def test_corrupt_frames_and_unknown_versions_are_logged_and_skipped(
    worker: RunningWorker,
    redis: aioredis.Redis,
    keys: Keys,
    face: SyntheticFace,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    sid = await open_session(redis, keys)
    await push(redis, keys, sid, b"\x00 definitely not msgpack")
    await asyncio.sleep(0.3)
    await push(redis, keys, sid, codec.encode(make_frame(face, sid, 1, v=7)))
    await asyncio.sleep(0.3)
    await push(redis, keys, sid, codec.encode(make_frame(face, sid, 2, data=b"\xff\xd8 broken jpeg")))
    await asyncio.sleep(0.3)
    await push(redis, keys, sid, codec.encode(make_frame(face, sid, 3, data=b"x" * 2_000_000)))
    await asyncio.sleep(0.3)
    await push(redis, keys, sid, codec.encode(make_frame(face, sid, 4)))
    await wait_until(lambda: has_seq(redis, keys, sid, 4))
    by_seq = {f.seq: f for f in await feedback(redis, keys, sid)}
    assert 1 not in by_seq  # unknown version: never analysed
    assert by_seq[2].status == "bad_frame" and by_seq[3].status == "bad_frame"
    assert by_seq[4].face and by_seq[4].status == "calibrating"  # the worker carried on
    text = caplog.text
    assert "unreadable frame message" in text
    assert "unknown 'frame' message version 7" in text
    assert "could not be decoded" in text
    assert not worker.task.done()


async def test_no_face_and_darkness_get_a_cue_and_a_dim_face_is_still_measured(
    worker: RunningWorker, redis: aioredis.Redis, keys: Keys, face: SyntheticFace
) -> None:
    import numpy as np

    sid = await open_session(redis, keys)
    wall = np.full((240, 320, 3), 180, dtype=np.uint8)
    dim = cv2.resize((face.render(Movement()) * 0.08).astype(np.uint8), (320, 240))
    black = np.zeros((240, 320, 3), dtype=np.uint8)
    for seq, image in enumerate((wall, dim, black)):
        frame = make_frame(face, sid, seq, data=encode_jpeg(image, 80))
        await push(redis, keys, sid, codec.encode(frame))
        await wait_until(lambda s=seq: has_seq(redis, keys, sid, s))  # type: ignore[misc]
    results = await feedback(redis, keys, sid)
    assert results[0].status == "no_face" and "cannot see your face" in results[0].cues[0]
    # A dim room: the face is lifted out of the shadows and measured, with the advice.
    assert results[1].status == "calibrating" and results[1].cues[0] == "Move into the light"
    # No face to be found even brightened: refused, with the reason.
    assert results[2].status == "no_face" and results[2].cues == ["Move into the light"]


async def test_checkpoint_lets_a_successor_resume_without_recalibrating(
    settings: Settings, redis: aioredis.Redis, keys: Keys, face: SyntheticFace
) -> None:
    async with running_worker(settings, "first"):
        sid = await open_session(redis, keys)
        seq = await calibrate(redis, keys, face, sid)
        checkpoint = await wait_until(lambda: redis.get(keys.session_state(sid)))
        assert codec.decode(checkpoint, Checkpoint).worker == "first"
        # Graceful stop: the session is handed back at once, lease released.
    assert not await redis.exists(keys.session_lease(sid))
    async with running_worker(settings, "second"):
        await push(redis, keys, sid, codec.encode(make_frame(face, sid, seq + 1, Movement(smile_left=12))))
        await wait_until(lambda: has_seq(redis, keys, sid, seq + 1))
        latest = (await feedback(redis, keys, sid))[-1]
        assert latest.worker == "second"
        assert latest.status == "tracking"  # baseline restored, no new calibration
        assert latest.regions["mouth"].excursion.left > latest.regions["mouth"].excursion.right


async def test_duplicate_registrations_go_to_one_worker(
    settings: Settings, redis: aioredis.Redis, keys: Keys, face: SyntheticFace
) -> None:
    async with running_worker(settings, "a") as a, running_worker(settings, "b") as b:
        sid = await open_session(redis, keys)
        await SessionStore(redis, keys).register_for_analysis(sid)  # e.g. the patient reconnected
        await push(redis, keys, sid, codec.encode(make_frame(face, sid, 0)))
        await wait_until(lambda: has_seq(redis, keys, sid, 0))
        await asyncio.sleep(settings.lease_ms / 1000)
        owners = [w for w in (a, b) if sid in w.worker.sessions]
        assert len(owners) == 1
        assert await redis.xlen(keys.sessions()) == 1  # the duplicate entry was removed


class FlakyLandmarker:
    """A landmarker backend that fails once, then works (it wraps FaceMesh)."""

    def __init__(self) -> None:
        from analyzer.landmarks import FaceMeshLandmarker

        self.inner = FaceMeshLandmarker()
        self.calls = 0

    def detect(self, image: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("model crashed")
        return self.inner.detect(image)

    def close(self) -> None:
        self.inner.close()


async def test_a_failing_landmarker_costs_one_frame_not_the_session(
    settings: Settings,
    redis: aioredis.Redis,
    keys: Keys,
    face: SyntheticFace,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from analyzer.worker import Worker
    from shared.connections import connect

    client = connect(settings.redis_url)
    worker = Worker(settings, client, worker_id="flaky", landmarker_factory=FlakyLandmarker)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        sid = await open_session(redis, keys)
        await push(redis, keys, sid, codec.encode(make_frame(face, sid, 0)))
        await wait_until(lambda: redis.exists(keys.session_lease(sid)))
        await asyncio.sleep(0.5)
        await push(redis, keys, sid, codec.encode(make_frame(face, sid, 1)))
        await wait_until(lambda: has_seq(redis, keys, sid, 1))
        assert [f.seq for f in await feedback(redis, keys, sid)] == [1]
        assert "analysis of frame 0 failed" in caplog.text
        assert sid in worker.sessions
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await client.aclose()


async def test_a_worker_reports_health_and_prometheus_metrics(
    worker: RunningWorker, redis: aioredis.Redis, keys: Keys, face: SyntheticFace
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from analyzer.health import create_health_app

    sid = await open_session(redis, keys)
    await calibrate(redis, keys, face, sid)
    async with TestClient(TestServer(create_health_app(worker.worker, redis))) as client:
        assert (await client.get("/healthz")).status == 200
        ready = await client.get("/readyz")
        assert ready.status == 200 and (await ready.json())["sessions"] == 1
        text = await (await client.get("/metrics")).text()
        samples = [line.split(" ") for line in text.splitlines() if not line.startswith("#")]
        values = {name: float(value) for name, value in samples}
        analysed = values["telerehab_analyzer_frames_analysed_total"]
        assert analysed >= 20 and values["telerehab_analyzer_sessions"] == 1
        assert values["telerehab_analyzer_latency_seconds_count"] == analysed
        assert values['telerehab_analyzer_latency_seconds_bucket{le="+Inf"}'] == analysed
        worker.worker.draining = True  # what SIGTERM sets while the worker hands back
        drained = await client.get("/readyz")
        assert drained.status == 503 and (await drained.json())["reason"] == "draining"
        worker.worker.draining = False


async def test_the_worker_process_serves_its_endpoints_when_asked(
    settings: Settings, redis: aioredis.Redis
) -> None:
    import socket
    import subprocess
    import sys
    import urllib.request

    def get(path: str) -> tuple[int, str]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "TELEREHAB_KEY_PREFIX": settings.key_prefix,
        "TELEREHAB_ANALYZER_METRICS_PORT": str(port),
        "GLOG_minloglevel": "2",
    }
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "analyzer"], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, text = await asyncio.to_thread(get, "/metrics")
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "the worker never served /metrics"
                await asyncio.sleep(0.2)
        assert status == 200 and "telerehab_analyzer_frames_analysed_total 0.0" in text
        assert (await asyncio.to_thread(get, "/readyz"))[0] == 200
    finally:
        proc.terminate()
        assert await asyncio.to_thread(proc.wait, 30) == 0


async def test_abandoned_sessions_give_their_slots_up_and_a_live_one_is_analysed(
    settings: Settings, redis: aioredis.Redis, keys: Keys, face: SyntheticFace
) -> None:
    """More abandoned sessions (pages closed without End) than the worker has slots: each
    gives its slot back after TELEREHAB_ANALYSIS_IDLE_S, so a live session is analysed."""
    small = replace(settings, worker_max_sessions=2, analysis_idle_s=1)
    abandoned = [await open_session(redis, keys) for _ in range(4)]
    async with running_worker(small, "busy") as busy:
        live = await open_session(redis, keys)
        await push(redis, keys, live, codec.encode(make_frame(face, live, 0)))
        started = time.monotonic()
        while not await has_seq(redis, keys, live, 0):
            await push(redis, keys, live, codec.encode(make_frame(face, live, 0)))  # the camera keeps going
            assert time.monotonic() - started < 15, "the live session was never analysed"
            await asyncio.sleep(0.2)
        assert set(busy.worker.sessions) <= {live, *abandoned}
    entries = [codec.decode(f[b"m"], SessionEntry).sid for _, f in await redis.xrange(keys.sessions())]
    assert not set(abandoned) & set(entries)  # given up, not queued again


async def test_a_session_whose_frames_resume_is_analysed_again_from_its_baseline(
    settings: Settings, redis: aioredis.Redis, keys: Keys, face: SyntheticFace
) -> None:
    quick = replace(settings, analysis_idle_s=1)
    async with running_worker(quick, "w") as w:
        sid = await open_session(redis, keys)
        seq = await calibrate(redis, keys, face, sid)
        await wait_until(lambda: _not_held(w, sid))  # frames stopped: the slot is given back
        assert not await redis.exists(keys.session_lease(sid))
        await SessionStore(redis, keys).register_for_analysis(sid)  # what the sampler does
        await push(redis, keys, sid, codec.encode(make_frame(face, sid, seq)))
        await wait_until(lambda: has_seq(redis, keys, sid, seq))
        assert (await feedback(redis, keys, sid))[-1].status == "tracking"  # no recalibration


async def _not_held(w: RunningWorker, sid: str) -> bool:
    return sid not in w.worker.sessions
