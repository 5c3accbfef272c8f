"""HTTPS: a self-signed certificate for a LAN demo, served by the gateway with HSTS, and
trusted by the service's own clients but not by anyone else's defaults."""

from __future__ import annotations

import ssl
import stat
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web

from gateway.app import create_app
from shared.settings import SELF_SIGNED, Settings, SettingsError
from shared.tls import certificate_paths, client_context, server_context
from testkit.net import free_port


async def test_the_gateway_serves_https_with_a_self_signed_certificate(
    settings: Settings, redis: aioredis.Redis, tmp_path: Path
) -> None:
    tls = replace(settings, tls_cert=SELF_SIGNED, state_dir=str(tmp_path), port=free_port())
    assert tls.base_url.startswith("https://") and tls.clinic_gateway_url.startswith("https://127.0.0.1:")
    context = server_context(tls)
    assert context is not None
    paths = certificate_paths(tls)
    assert paths is not None and stat.S_IMODE(paths[1].stat().st_mode) == 0o600  # the key: owner only
    runner = web.AppRunner(create_app(tls))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", tls.port, ssl_context=context).start()
    try:
        trusting = aiohttp.TCPConnector(ssl=client_context(tls))
        url = f"{tls.local_url}/healthz"
        async with aiohttp.ClientSession(connector=trusting) as http, http.get(url) as r:
            assert r.status == 200
            assert r.headers["Strict-Transport-Security"].startswith("max-age=")
        async with aiohttp.ClientSession() as stranger:  # the system's CAs alone
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await stranger.get(f"{tls.local_url}/healthz")
        async with aiohttp.ClientSession() as plain:  # plain HTTP on the TLS port is refused
            with pytest.raises((aiohttp.ClientError, ssl.SSLError)):
                await plain.get(f"http://127.0.0.1:{tls.port}/healthz")
    finally:
        await runner.cleanup()


def test_a_certificate_named_in_settings_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="TELEREHAB_TLS_CERT"):
        Settings.from_env({"TELEREHAB_TLS_CERT": str(tmp_path / "missing.pem")})
    assert Settings.from_env({"TELEREHAB_TLS_CERT": SELF_SIGNED}).scheme == "https"
