"""Reading the audit log (admins only)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from services.clinic.context import Ctx, Route, json_response, valid_id
from services.clinic.errors import BadRequest
from services.clinic.models import AuditEntry


async def list_audit(ctx: Ctx) -> web.Response:
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    pid = ctx.request.query.get("patient_id")
    if pid is not None:
        if not valid_id(pid):
            raise BadRequest("'patient_id' must be a number.")
        query = query.where(AuditEntry.patient_id == int(pid))
    raw_limit = ctx.request.query.get("limit", "200")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise BadRequest("'limit' must be 1 to 1000.")
    rows = (await ctx.db.execute(query.limit(int(raw_limit)))).scalars().all()
    ctx.audit("read", "audit", int(pid) if pid is not None else None)  # who looked, too
    return json_response(
        [
            {
                "id": r.id,
                "at": r.at,
                "actor_id": r.actor_id,
                "actor_role": r.actor_role,
                "action": r.action,
                "resource": r.resource,
                "patient_id": r.patient_id,
                "resource_id": r.resource_id,
            }
            for r in rows
        ]
    )


ROUTES = [
    Route(
        "GET",
        "/api/audit",
        list_audit,
        "The audit log, newest first",
        ("admin",),
        "audit",
        query=("patient_id", "limit"),
    ),
]
