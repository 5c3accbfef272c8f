"""Process entry point of an analyzer worker: connect, work, drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from analyzer.worker import Worker
from shared.connections import connect
from shared.settings import Settings

log = logging.getLogger(__name__)


async def serve(settings: Settings, worker_id: str | None = None) -> None:
    redis = connect(settings.redis_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await Worker(settings, redis, worker_id=worker_id).run(stop)
    finally:
        await redis.aclose()


def run(settings: Settings, worker_id: str | None = None) -> None:
    asyncio.run(serve(settings, worker_id))
