"""The clinic's aiohttp application: ``create_clinic_app(settings)``.

Mounted by the gateway under ``/clinic`` (``TELEREHAB_CLINIC=1``, the default) or served
alone by ``telerehab clinic`` (also under ``/clinic``). On start-up it upgrades the
database to the newest migration. Every route comes from ``ROUTES``, which also feeds
the OpenAPI document at ``/clinic/api/openapi.json``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.clinic import (
    assessment,
    audit_api,
    auth,
    education,
    ended,
    goals,
    intake,
    letters,
    people,
    programme,
    progress,
    questionnaires,
    referrals,
    reminders,
    report,
    scheduling,
    sessions,
    setup,
)
from services.clinic.audit import record
from services.clinic.context import Ctx, Route, Services, json_response, valid_id
from services.clinic.db import create_engine, resolve_url, sessionmaker
from services.clinic.errors import Conflict, Forbidden, HttpError, Unauthorized, clinic_errors
from services.clinic.mailer import Mailer
from services.clinic.migrate import upgrade
from services.clinic.openapi import document
from shared import slow_clients, web_headers
from shared.connections import connect
from shared.keys import Keys
from shared.settings import Settings
from shared.tasks import cancel_and_wait
from shared.tls import client_context, server_context

log = logging.getLogger(__name__)

services_key = web.AppKey("clinic_services", Services)
engine_key = web.AppKey("clinic_engine", AsyncEngine)
sessions_key = web.AppKey("clinic_sessions", async_sessionmaker[AsyncSession])


async def openapi_json(ctx: Ctx) -> web.Response:
    return json_response(document(ROUTES))


async def healthz(ctx: Ctx) -> web.Response:
    await ctx.db.execute(text("SELECT 1"))
    return json_response({"ok": True})


ROUTES: list[Route] = [
    Route("GET", "/api/openapi.json", openapi_json, "This document", None, "meta"),
    Route("GET", "/api/healthz", healthz, "The clinic and its database answer", None, "meta"),
    *auth.ROUTES,
    *setup.ROUTES,
    *people.ROUTES,
    *intake.ROUTES,
    *goals.ROUTES,
    *assessment.ROUTES,
    *programme.ROUTES,
    *education.ROUTES,
    *reminders.ROUTES,
    *sessions.ROUTES,
    *scheduling.ROUTES,
    *progress.ROUTES,
    *questionnaires.ROUTES,
    *referrals.ROUTES,
    *report.ROUTES,
    *letters.ROUTES,
    *audit_api.ROUTES,
]


def _endpoint(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Sign-in and role check, then the handler inside one transaction: it commits when
    the handler returns and rolls back on any error, so nothing is half-written."""

    async def endpoint(request: web.Request) -> web.StreamResponse:
        app = request.app
        actor: tuple[int, str] | None = None
        try:
            async with app[sessions_key]() as db, db.begin():
                ctx = Ctx(request=request, db=db, services=app[services_key], route=route)
                raw = auth.bearer(request.headers.get("Authorization", ""))
                if route.roles is not None:
                    if raw is None:
                        raise Unauthorized(
                            "Sign in first (Authorization: Bearer <token>).", code="missing_token"
                        )
                    ctx.user = await auth.user_for_bearer(db, raw)
                    actor = (ctx.user.id, ctx.user.role)
                    if ctx.user.role not in route.roles:
                        raise Forbidden(f"A {ctx.user.role} cannot do this.", code="wrong_role")
                return await route.handler(ctx)
        except HttpError as exc:
            if actor is not None and exc.status in (403, 404):
                await _audit_denied(app, actor, route, request)
            if isinstance(exc, auth.SignInFailed) and exc.actor is not None:
                await auth.record_failed_sign_in(app[sessions_key], exc.actor)
            raise
        except IntegrityError:
            # Two requests raced for the same unique thing (a programme version, an e-mail).
            raise Conflict("Someone changed this at the same moment; try again.", code="conflict") from None

    endpoint.__name__ = route.handler.__name__
    return endpoint


async def _audit_denied(
    app: web.Application, actor: tuple[int, str], route: Route, request: web.Request
) -> None:
    """A refused look at clinical data is logged too (in its own transaction)."""
    pid = request.match_info.get("pid")
    async with app[sessions_key]() as db, db.begin():
        record(db, actor, "denied", route.tag, int(pid) if pid is not None and valid_id(pid) else None)


def create_clinic_app(settings: Settings, *, hasher: PasswordHasher | None = None) -> web.Application:
    """The clinic app; ``hasher`` lets tests use cheaper argon2 parameters."""
    app = web.Application(middlewares=[clinic_errors], client_max_size=settings.clinic_max_body_bytes)
    password_hasher = hasher or PasswordHasher()

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(resolve_url(settings))
        try:
            await upgrade(engine)
        except Exception:
            await engine.dispose()
            raise
        app[engine_key] = engine
        app[sessions_key] = sessionmaker(engine)
        # Its calls to the gateway verify the gateway's certificate (a self-signed one too).
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_context(settings)))
        mailer = Mailer(settings)
        app[services_key] = Services(
            settings=settings, mailer=mailer, http=http, hasher=password_hasher, sessions=app[sessions_key]
        )
        tasks: list[asyncio.Task[None]] = []
        redis = (
            connect(settings.redis_url, ca_file=settings.redis_ca_file)
            if settings.clinic_collect_summaries
            else None
        )
        if redis is not None:
            collect = ended.consume(app[sessions_key], redis, Keys(settings.key_prefix))
            tasks.append(asyncio.create_task(collect, name="clinic-summaries"))
        sweep = sessions.sweep_loop(app[sessions_key], settings.audit_retention_days)
        tasks.append(asyncio.create_task(sweep, name="clinic-sweep"))
        if mailer.configured and settings.reminder_interval_s > 0:
            tasks.append(
                asyncio.create_task(
                    reminders.reminder_loop(
                        app[sessions_key], mailer, settings.base_url, settings.reminder_interval_s
                    ),
                    name="clinic-reminders",
                )
            )
        yield
        for task in tasks:
            await cancel_and_wait(task)
        if redis is not None:
            await redis.aclose()
        await http.close()
        await engine.dispose()

    app.cleanup_ctx.append(lifetime)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _endpoint(route))
    return app


def mount(parent: web.Application, settings: Settings) -> web.Application:
    clinic = create_clinic_app(settings)
    parent.add_subapp("/clinic", clinic)
    return clinic


def run(settings: Settings) -> None:
    """``telerehab clinic``: the clinic alone on ``TELEREHAB_CLINIC_PORT``, under /clinic."""
    root = web.Application()
    web_headers.install(root, https=settings.https)
    slow_clients.install(root, settings.http_timeout_s)
    mount(root, settings)
    log.info("clinic listening on %s:%d", settings.host, settings.clinic_port)
    web.run_app(
        root,
        host=settings.host,
        port=settings.clinic_port,
        print=None,
        ssl_context=server_context(settings),
        **slow_clients.server_limits(settings),
    )
    asyncio.set_event_loop(None)
