"""The gateway's frame sampler puts a session back in the analyzers' queue when its
frames flow and no worker holds it (frames resumed after the slot was given up)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis.asyncio as aioredis
from aiortc.mediastreams import VideoStreamTrack

from gateway import sampler as sampler_module
from gateway.sampler import FrameSampler
from shared.keys import Keys
from shared.settings import Settings


async def test_a_session_nobody_analyses_is_registered_again_but_not_while_held(
    settings: Settings, redis: aioredis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sampler_module, "HOLDER_CHECK_S", 0.0)
    monkeypatch.setattr(sampler_module, "REREGISTER_S", 0.0)
    registered: list[float] = []

    async def register() -> None:
        registered.append(time.monotonic())

    sid = "sampler-test-" + str(time.time_ns())
    with ThreadPoolExecutor(1) as pool:
        sampler = FrameSampler(sid, VideoStreamTrack(), redis, keys, settings, pool, register=register)
        await sampler._ensure_analysed(time.monotonic() + 1)
        assert len(registered) == 1  # no lease: nobody analyses it
        await redis.set(keys.session_lease(sid), b"worker-a", px=5000)
        await sampler._ensure_analysed(time.monotonic() + 2)
        assert len(registered) == 1  # held: nothing to do
        await redis.delete(keys.session_lease(sid))
        await sampler._ensure_analysed(time.monotonic() + 3)
        assert len(registered) == 2
