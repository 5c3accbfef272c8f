"""The site ``telerehab gateway`` serves: the gateway, with the clinic's JSON API and pages
mounted under /clinic unless ``TELEREHAB_CLINIC=0``. Composed here, at the entry point:
the gateway and the clinic never import each other."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from gateway.api import openapi_key
from gateway.app import create_app
from gateway.openapi import merge
from services.clinic.app import ROUTES as CLINIC_ROUTES
from services.clinic.app import mount
from services.clinic.openapi import document as clinic_document
from shared.settings import Settings
from shared.slow_clients import server_limits
from shared.tls import server_context

log = logging.getLogger(__name__)


def create_site(settings: Settings) -> web.Application:
    app = create_app(settings)
    if settings.clinic_enabled:
        mount(app, settings)
        # One OpenAPI document for the whole site, at /api/openapi.json.
        app[openapi_key] = merge(app[openapi_key], clinic_document(CLINIC_ROUTES))
    return app


def run(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM; rooms are closed on the way out."""
    app = create_site(settings)
    log.info("gateway listening on %s:%d", settings.host, settings.port)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=None,
        access_log_format='%a "%r" %s %b %Tf',
        ssl_context=server_context(settings),
        **server_limits(settings),
    )
    asyncio.set_event_loop(None)
