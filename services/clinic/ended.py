"""Keep the summaries of ended sessions, however they were ended.

The gateway appends every ended session's summary (figures only, no frames) to the
``ended-sessions`` stream. The clinic reads it through a consumer group: a summary for a
session it scheduled is stored against that session (once: see
``sessions.keep_summary``), anything else is acknowledged and skipped. An entry is
acknowledged only after its transaction commits, so a database outage loses nothing:
the entry stays pending and is read again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.clinic.models import ClinicSession, User
from services.clinic.referrals import evaluate_patient
from services.clinic.sessions import keep_summary
from shared import codec
from shared.codec import CodecError
from shared.connections import REDIS_DOWN, Backoff
from shared.keys import CLINIC_GROUP, Keys
from shared.messages import SessionSummary

log = logging.getLogger(__name__)

CONSUMER = "clinic"  # one logical reader; several clinic processes share its pending list
READ_BLOCK_MS = 2_000  # well inside the Redis client's 5 s socket timeout


async def ensure_group(redis: aioredis.Redis, keys: Keys) -> None:
    try:
        await redis.xgroup_create(keys.ended_sessions(), CLINIC_GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def store(sessions: async_sessionmaker[AsyncSession], summary: SessionSummary) -> bool:
    """Store one ended session's summary; True if a clinic session took it."""
    async with sessions() as db, db.begin():
        row = (
            await db.execute(select(ClinicSession).where(ClinicSession.gateway_sid == summary.sid))
        ).scalar_one_or_none()
        if row is None:
            return False
        kept = await keep_summary(db, row, summary, None)
        if kept:
            patient = await db.get(User, row.patient_id)
            if patient is not None:
                await evaluate_patient(db, patient, None)
            log.info("clinic session %d: summary kept from the ended-sessions stream", row.id)
        return kept


async def consume(sessions: async_sessionmaker[AsyncSession], redis: aioredis.Redis, keys: Keys) -> None:
    """Run until cancelled (the clinic app owns this task)."""
    backoff = Backoff(cap=5.0)
    stream = keys.ended_sessions()
    start = "0"  # first our own pending entries (read but not acknowledged), then new ones
    grouped = False  # (again after a Redis restart, which loses the group)
    while True:
        try:
            if not grouped:
                await ensure_group(redis, keys)
                grouped = True
            reply: Any = await redis.xreadgroup(
                CLINIC_GROUP, CONSUMER, {stream: start}, count=32, block=READ_BLOCK_MS
            )
        except REDIS_DOWN as exc:
            log.warning("ended-sessions stream unavailable (%s); retrying", type(exc).__name__)
            grouped = False
            await backoff.wait()
            continue
        except ResponseError as exc:  # NOGROUP: Redis restarted empty
            log.warning("ended-sessions group missing (%s); recreating it", exc)
            grouped = False
            await backoff.wait()
            continue
        entries = reply[0][1] if reply else []
        if start == "0" and not entries:
            start = ">"
            continue
        for entry_id, fields in entries:
            try:
                summary = codec.decode(fields.get(b"m", b""), SessionSummary)
            except CodecError as exc:
                log.warning("skipped an unreadable ended-session entry: %s", exc)
            else:
                try:
                    await store(sessions, summary)
                except SQLAlchemyError as exc:
                    log.warning("summary of %s not kept yet (%s); retrying", summary.sid, type(exc).__name__)
                    start = "0"
                    await backoff.wait()
                    break
            try:
                # Kept in the clinic now: the summary leaves Redis (the clinic is this
                # stream's only reader; MAXLEN bounds it while no clinic runs).
                await redis.xack(stream, CLINIC_GROUP, entry_id)
                await redis.xdel(stream, entry_id)
            except REDIS_DOWN:
                await backoff.wait()
                break
        else:
            backoff.reset()
        await asyncio.sleep(0)
