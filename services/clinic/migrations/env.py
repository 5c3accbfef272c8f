"""Alembic environment: always run with a connection from ``services.clinic.migrate``."""

from __future__ import annotations

from alembic import context

from services.clinic.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run clinic migrations through services.clinic.migrate (telerehab db upgrade)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
