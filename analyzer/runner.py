"""One claimed session: read the newest frame, analyse it off the loop, publish feedback.

Real time means the newest frame wins: everything older that piled up while the last
frame was being analysed is skipped (and counted), never queued.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from concurrent.futures import Executor
from typing import Any

import redis.asyncio as aioredis

from analyzer.analysis import SessionAnalysis
from analyzer.latency import LatencyHistogram
from analyzer.leases import LeaseResult, Leases
from shared import codec
from shared.codec import CodecError
from shared.connections import REDIS_DOWN, Backoff
from shared.keys import Keys
from shared.messages import Command, Frame, now_ms
from shared.settings import Settings

log = logging.getLogger(__name__)

READ_BLOCK_MS = 1000
CHECKPOINT_EVERY_S = 5.0  # also keeps the checkpoint key's TTL fresh
# After a counted repetition or a command, save sooner (the session's summary lives in
# the checkpoint), but not more than once a second.
CHECKPOINT_CHANGED_S = 1.0


class RunnerExit(enum.Enum):
    ENDED = "ended"  # the gateway ended the session
    LOST = "lost"  # another worker holds the lease now
    IDLE = "idle"  # no frames for a long time; hand the session back


class SessionRunner:
    def __init__(
        self,
        sid: str,
        analysis: SessionAnalysis,
        redis: aioredis.Redis,
        keys: Keys,
        leases: Leases,
        settings: Settings,
        executor: Executor,
    ) -> None:
        self.sid = sid
        self.analysis = analysis
        self._redis = redis
        self._keys = keys
        self._leases = leases
        self._settings = settings
        self._executor = executor
        self.analysed = 0
        self.dropped = 0
        self.bad = 0
        self.latency = LatencyHistogram()  # sampled -> analysed, for /metrics
        self._checkpoint_at: float | None = None  # monotonic time of the last save
        self._changed = False  # progress worth saving soon (a rep, a command)
        self._attempts = 0

    async def run(self) -> RunnerExit:
        frames_key = self._keys.session_frames(self.sid)
        commands_key = self._keys.session_commands(self.sid)
        last_id: bytes | str = "0-0"
        last_frame_at = time.monotonic()
        backoff = Backoff()
        dropped_since_feedback = 0
        loop = asyncio.get_running_loop()
        while True:
            try:
                # One read for both streams: commands cost no extra round trip.
                reply: Any = await self._redis.xread(
                    {frames_key: last_id, commands_key: self.analysis.commands_id}, block=READ_BLOCK_MS
                )
            except REDIS_DOWN as exc:
                log.warning("session %s: redis unavailable (%s); retrying", self.sid, exc)
                await backoff.wait()
                continue
            backoff.reset()
            if not reply:
                if time.monotonic() - last_frame_at > self._settings.analysis_idle_s:
                    return RunnerExit.IDLE
                continue
            streams = {_text(key): entries for key, entries in reply}
            for command_id, fields in streams.get(commands_key, []):
                self._apply(_text(command_id), fields)
            entries = streams.get(frames_key)
            if not entries:
                continue
            last_id = entries[-1][0]
            last_frame_at = time.monotonic()
            skipped = len(entries) - 1
            dropped_since_feedback += skipped
            self.dropped += skipped

            frame = self._decode(entries[-1][1])
            if frame is None:
                continue
            if now_ms() - frame.captured_ms > self._settings.feedback_max_age_ms:
                # Too old to be useful: its feedback would be discarded on arrival.
                dropped_since_feedback += 1
                self.dropped += 1
                continue

            try:
                feedback = await loop.run_in_executor(
                    self._executor, self.analysis.process, frame, dropped_since_feedback
                )
            except Exception:
                self.bad += 1
                log.exception("session %s: analysis of frame %d failed; skipped", self.sid, frame.seq)
                continue
            dropped_since_feedback = 0
            self.analysed += 1
            self.latency.record(feedback.analysed_ms - frame.captured_ms)
            if feedback.status == "bad_frame":
                self.bad += 1
                log.warning("session %s: frame %d could not be decoded; skipped", self.sid, frame.seq)
            result = await self._publish(codec.encode(feedback))
            if result is LeaseResult.ENDED:
                return RunnerExit.ENDED
            if result is LeaseResult.HELD_ELSEWHERE:
                return RunnerExit.LOST
            if feedback.exercise is not None and feedback.exercise.attempts != self._attempts:
                self._attempts = feedback.exercise.attempts
                self._changed = True
            if feedback.assessment is not None and feedback.assessment.estimate is not None:
                self._changed = True
            now = time.monotonic()
            since = None if self._checkpoint_at is None else now - self._checkpoint_at
            due = since is None or since > (CHECKPOINT_CHANGED_S if self._changed else CHECKPOINT_EVERY_S)
            if self.analysis.baseline is not None and due and await self.save_checkpoint():
                self._checkpoint_at = now
                self._changed = False

    def _apply(self, command_id: str, fields: Any) -> None:
        """Apply one command from the session's commands stream; bad ones are skipped."""
        try:
            command = codec.decode(fields.get(b"m", b""), Command)
        except CodecError as exc:
            log.warning("session %s: skipped an unreadable command: %s", self.sid, exc)
        else:
            if command.sid == self.sid:
                self.analysis.apply(command, command_id)
                self._changed = True
                return
            log.warning("session %s: skipped a command addressed to another session", self.sid)
        self.analysis.commands_id = command_id  # past it, so it is not read again

    def _decode(self, fields: Any) -> Frame | None:
        try:
            frame = codec.decode(fields.get(b"m", b""), Frame)
        except CodecError as exc:
            self.bad += 1
            log.warning("session %s: skipped an unreadable frame message: %s", self.sid, exc)
            return None
        if frame.sid != self.sid:
            self.bad += 1
            log.warning("session %s: skipped a frame addressed to another session", self.sid)
            return None
        return frame

    async def _publish(self, payload: bytes) -> LeaseResult | None:
        try:
            return await self._leases.publish_feedback(
                self.sid,
                payload,
                self._settings.feedback_stream_maxlen,
                self._settings.session_idle_ttl_s * 1000,
            )
        except REDIS_DOWN as exc:
            log.warning("session %s: feedback not published, redis unavailable (%s)", self.sid, exc)
            return None

    async def save_checkpoint(self) -> bool:
        checkpoint = self.analysis.checkpoint()
        if checkpoint is None:
            return False
        try:
            result = await self._leases.save_checkpoint(
                self.sid, codec.encode(checkpoint), self._settings.session_idle_ttl_s * 1000
            )
        except REDIS_DOWN as exc:
            log.warning("session %s: checkpoint not saved, redis unavailable (%s)", self.sid, exc)
            return False
        return result is LeaseResult.OK


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
