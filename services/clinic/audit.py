"""The audit log: who read or changed which clinical record, and when.

Entries carry ids, the action and the kind of record, never clinical content; the same
facts go to the log line."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from services.clinic.models import AuditEntry

log = logging.getLogger(__name__)


def record(
    db: AsyncSession,
    actor: tuple[int, str] | None,
    action: str,
    resource: str,
    patient_id: int | None,
    resource_id: int | None = None,
) -> None:
    db.add(
        AuditEntry(
            actor_id=actor[0] if actor else None,
            actor_role=actor[1] if actor else "anonymous",
            action=action,
            resource=resource,
            patient_id=patient_id,
            resource_id=resource_id,
        )
    )
    log.info(
        "audit actor=%s action=%s resource=%s patient=%s id=%s",
        actor[0] if actor else "-",
        action,
        resource,
        patient_id,
        resource_id,
    )
