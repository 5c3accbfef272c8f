"""Clinic fixtures on real parts: a SQLite file or a throwaway PostgreSQL database (both
for every DB test), the clinic app served on loopback, and signed-in people."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher
from sqlalchemy import func, select

from services.clinic.app import create_clinic_app, sessions_key
from services.clinic.manage import create_admin
from services.clinic.models import AuditEntry
from services.site import create_site
from shared import tokens
from shared.settings import Settings
from testkit.net import free_port

PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
# Cheap argon2 parameters: the tests create many accounts; production uses the defaults.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "correct horse battery"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'clinic.db'}"
        return
    name = "telerehab_test_" + uuid.uuid4().hex[:12]
    try:
        admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:  # pragma: no cover - environment problem
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: {exc} (scripts/services.sh starts it)")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def clinic_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        host="127.0.0.1",
        port=0,
        public_url="http://telerehab.test",
        gateway_url="http://127.0.0.1:9",  # no gateway here: refused at once (test_gateway.py has one)
        secret="clinic-test-" + uuid.uuid4().hex,
        database_url=database_url,
        state_dir=str(tmp_path / "state"),
        reminder_interval_s=0,
        token_ttl_s=600,
        clinic_enabled=True,
        clinic_collect_summaries=False,  # no gateway here (test_gateway.py has one)
    )


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any = None


@dataclass
class Clinic:
    url: str
    http: aiohttp.ClientSession
    settings: Settings
    app: web.Application
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    async def call(
        self,
        method: str,
        path: str,
        who: str | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        hdrs = dict(headers or {})
        if who is not None:
            hdrs["Authorization"] = f"Bearer {self.tokens[who]}"
        kwargs: dict[str, Any] = {"headers": hdrs}
        if json is not None:
            kwargs["json"] = json
        if data is not None:
            kwargs["data"] = data
        async with self.http.request(method, self.url + path, **kwargs) as response:
            raw = await response.read()
            if response.content_type == "application/json":
                import json as _json

                return Reply(response.status, _json.loads(raw), response.headers)
            return Reply(response.status, raw, response.headers)

    async def ok(
        self, method: str, path: str, who: str | None = None, json: Any = None, status: int = 200
    ) -> Any:
        reply = await self.call(method, path, who, json)
        assert reply.status == status, (method, path, who, reply.status, reply.body)
        return reply.body

    async def login(self, email: str, password: str = PASSWORD, totp: str | None = None) -> Reply:
        body: dict[str, Any] = {"email": email, "password": password}
        if totp is not None:
            body["totp"] = totp
        return await self.call("POST", "/clinic/api/auth/login", json=body)


async def serve(settings: Settings) -> tuple[TestServer, web.Application]:
    root = web.Application()
    clinic = create_clinic_app(settings, hasher=FAST_HASHER)
    root.add_subapp("/clinic", clinic)
    server = TestServer(root, host="127.0.0.1")
    await server.start_server()
    return server, clinic


@pytest.fixture
def mailed_link() -> Callable[[str], str] | None:
    """Where invitations arrive when SMTP is configured (test_mail.py overrides this)."""
    return None


@pytest.fixture
async def clinic(
    clinic_settings: Settings, mailed_link: Callable[[str], str] | None
) -> AsyncIterator[Clinic]:
    """The clinic with an admin, two therapists (``therapist``, ``other_therapist``) and
    one patient of ``therapist`` signed in by magic link (``patient``), plus a second
    patient of ``other_therapist`` (``other_patient``)."""
    admin_id = await create_admin(clinic_settings, "admin@clinic.test", "Admin", PASSWORD, FAST_HASHER)
    server, app = await serve(clinic_settings)
    url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        c = Clinic(url=url, http=http, settings=replace(clinic_settings, port=server.port or 0), app=app)
        c.ids["admin"] = admin_id
        c.tokens["admin"] = (await c.login("admin@clinic.test")).body["token"]
        for who in ("therapist", "other_therapist"):
            t = await c.ok(
                "POST",
                "/clinic/api/therapists",
                "admin",
                {"email": f"{who}@clinic.test", "name": who.title(), "password": PASSWORD},
                201,
            )
            c.ids[who] = t["id"]
            c.tokens[who] = (await c.login(f"{who}@clinic.test")).body["token"]
        for who, owner in (("patient", "therapist"), ("other_patient", "other_therapist")):
            made = await c.ok(
                "POST",
                "/clinic/api/patients",
                owner,
                {"email": f"{who}@example.test", "name": f"Pat {who}", "timezone": "Europe/London"},
                201,
            )
            c.ids[who] = made["patient"]["id"]
            link = made["invite"]["link"] if mailed_link is None else mailed_link(f"{who}@example.test")
            magic = link.split("#token=", 1)[1]
            c.tokens[who] = (await c.ok("POST", "/clinic/api/auth/magic", None, {"token": magic}))["token"]
        yield c
    await server.close()


async def audit_count(c: Clinic, **where: Any) -> int:
    async with c.app[sessions_key]() as db:
        q = select(func.count()).select_from(AuditEntry)
        for k, v in where.items():
            q = q.where(getattr(AuditEntry, k) == v)
        return int(await db.scalar(q) or 0)


def clinic_token(s: Settings) -> str:
    return tokens.issue(s.secret, tokens.CLINIC_SCOPE, "clinic", 60)


@dataclass
class Site:
    """The gateway with the clinic mounted, on loopback, with an admin, a therapist and
    their patient signed in."""

    base: str
    settings: Settings
    http: aiohttp.ClientSession
    therapist: str  # bearer tokens
    patient: str
    pid: int
    admin: str = ""

    async def call(self, method: str, path: str, token: str | None = None, body: object = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as r:
            return r.status, await r.json()


@contextlib.asynccontextmanager
async def site(
    settings: Settings, database_url: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[Site]:
    port = free_port()
    s = replace(settings, port=port, clinic_enabled=True, database_url=database_url, state_dir=str(tmp_path))
    s = replace(s, **overrides)
    await create_admin(s, "admin@clinic.test", "Admin", PASSWORD, FAST_HASHER)
    server = TestServer(create_site(s), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            out = Site(f"http://127.0.0.1:{port}", s, http, "", "", 0)
            _, admin = await out.call(
                "POST", "/clinic/api/auth/login", body={"email": "admin@clinic.test", "password": PASSWORD}
            )
            therapist = {"email": "t@clinic.test", "name": "T", "password": PASSWORD}
            out.admin = admin["token"]
            await out.call("POST", "/clinic/api/therapists", admin["token"], therapist)
            login = {"email": "t@clinic.test", "password": PASSWORD}
            out.therapist = (await out.call("POST", "/clinic/api/auth/login", body=login))[1]["token"]
            _, made = await out.call(
                "POST", "/clinic/api/patients", out.therapist, {"email": "p@example.test", "name": "P"}
            )
            out.pid = made["patient"]["id"]
            magic = {"token": made["invite"]["link"].split("#token=")[1]}
            out.patient = (await out.call("POST", "/clinic/api/auth/magic", body=magic))[1]["token"]
            yield out
    finally:
        await server.close()
