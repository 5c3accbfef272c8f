"""The gateway's aiohttp application and its resources' lifetimes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from gateway.api import add_routes, registry_key, settings_key
from gateway.errors import json_errors
from gateway.ice import configure_host_addresses
from gateway.registry import RoomRegistry
from shared import web_headers
from shared.connections import connect
from shared.settings import Settings
from shared.tls import server_context

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    if not settings.secret:
        raise ValueError("the gateway needs TELEREHAB_SECRET to sign and check join tokens")
    configure_host_addresses(settings.ice_hosts)
    app = web.Application(middlewares=[json_errors("/api/")], client_max_size=settings.max_sdp_bytes + 4096)
    app[settings_key] = settings
    web_headers.install(app, https=settings.base_url.startswith("https://"))
    app.cleanup_ctx.append(_rooms)
    add_routes(app)
    if settings.clinic_enabled:
        from services.clinic.app import mount

        mount(app, settings)  # the clinic's JSON API under /clinic (TELEREHAB_CLINIC=0: not here)
    return app


async def _rooms(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    redis = connect(settings.redis_url)
    # Frame downscaling and JPEG encoding for the samplers, off the event loop.
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sampler")
    registry = RoomRegistry(redis, settings, executor)
    registry.start()
    app[registry_key] = registry
    yield
    await registry.close()
    executor.shutdown(wait=True)
    await redis.aclose()


def run(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM; rooms are closed on the way out."""
    app = create_app(settings)
    log.info("gateway listening on %s:%d", settings.host, settings.port)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        access_log_format='%a "%r" %s %b %Tf',
        ssl_context=server_context(settings),
    )
    asyncio.set_event_loop(None)
