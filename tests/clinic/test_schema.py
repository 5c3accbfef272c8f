"""Migrations up and down on both databases, models in step with them, and the OpenAPI
document in step with the registered routes."""

from __future__ import annotations

from pathlib import Path

from aiohttp.web_urldispatcher import PrefixedSubAppResource
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from gateway.api import openapi_key
from services.clinic.app import ROUTES, create_clinic_app
from services.clinic.db import create_engine, resolve_url
from services.clinic.migrate import current, downgrade, upgrade
from services.clinic.models import Base
from services.site import create_site
from shared.settings import Settings
from tests.clinic.conftest import Clinic

TABLES = {t.name for t in Base.metadata.sorted_tables}


async def test_migrations_go_up_and_down_and_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        assert await current(engine) == "0009"
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            assert names >= TABLES
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
        assert diff == [], f"models and migrations differ: {diff}"
        await downgrade(engine, "0008")  # one step: the sessions' treatments go
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("sessions")}
            )
        assert "treatments" not in columns and "notes" in columns
        await downgrade(engine, "0007")  # one step: the patients' own intake answers go
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert "patient_intakes" not in names and "intakes" in names
        await downgrade(engine, "0006")  # one step: the education reads go
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert "education_reads" not in names and "goals" in names
        await downgrade(engine, "0005")  # one step: the goals go
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert "goals" not in names and "sessions" in names
        await downgrade(engine, "0004")  # one step: the calendar sequence goes, the sessions stay
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("sessions")}
            )
        assert "calendar_sequence" not in columns and "notes" in columns
        await downgrade(engine, "0002")  # two steps: the notes columns go, the sessions stay
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("sessions")}
            )
        assert not {"notes", "notes_updated_at"} & columns and "summary" in columns
        await downgrade(engine, "0001")  # one step: the column goes, the data stays
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("users")}
            )
        assert "totp_last_step" not in columns and "totp_enabled" in columns
        await downgrade(engine, "base")
        assert await current(engine) is None
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert not TABLES & names
        await upgrade(engine)  # and up again
        assert await current(engine) == "0009"
    finally:
        await engine.dispose()


def test_relative_sqlite_paths_live_in_the_state_dir(tmp_path: Path) -> None:
    s = Settings(database_url="sqlite+aiosqlite:///telerehab.db", state_dir=str(tmp_path / "state"))
    assert resolve_url(s) == f"sqlite+aiosqlite:///{tmp_path}/state/telerehab.db"
    assert (tmp_path / "state").is_dir()
    absolute = f"sqlite+aiosqlite:///{tmp_path}/elsewhere.db"
    assert resolve_url(Settings(database_url=absolute, state_dir="x")) == absolute
    pg = "postgresql+asyncpg://u:p@db/telerehab"
    assert resolve_url(Settings(database_url=pg)) == pg


async def test_openapi_describes_exactly_the_registered_routes(clinic: Clinic) -> None:
    doc = await clinic.ok("GET", "/clinic/api/openapi.json")
    described = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    registered = set()
    for resource in clinic.app.router.resources():
        for route in resource:
            if route.method != "HEAD":
                registered.add((route.method, resource.canonical))  # mounted: starts /clinic
    assert described == registered
    assert len(described) == len(ROUTES)
    put_programme = doc["paths"]["/clinic/api/patients/{pid}/programme"]["put"]
    schema_ref = put_programme["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
    assert put_programme["x-roles"] == ["therapist"] and put_programme["security"] == [{"bearer": []}]
    notes = doc["paths"]["/clinic/api/sessions/{id}/notes"]["put"]
    assert notes["x-roles"] == ["therapist"] and "requestBody" in notes
    notes_ref = notes["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert doc["components"]["schemas"][notes_ref]["properties"]["notes"]["maxLength"] == 20_000
    report = doc["paths"]["/clinic/api/patients/{pid}/report.pdf"]["get"]
    assert "application/pdf" in report["responses"]["200"]["content"]


def test_every_route_handler_is_documented_and_unique() -> None:
    app = create_clinic_app(Settings(secret="x"))
    assert len({(r.method, r.path) for r in ROUTES}) == len(ROUTES)
    assert all(r.summary and r.tag for r in ROUTES)
    assert len(list(app.router.routes())) >= len(ROUTES)


def test_one_openapi_document_describes_exactly_the_sites_api(tmp_path: Path) -> None:
    settings = Settings(secret="x" * 32, clinic_enabled=True, state_dir=str(tmp_path))
    app = create_site(settings)
    doc = app[openapi_key]
    described = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    registered: set[tuple[str, str]] = set()
    apps = [app, *(r._app for r in app.router.resources() if isinstance(r, PrefixedSubAppResource))]
    for one in apps:
        for resource in one.router.resources():
            for route in resource:
                path = resource.canonical
                api = path.startswith(("/api/", "/clinic/api/")) or path in (
                    "/healthz",
                    "/readyz",
                    "/metrics",
                )
                if route.method != "HEAD" and api:
                    registered.add((route.method, path))
    assert described == registered
    offer = doc["paths"]["/api/offer"]["post"]
    schema = offer["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(doc["components"]["schemas"][schema]["required"]) == {"type", "sdp"}
    assert offer["x-roles"] == ["patient", "therapist"] and offer["security"] == [{"bearer": []}]
    command = doc["paths"]["/api/sessions/{sid}/commands"]["post"]
    ref = command["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert doc["components"]["schemas"][ref]["properties"]["reps"]["anyOf"][0]["maximum"] >= 1
    assert "/clinic/api/patients/{pid}/programme" in doc["paths"]  # the clinic's, in the same document
