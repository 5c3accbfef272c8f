"""Session records in Redis: open, look up, register for analysis, end.

A session's meta hash exists exactly while the session is open; the analyzer treats
its absence as 'ended'. Ending also leaves a tombstone so that a session lost in a Redis
restart (meta gone, no tombstone) can be told apart from one that was ended on purpose.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from shared import codec
from shared.codec import CodecError
from shared.connections import REDIS_DOWN
from shared.keys import ENDED_STREAM_MAXLEN, SESSIONS_STREAM_MAXLEN, Keys
from shared.messages import Checkpoint, SessionEntry, SessionSummary, now_ms

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    sid: str
    created_ms: int
    expires: int  # unix seconds


class SessionStore:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def ping(self) -> None:
        await self._redis.ping()

    async def create(self, ttl_s: int) -> SessionInfo:
        sid = secrets.token_urlsafe(12)
        info = SessionInfo(sid=sid, created_ms=now_ms(), expires=int(time.time()) + ttl_s)
        await self._write_meta(info)
        return info

    async def _write_meta(self, info: SessionInfo) -> None:
        key = self._keys.session_meta(info.sid)
        ttl = max(1, info.expires - int(time.time()))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"created_ms": info.created_ms, "expires": info.expires})
            pipe.expire(key, ttl)
            await pipe.execute()

    async def get(self, sid: str) -> SessionInfo | None:
        data = await self._redis.hgetall(self._keys.session_meta(sid))
        if not data:
            return None
        return SessionInfo(sid=sid, created_ms=int(data[b"created_ms"]), expires=int(data[b"expires"]))

    async def is_ended(self, sid: str) -> bool:
        return bool(await self._redis.exists(self._keys.session_ended(sid)))

    async def restore(self, sid: str, expires: int) -> bool:
        """Re-create the meta of an open session whose record vanished (Redis restart).
        Returns False when the session was ended on purpose."""
        if await self.is_ended(sid) or expires <= time.time():
            return False
        await self._write_meta(SessionInfo(sid=sid, created_ms=now_ms(), expires=expires))
        return True

    async def register_for_analysis(self, sid: str) -> None:
        entry = SessionEntry(sid=sid, created_ms=now_ms())
        await self._redis.xadd(
            self._keys.sessions(), {"m": codec.encode(entry)}, maxlen=SESSIONS_STREAM_MAXLEN, approximate=True
        )

    async def summary(self, sid: str) -> SessionSummary | None:
        """The analyzer's summary so far, from its last checkpoint, without ending the
        session (home practice saves it to the clinic when the patient finishes)."""
        state = await self._redis.get(self._keys.session_state(sid))
        return _summary_of(sid, state if isinstance(state, bytes) else None)

    async def end(self, sid: str, tombstone_ttl_s: int, retention_s: int) -> SessionSummary | None:
        """Delete every key of the session (frames, feedback, state, lease, meta) and
        return the analyzer's summary from its last checkpoint, read in the same
        transaction (None when the analyzer never calibrated). The summary, or an empty
        one, also goes to the ended-sessions stream, so the clinic keeps it however the
        session was ended (the therapist's page, the clinic, a script). The clinic deletes
        what it took; what no clinic took is trimmed after ``retention_s``
        (``TELEREHAB_SUMMARY_RETENTION_S``), and the stream never exceeds
        ``ENDED_STREAM_MAXLEN`` entries."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self._keys.session_state(sid))
            pipe.delete(*self._keys.session_keys(sid))
            pipe.set(self._keys.session_ended(sid), b"1", ex=max(1, tombstone_ttl_s))
            state, *_ = await pipe.execute()
        summary = _summary_of(sid, state)
        try:
            await self._redis.xadd(
                self._keys.ended_sessions(), {"m": codec.encode(summary or SessionSummary(sid=sid, frames=0))}
            )
            await self.trim_ended(retention_s)
        except REDIS_DOWN as exc:
            log.warning("session %s: summary not handed to the clinic, redis unavailable (%s)", sid, exc)
        return summary

    async def trim_ended(self, retention_s: int) -> None:
        """Drop ended sessions' summaries no clinic took within ``retention_s`` (stream
        ids are millisecond times), and keep the stream under ``ENDED_STREAM_MAXLEN``."""
        stream = self._keys.ended_sessions()
        oldest_kept = f"{max(0, int(time.time() * 1000) - retention_s * 1000)}-0"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xtrim(stream, minid=oldest_kept, approximate=False)  # exactly: past retention is gone
            pipe.xtrim(stream, maxlen=ENDED_STREAM_MAXLEN, approximate=True)
            await pipe.execute()


def _summary_of(sid: str, state: bytes | None) -> SessionSummary | None:
    """The summary in a checkpoint (None when the analyzer never calibrated)."""
    if not state:
        return None
    try:
        return codec.decode(state, Checkpoint).summary
    except CodecError as exc:
        log.warning("session %s: checkpoint unreadable, no summary: %s", sid, exc)
        return None
