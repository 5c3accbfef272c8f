"""Redis restarts mid-session (and forgets everything: no persistence). The gateway and
the worker ride it out: no crash, readiness reports the outage, feedback resumes."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from shared import tokens
from shared.settings import Settings
from testkit.redis_server import RedisServer
from testkit.synthetic import SyntheticFace
from tests.conftest import running_worker
from tests.peers import join, patient_tracks

pytestmark = pytest.mark.slow


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = RedisServer(port)
    server.start()
    yield server
    server.stop()


async def test_gateway_and_worker_survive_a_redis_restart(
    settings: Settings, private_redis: RedisServer, face: SyntheticFace
) -> None:
    settings = replace(settings, redis_url=private_redis.url)
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    clinic = tokens.issue(settings.secret, tokens.CLINIC_SCOPE, "clinic", 60)
    async with aiohttp.ClientSession() as http, running_worker(settings, "steady") as worker:
        async with http.post(f"{url}/api/sessions", headers={"Authorization": f"Bearer {clinic}"}) as r:
            session = await r.json()
        _camera, tracks = patient_tracks(face)
        patient = await join(http, url, session["patient_token"], tracks)
        try:
            await patient.wait_for(lambda e: e.get("type") == "feedback" and e["status"] == "tracking")

            private_redis.stop()
            down_at = int(time.time() * 1000)
            await asyncio.sleep(1.0)
            async with http.get(f"{url}/readyz") as r:
                assert r.status == 503
                assert (await r.json())["error"]["code"] == "redis_unavailable"
            async with http.get(f"{url}/healthz") as r:
                assert r.status == 200  # alive, just not ready

            private_redis.start()  # empty: sessions, groups, checkpoints are all gone
            event = await patient.wait_for(
                lambda e: e.get("type") == "feedback" and e["captured_ms"] > down_at + 1000, timeout=30
            )
            assert event["face"] is True
            async with http.get(f"{url}/readyz") as r:
                assert r.status == 200
            assert not worker.task.done()
            assert session["sid"] in worker.worker.sessions
        finally:
            await patient.close()
    await server.close()
