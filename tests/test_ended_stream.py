"""The ended-sessions stream hands summaries to the clinic; what no clinic takes is
kept only for ``TELEREHAB_SUMMARY_RETENTION_S`` (real Redis)."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from gateway.sessions import SessionStore
from shared.keys import Keys
from shared.settings import Settings


async def test_summaries_no_clinic_took_leave_redis_after_their_retention(
    settings: Settings, redis: aioredis.Redis
) -> None:
    keys = Keys(settings.key_prefix)
    store = SessionStore(redis, keys)
    stream = keys.ended_sessions()
    now_ms = int(time.time() * 1000)
    for age_s in (3 * 86400, 2 * 86400, 600):  # three summaries nobody collected
        await redis.xadd(stream, {"m": b"old"}, id=f"{now_ms - age_s * 1000}-0")
    info = await store.create(600)
    await store.end(info.sid, 60, retention_s=86400)  # ending a session trims as it adds
    ids = [entry_id.decode() for entry_id, _ in await redis.xrange(stream)]
    assert len(ids) == 2 and ids[0] == f"{now_ms - 600_000}-0"  # the 10-minute-old one and the new one
    await store.trim_ended(300)  # the gateway's reaper trims with the setting, about once a minute
    assert len(await redis.xrange(stream)) == 1
