"""An analyzer worker's own HTTP endpoints: ``/healthz`` (the process answers),
``/readyz`` (Redis answers and the worker is not draining; else 503 with the reason) and
``/metrics`` (Prometheus text: frames analysed, dropped as stale, bad; sessions held;
sampled → analysed latency). Served only when ``TELEREHAB_ANALYZER_METRICS_PORT`` is set,
so several workers on one machine do not fight over a port.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from aiohttp import web

from analyzer.latency import LatencyHistogram
from shared.connections import REDIS_DOWN
from shared.prometheus import CONTENT_TYPE_LATEST, Histogram, MetricSpec, exposition

if TYPE_CHECKING:
    from analyzer.worker import Worker

# name -> (type, help)
COUNTERS: dict[str, MetricSpec] = {
    "telerehab_analyzer_sessions": MetricSpec("gauge", "Sessions this worker analyses now"),
    "telerehab_analyzer_frames_analysed_total": MetricSpec("counter", "Frames analysed"),
    "telerehab_analyzer_frames_dropped_total": MetricSpec(
        "counter", "Frames skipped as stale (newest frame wins)"
    ),
    "telerehab_analyzer_frames_bad_total": MetricSpec(
        "counter", "Frames or messages that could not be analysed"
    ),
}
LATENCY = "telerehab_analyzer_latency_seconds"


def render(worker: Worker) -> bytes:
    counts: Counter[str] = Counter(worker.retired)
    latency = LatencyHistogram()
    latency.merge(worker.retired_latency)
    for runner in worker.runners:
        counts["telerehab_analyzer_frames_analysed_total"] += runner.analysed
        counts["telerehab_analyzer_frames_dropped_total"] += runner.dropped
        counts["telerehab_analyzer_frames_bad_total"] += runner.bad
        latency.merge(runner.latency)
    counts["telerehab_analyzer_sessions"] = len(worker.sessions)
    histogram = Histogram(
        LATENCY, "Sampled frame to analysed feedback", latency.buckets(), latency.total_ms / 1000
    )
    return exposition(COUNTERS, counts, [histogram])


worker_key = web.AppKey("worker", object)
redis_key = web.AppKey("redis", aioredis.Redis)


def create_health_app(worker: Worker, redis: aioredis.Redis) -> web.Application:
    app = web.Application()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "worker": worker.id})

    async def readyz(request: web.Request) -> web.Response:
        if worker.draining:
            return web.json_response({"ok": False, "reason": "draining"}, status=503)
        try:
            await redis.ping()
        except REDIS_DOWN:
            return web.json_response({"ok": False, "reason": "redis unreachable"}, status=503)
        return web.json_response({"ok": True, "sessions": len(worker.sessions)})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=render(worker), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
