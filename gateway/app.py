"""The gateway's aiohttp application and its resources' lifetimes. The site a process
serves (the gateway with the clinic mounted) is composed in ``services.site``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from gateway.api import add_routes, registry_key, settings_key
from gateway.errors import json_errors
from gateway.ice import configure_host_addresses
from gateway.registry import RoomRegistry
from shared import slow_clients, web_headers
from shared.connections import connect
from shared.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    if not settings.secret:
        raise ValueError("the gateway needs TELEREHAB_SECRET to sign and check join tokens")
    configure_host_addresses(settings.ice_hosts)
    app = web.Application(middlewares=[json_errors("/api/")], client_max_size=settings.max_sdp_bytes + 4096)
    app[settings_key] = settings
    web_headers.install(app, https=settings.https)
    slow_clients.install(app, settings.http_timeout_s)
    app.cleanup_ctx.append(_rooms)
    add_routes(app)
    return app


async def _rooms(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    redis = connect(settings.redis_url, ca_file=settings.redis_ca_file)
    # Frame downscaling and JPEG encoding for the samplers, off the event loop.
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sampler")
    registry = RoomRegistry(redis, settings, executor)
    registry.start()
    app[registry_key] = registry
    yield
    await registry.close()
    executor.shutdown(wait=True)
    await redis.aclose()
