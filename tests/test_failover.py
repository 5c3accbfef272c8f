"""A killed analyzer worker's session continues on another worker, baseline intact."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from shared import codec
from shared.keys import Keys
from shared.messages import Feedback
from shared.settings import Settings
from testkit.synthetic import SyntheticFace
from testkit.worker_feed import feedback, make_frame, open_session, push

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
