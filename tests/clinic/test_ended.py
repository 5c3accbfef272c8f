"""The clinic's reader of the ended-sessions stream, on real Redis and SQLite."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from services.clinic import ended
from services.clinic.db import create_engine, sessionmaker
from services.clinic.migrate import upgrade
from shared import codec
from shared.connections import connect
from shared.keys import CLINIC_GROUP, Keys
from shared.tasks import cancel_and_wait
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.slow


async def test_an_idle_reader_stays_quiet_and_skips_what_is_not_ours(
    redis: aioredis.Redis, keys: Keys, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="services.clinic.ended")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'clinic.db'}")
    await upgrade(engine)
    stream = keys.ended_sessions()
    await redis.xadd(stream, {"m": b"\x00 not a summary"})
    # The client the clinic app makes (with its 5 s socket timeout), not the fixture's.
    client = connect(REDIS_URL)
    task = asyncio.create_task(ended.consume(sessionmaker(engine), client, keys))
    # An idle blocking read must end well before the client's socket time-out, or it
    # times out and complains (a 5 s block on this 5 s-timeout client did, about one read
    # in four: `make up` logged it every 20 s). Checked as the rule itself, every time,
    # rather than hoping a short wait happens to catch it.
    socket_timeout = client.connection_pool.connection_kwargs["socket_timeout"]
    assert socket_timeout / 2 >= ended.READ_BLOCK_MS / 1000, (ended.READ_BLOCK_MS, socket_timeout)
    try:
        await asyncio.sleep(ended.READ_BLOCK_MS / 1000 * 3)  # a few idle reads: quiet
        from shared.messages import SessionSummary

        await redis.xadd(stream, {"m": codec.encode(SessionSummary(sid="not-scheduled-here", frames=3))})
        for _ in range(50):
            if (await redis.xpending(stream, CLINIC_GROUP))["pending"] == 0:
                break
            await asyncio.sleep(0.1)
        assert (await redis.xpending(stream, CLINIC_GROUP))["pending"] == 0
    finally:
        await cancel_and_wait(task)
        await client.aclose()
        await engine.dispose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "skipped an unreadable ended-session entry: not a message envelope: Expected `object`, got `int`"
    ], warnings
