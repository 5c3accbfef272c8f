"""Redis over TLS (``rediss://`` and ``TELEREHAB_REDIS_CA_FILE``): the frames and
summaries that cross it are faces and health data. A real ``redis-server`` speaking only
TLS with its own certificate."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.app import create_app
from shared import tokens
from shared.connections import connect
from shared.settings import Settings
from shared.tls import make_self_signed
from testkit.net import free_port
from testkit.redis_server import RedisServer


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[RedisServer]:
    cert, key = tmp_path / "redis-cert.pem", tmp_path / "redis-key.pem"
    make_self_signed(cert, key, "127.0.0.1")
    server = RedisServer(free_port(), tls=(cert, key))
    server.start()
    yield server
    server.stop()


async def test_rediss_with_the_clinics_ca_works_and_nothing_else_does(tls_redis: RedisServer) -> None:
    assert tls_redis.tls is not None
    ca = str(tls_redis.tls[0])
    trusted = connect(tls_redis.url, ca_file=ca)
    try:
        assert await trusted.ping()
    finally:
        await trusted.aclose()
    # The system's CAs do not vouch for this certificate: refused, not used unchecked.
    unknown = connect(tls_redis.url)
    try:
        with pytest.raises(RedisConnectionError, match="certificate verify failed"):
            await unknown.ping()
    finally:
        await unknown.aclose()
    plain = connect(tls_redis.url.replace("rediss://", "redis://"))  # no TLS: no answer
    try:
        with pytest.raises(RedisConnectionError):
            await plain.ping()
    finally:
        await plain.aclose()


async def test_the_gateway_keeps_its_sessions_in_redis_over_tls(
    settings: Settings, tls_redis: RedisServer
) -> None:
    assert tls_redis.tls is not None
    over_tls = replace(settings, redis_url=tls_redis.url, redis_ca_file=str(tls_redis.tls[0]))
    assert Settings.from_env({"TELEREHAB_REDIS_CA_FILE": " /ca.pem "}).redis_ca_file == "/ca.pem"
    server = TestServer(create_app(over_tls), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    clinic = tokens.issue(over_tls.secret, tokens.CLINIC_SCOPE, "clinic", 60)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/api/sessions", headers={"Authorization": f"Bearer {clinic}"}) as r:
                assert r.status == 201, await r.text()
                token = (await r.json())["patient_url"].split("#token=")[1]
            async with http.get(f"{url}/api/session", headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200 and (await r.json())["role"] == "patient"
            async with http.get(f"{url}/readyz") as r:
                assert r.status == 200
    finally:
        await server.close()
