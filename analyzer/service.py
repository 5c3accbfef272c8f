"""Process entry point of an analyzer worker: connect, work, drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from functools import partial

import cv2
from aiohttp import web

from analyzer.health import create_health_app
from analyzer.landmark_model import make_landmarker
from analyzer.worker import Worker
from shared.connections import connect
from shared.settings import Settings

log = logging.getLogger(__name__)


async def serve(settings: Settings, worker_id: str | None = None) -> None:
    redis = connect(settings.redis_url, ca_file=settings.redis_ca_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(
        settings, redis, worker_id=worker_id, landmarker_factory=partial(make_landmarker, settings.landmarker)
    )
    site_runner: web.AppRunner | None = None
    try:
        if settings.analyzer_metrics_port:
            site_runner = web.AppRunner(create_health_app(worker, redis), access_log=None)
            await site_runner.setup()
            port = settings.analyzer_metrics_port
            await web.TCPSite(site_runner, settings.host, port).start()
            log.info("worker %s: /healthz, /readyz, /metrics on port %d", worker.id, port)
        await worker.run(stop)
    finally:
        if site_runner is not None:
            await site_runner.cleanup()
        await redis.aclose()


def one_core() -> None:
    """A worker is one process per core (scale out by processes): OpenCV's own thread
    pool only costs here, waking threads for canvas-sized images (about 0.14 ms of a
    3 ms frame, measured with benchmarks/analyzer_throughput)."""
    cv2.setNumThreads(1)


def run(settings: Settings, worker_id: str | None = None) -> None:
    one_core()
    asyncio.run(serve(settings, worker_id))
