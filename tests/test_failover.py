"""A killed analyzer worker's session continues on another worker, baseline intact; a
gateway stopped with SIGTERM exits cleanly and the session goes on behind the next one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis.asyncio as aioredis

from shared import codec, tokens
from shared.keys import Keys
from shared.messages import Feedback
from shared.settings import Settings
from testkit.net import free_port
from testkit.synthetic import SyntheticFace
from testkit.worker_feed import feedback, make_frame, open_session, push
from tests.peers import join, patient_tracks

pytestmark = pytest.mark.slow


def spawn_worker(settings: Settings, worker_id: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        REDIS_URL=settings.redis_url,
        TELEREHAB_KEY_PREFIX=settings.key_prefix,
        TELEREHAB_LEASE_MS=str(settings.lease_ms),
        GLOG_minloglevel="2",
    )
    return subprocess.Popen([sys.executable, "-m", "services.cli", "analyzer", "--id", worker_id], env=env)


@contextlib.asynccontextmanager
async def frame_pusher(
    redis: aioredis.Redis, keys: Keys, face: SyntheticFace, sid: str
) -> AsyncIterator[None]:
    """The gateway's sampler, reduced: a fresh frame every 1/15 s."""
    template = make_frame(face, sid, 0)

    async def run() -> None:
        seq = 0
        while True:
            frame = make_frame(face, sid, seq, data=template.data)
            await push(redis, keys, sid, codec.encode(frame))
            seq += 1
            await asyncio.sleep(1 / 15)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def latest(redis: aioredis.Redis, keys: Keys, sid: str) -> Feedback | None:
    entries = await redis.xrevrange(keys.session_feedback(sid), count=1)
    return codec.decode(entries[0][1][b"m"], Feedback) if entries else None


async def test_killed_worker_is_replaced_and_the_baseline_survives(
    settings: Settings, redis: aioredis.Redis, keys: Keys, face: SyntheticFace
) -> None:
    workers = {name: spawn_worker(settings, name) for name in ("alpha", "beta")}
    try:
        # Both workers are up once both heartbeat.
        deadline = time.monotonic() + 60
        while await redis.exists(*(keys.worker(name) for name in workers)) < 2:
            assert time.monotonic() < deadline, "analyzer workers did not start"
            await asyncio.sleep(0.2)

        sid = await open_session(redis, keys)
        async with frame_pusher(redis, keys, face, sid):
            deadline = time.monotonic() + 30
            while (fb := await latest(redis, keys, sid)) is None or fb.status != "tracking":
                assert time.monotonic() < deadline, f"never calibrated: {fb}"
                await asyncio.sleep(0.1)
            owner = fb.worker
            survivor = "beta" if owner == "alpha" else "alpha"

            workers[owner].send_signal(signal.SIGKILL)  # no goodbye, no lease release
            workers[owner].wait()
            killed_at = int(time.time() * 1000)

            deadline = time.monotonic() + 20
            while (fb := await latest(redis, keys, sid)) is None or fb.worker != survivor:
                assert time.monotonic() < deadline, "no other worker took the session over"
                await asyncio.sleep(0.05)
            taken_over_after_ms = fb.analysed_ms - killed_at
            print(f"failover: {survivor} resumed after {taken_over_after_ms} ms")

            after = [f for f in await feedback(redis, keys, sid) if f.worker == survivor]
            assert after, "the survivor published nothing"
            # The survivor restored the baseline from the checkpoint: no second calibration.
            assert {f.status for f in after} <= {"tracking"}, [f.status for f in after]
            assert await redis.get(keys.session_lease(sid)) == survivor.encode()
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in workers.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)


def spawn_gateway(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        REDIS_URL=settings.redis_url,
        TELEREHAB_KEY_PREFIX=settings.key_prefix,
        TELEREHAB_SECRET=settings.secret,
        TELEREHAB_HOST="127.0.0.1",
        TELEREHAB_PORT=str(port),
        TELEREHAB_ICE_HOSTS="127.0.0.1",
        TELEREHAB_CLINIC="0",
    )
    return subprocess.Popen([sys.executable, "-m", "services.cli", "gateway"], env=env)


async def wait_healthy(http: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{url}/readyz") as r:
                if r.status == 200:
                    return
        assert time.monotonic() < deadline, "the gateway did not come up"
        await asyncio.sleep(0.2)


async def test_a_gateway_drains_on_sigterm_and_the_session_goes_on_behind_the_next_one(
    settings: Settings, redis: aioredis.Redis, face: SyntheticFace
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    keys = Keys(settings.key_prefix)
    first = spawn_gateway(settings, port)
    second: subprocess.Popen[bytes] | None = None
    try:
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, url)
            clinic = tokens.issue(settings.secret, tokens.CLINIC_SCOPE, "clinic", 60)
            async with http.post(f"{url}/api/sessions", headers={"Authorization": f"Bearer {clinic}"}) as r:
                session = await r.json()
            _camera, tracks = patient_tracks(face)
            patient = await join(http, url, session["patient_token"], tracks)
            try:
                deadline = time.monotonic() + 20
                while patient.pc.connectionState != "connected":
                    assert time.monotonic() < deadline, "the patient never connected"
                    await asyncio.sleep(0.1)
                started = time.monotonic()
                first.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(first.wait, 30) == 0  # a clean exit
                drained_s = time.monotonic() - started
                deadline = time.monotonic() + 20
                while patient.pc.connectionState == "connected":  # told, not left hanging
                    assert time.monotonic() < deadline, "the patient's connection outlived the gateway"
                    await asyncio.sleep(0.1)
                # The session is not ended: its record waits for the next gateway.
                assert await redis.exists(keys.session_meta(session["sid"]))
                assert not await redis.exists(keys.session_ended(session["sid"]))
                second = spawn_gateway(settings, port)
                await wait_healthy(http, url)
                headers = {"Authorization": f"Bearer {session['patient_token']}"}
                async with http.get(f"{url}/api/session", headers=headers) as r:
                    assert r.status == 200 and (await r.json())["sid"] == session["sid"]
                print(f"gateway drained in {drained_s:.2f} s")  # shown with -s; the README quotes it
            finally:
                await patient.close()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
