"""Redis restarts mid-session. Without persistence it forgets everything: the gateway
and the worker ride it out (no crash, readiness reports the outage, feedback resumes,
the face is calibrated again). With persistence nothing is lost: the same worker goes on
measuring against the same baseline."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from shared import tokens
from shared.settings import Settings
from testkit.net import free_port
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


def tracking(event: dict[str, object]) -> bool:
    return event.get("type") == "feedback" and event["status"] == "tracking"


async def test_a_persistent_redis_restart_loses_nothing(
    settings: Settings, tmp_path: Path, face: SyntheticFace
) -> None:
    """Redis restarts while no worker holds the session (the one that did has shut down):
    the next worker finds the session and its checkpoint where Redis persisted them and
    goes on against the same baseline, without calibrating again."""
    persistent = RedisServer(free_port(), data_dir=tmp_path)
    persistent.start()
    settings = replace(settings, redis_url=persistent.url)
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    clinic = tokens.issue(settings.secret, tokens.CLINIC_SCOPE, "clinic", 60)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/api/sessions", headers={"Authorization": f"Bearer {clinic}"}) as r:
                session = await r.json()
            _camera, tracks = patient_tracks(face)
            patient = await join(http, url, session["patient_token"], tracks)
            try:
                async with running_worker(settings, "first"):
                    await patient.wait_for(tracking)
                    await asyncio.sleep(1.5)  # a checkpoint is written within a second of calibrating
                # "first" has shut down and handed the session back, checkpoint kept.
                persistent.stop()
                down_at = int(time.time() * 1000)
                await asyncio.sleep(1.0)
                persistent.start()  # with what it had written
                async with running_worker(settings, "next") as worker:
                    await patient.wait_for(
                        lambda e: e.get("type") == "feedback" and e["captured_ms"] > down_at and e["face"],
                        timeout=30,
                    )
                    after = len(patient.feedback())
                    await patient.wait_for(lambda e: len(patient.feedback()) >= after + 15, timeout=30)
                    statuses = {e["status"] for e in patient.feedback() if e["captured_ms"] > down_at}
                    assert statuses == {"tracking"}, statuses  # the baseline came back with Redis
                    assert session["sid"] in worker.worker.sessions
            finally:
                await patient.close()
    finally:
        await server.close()
        persistent.stop()
