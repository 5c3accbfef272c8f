"""The audit log: who read or changed which clinical record, and when.

Entries carry ids, the action and the kind of record, never clinical content; the same
facts go to the log line."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clinic.db import utcnow
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


async def prune(
    sessions: async_sessionmaker[AsyncSession], keep_days: int, now: datetime | None = None
) -> int:
    """Delete audit records older than ``keep_days`` (``TELEREHAB_AUDIT_RETENTION_DAYS``;
    0 keeps them all). Returns how many went."""
    if keep_days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    async with sessions() as db, db.begin():
        done = await db.execute(
            delete(AuditEntry).where(AuditEntry.at < cutoff).execution_options(synchronize_session=False)
        )
    gone = int(getattr(done, "rowcount", 0) or 0)
    if gone:
        log.info("audit: %d record(s) older than %d days deleted", gone, keep_days)
    return gone
