"""The clinic database: URL resolution, the async engine and a UTC datetime type."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession
from sqlalchemy.types import TypeDecorator

from shared.settings import Settings


def resolve_url(settings: Settings) -> str:
    """``DATABASE_URL``, with a relative SQLite path placed under ``TELEREHAB_STATE_DIR``
    (default ``.telerehab``, where ``telerehab up`` also keeps its secret), whose folder is
    created. Absolute SQLite paths (``sqlite+aiosqlite:////var/lib/x.db``), in-memory
    databases and other databases are used as given."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return settings.database_url
    path = Path(url.database)
    if not path.is_absolute():
        path = Path(settings.state_dir) / path
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the owner's alone
    return url.set(database=str(path)).render_as_string(hide_password=False)


def create_engine(url: str) -> AsyncEngine:
    # hide_parameters: SQL errors must never carry names or emails into the logs.
    engine = create_async_engine(url, hide_parameters=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        # aiosqlite logs every statement with its parameters (names, e-mails) at DEBUG.
        logging.getLogger("aiosqlite").setLevel(logging.INFO)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    return engine


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the clinic database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
