"""Reads a session's feedback stream and hands fresh results to the room's participants.

Feedback older than ``feedback_max_age_ms`` (from frame sampling to now) is dropped:
a cue about a face from a second ago is worse than no cue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec
import redis.asyncio as aioredis

from shared import codec
from shared.codec import CodecError
from shared.connections import REDIS_DOWN, Backoff
from shared.keys import Keys
from shared.messages import Feedback, now_ms

log = logging.getLogger(__name__)

Deliver = Callable[[dict[str, Any]], None]


def feedback_event(feedback: Feedback, now_ms: int) -> dict[str, Any]:
    event: dict[str, Any] = msgspec.to_builtins(feedback)
    event.pop("t", None)
    event["type"] = "feedback"
    event["latency_ms"] = now_ms - feedback.captured_ms
    return event


class FeedbackFanout:
    def __init__(
        self, sid: str, redis: aioredis.Redis, keys: Keys, max_age_ms: int, deliver: Deliver
    ) -> None:
        self.sid = sid
        self._redis = redis
        self._key = keys.session_feedback(sid)
        self._max_age_ms = max_age_ms
        self._deliver = deliver
        self.delivered = 0
        self.stale = 0
        self.bad = 0

    async def run(self) -> None:
        last_id: bytes | str = "$"
        backoff = Backoff()
        while True:
            try:
                reply: Any = await self._redis.xread({self._key: last_id}, block=1000)
            except REDIS_DOWN as exc:
                log.warning("session %s: feedback read failed, redis unavailable (%s)", self.sid, exc)
                await backoff.wait()
                continue
            backoff.reset()
            for _key, entries in reply or []:
                for entry_id, fields in entries:
                    last_id = entry_id
                    self._handle(fields.get(b"m", b""))

    def _handle(self, data: bytes) -> None:
        try:
            feedback = codec.decode(data, Feedback)
        except CodecError as exc:
            self.bad += 1
            log.warning("session %s: skipped unreadable feedback: %s", self.sid, exc)
            return
        now = now_ms()
        if now - feedback.captured_ms > self._max_age_ms:
            self.stale += 1
            return
        self.delivered += 1
        self._deliver(feedback_event(feedback, now))
