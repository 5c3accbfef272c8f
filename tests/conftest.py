"""Fixtures on real parts: Redis on 127.0.0.1 (isolated by a per-test key prefix), the
gateway served on loopback, analyzer workers, and a synthetic face from a real photo."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from analyzer.worker import Worker
from gateway.app import create_app
from gateway.ice import configure_host_addresses
from shared import tokens
from shared.connections import connect
from shared.keys import Keys
from shared.settings import Settings
from testkit.synthetic import SyntheticFace, astronaut_face

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("GLOG_minloglevel", "2")


@pytest.fixture(scope="session")
def face() -> SyntheticFace:
    return SyntheticFace(astronaut_face())


@pytest.fixture
def settings() -> Settings:
    return Settings(
        redis_url=REDIS_URL,
        host="127.0.0.1",
        port=0,
        secret="test-secret-" + uuid.uuid4().hex,
        ice_hosts=("127.0.0.1",),
        key_prefix="test-" + uuid.uuid4().hex[:10],
        lease_ms=1000,
        token_ttl_s=600,
        clinic_enabled=False,  # tests/clinic mounts the clinic with its own database
    )


@pytest.fixture(autouse=True)
def _loopback_ice() -> Iterator[None]:
    # Test peers in this process gather only loopback candidates, like the gateway.
    configure_host_addresses(["127.0.0.1"])
    yield
    configure_host_addresses([])


async def _drop_prefix(client: aioredis.Redis, prefix: str) -> None:
    async for key in client.scan_iter(match=f"{prefix}:*", count=500):
        await client.delete(key)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = connect(settings.redis_url)
    try:
        await client.ping()
    except Exception as exc:  # pragma: no cover - environment problem
        pytest.fail(f"Redis is not reachable at {settings.redis_url}: {exc}")
    yield client
    await _drop_prefix(client, settings.key_prefix)
    await client.aclose()


@pytest.fixture
def keys(settings: Settings) -> Keys:
    return Keys(settings.key_prefix)


@dataclass
class Gateway:
    url: str
    settings: Settings
    http: aiohttp.ClientSession
    app: web.Application | None = None

    def clinic_token(self) -> str:
        return tokens.issue(self.settings.secret, tokens.CLINIC_SCOPE, "clinic", 60)

    async def create_session(self) -> dict[str, str]:
        async with self.http.post(
            f"{self.url}/api/sessions", headers={"Authorization": f"Bearer {self.clinic_token()}"}
        ) as response:
            assert response.status == 201, await response.text()
            return dict(await response.json())


@pytest.fixture
async def gateway(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[Gateway]:
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        yield Gateway(url=url, settings=replace(settings, port=server.port or 0), http=http, app=server.app)
    await server.close()


@dataclass
class RunningWorker:
    worker: Worker
    stop: asyncio.Event
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, worker_id: str) -> AsyncIterator[RunningWorker]:
    client = connect(settings.redis_url)
    worker = Worker(settings, client, worker_id=worker_id)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield RunningWorker(worker, stop, task)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await client.aclose()


@pytest.fixture
async def worker(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[RunningWorker]:
    async with running_worker(settings, "w-" + uuid.uuid4().hex[:6]) as running:
        yield running
