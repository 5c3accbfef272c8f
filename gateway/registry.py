"""The rooms this gateway hosts. Gateways are sticky per session: a session's room lives
on the gateway its participants reach, and Redis holds what other processes need."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Executor

import redis.asyncio as aioredis

from gateway.commands import CommandQueue
from gateway.errors import NotFound, SessionGone
from gateway.metrics import GatewayMetrics
from gateway.room import Room
from gateway.sessions import SessionStore
from shared.connections import REDIS_DOWN
from shared.keys import Keys
from shared.messages import SessionSummary
from shared.settings import Settings
from shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

REAP_EVERY_S = 5.0
TRIM_EVERY = 12  # reaper rounds: the ended-sessions stream is trimmed about once a minute


class RoomRegistry:
    def __init__(self, redis: aioredis.Redis, settings: Settings, executor: Executor) -> None:
        self._redis = redis
        self._settings = settings
        self._executor = executor
        self.keys = Keys(settings.key_prefix)
        self.store = SessionStore(redis, self.keys)
        self.commands = CommandQueue(redis, self.keys)
        self.rooms: dict[str, Room] = {}
        self.metrics = GatewayMetrics()
        self._lock = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap(), name="room-reaper")

    async def room_for(self, sid: str) -> Room:
        async with self._lock:
            room = self.rooms.get(sid)
            if room is not None and not room.closed:
                return room
            info = await self.store.get(sid)
            if info is None:
                if await self.store.is_ended(sid):
                    raise SessionGone("This session has ended.")
                raise NotFound("No such session, or it has expired.")
            room = Room(sid, info.expires, self._redis, self.store, self.keys, self._settings, self._executor)
            self.rooms[sid] = room
            return room

    async def end(self, sid: str) -> SessionSummary | None:
        """End a session: close its room here and delete its keys everywhere; returns
        the analyzer's summary of it (no frames, only figures)."""
        room = self.rooms.pop(sid, None)
        if room is not None:
            await self._close(room, ended=True)
        summary = await self.store.end(sid, self._settings.token_ttl_s, self._settings.summary_retention_s)
        log.info("session %s ended", sid)
        return summary

    async def _reap(self) -> None:
        """Close rooms that were ended elsewhere or stayed empty for the idle TTL; now
        and then, trim summaries past their retention from the ended-sessions stream."""
        rounds = 0
        while True:
            await asyncio.sleep(REAP_EVERY_S)
            rounds += 1
            if rounds % TRIM_EVERY == 0:
                try:
                    await self.store.trim_ended(self._settings.summary_retention_s)
                except REDIS_DOWN as exc:
                    log.warning("ended-sessions stream not trimmed, redis down (%s)", type(exc).__name__)
            now = time.monotonic()
            for sid, room in list(self.rooms.items()):
                idle = (
                    room.empty_since is not None
                    and now - room.empty_since > self._settings.session_idle_ttl_s
                )
                if room.closed or idle:
                    self.rooms.pop(sid, None)
                    await self._close(room, ended=room.closed)

    async def close(self) -> None:
        if self._reaper is not None:
            await cancel_and_wait(self._reaper)
        for room in list(self.rooms.values()):
            await self._close(room, ended=False)
        self.rooms.clear()

    async def _close(self, room: Room, *, ended: bool) -> None:
        await room.close(ended=ended)
        self.metrics.retire(room)
