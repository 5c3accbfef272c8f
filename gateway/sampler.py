"""Takes the patient's frames at the analysis rate and adds them to the frame stream.

It reads a ``MediaRelay.subscribe(track, buffered=False)`` proxy, which keeps only the
newest frame, so a slow sampler never holds the relay (or the therapist's video) back.
Downscaling and JPEG encoding run in a thread; the stream is capped to a few entries
(the newest frame wins: real time means dropping stale frames, not queueing video).

A session whose frames stopped gives its analyzer slot back after a few seconds
(``TELEREHAB_ANALYSIS_IDLE_S``); while frames flow, the sampler checks now and then that
some worker holds the session's lease, and registers the session again if none does
(frames resumed, or a registration was lost), so analysis picks up where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import cv2
import redis.asyncio as aioredis
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from shared import codec
from shared.connections import REDIS_DOWN
from shared.keys import Keys
from shared.messages import Frame, now_ms
from shared.settings import Settings

log = logging.getLogger(__name__)

HOLDER_CHECK_S = 2.0  # how often a sampler looks for the session's analyzer
REREGISTER_S = 6.0  # at most one registration this often while no worker holds it


def encode_sample(frame: VideoFrame, max_side: int, quality: int) -> tuple[int, int, bytes]:
    """Downscale so the long side is at most ``max_side`` and JPEG-encode (in swscale
    and libjpeg, which release the GIL)."""
    scale = min(1.0, max_side / max(frame.width, frame.height))
    width = max(2, int(frame.width * scale) // 2 * 2)
    height = max(2, int(frame.height * scale) // 2 * 2)
    bgr = frame.reformat(width=width, height=height, format="bgr24").to_ndarray()
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return width, height, buf.tobytes()


@dataclass
class SamplerStats:
    """Counts across every sampler a room has had (the patient may reconnect)."""

    sampled: int = 0
    skipped: int = 0  # above the analysis rate
    lost: int = 0  # not written because Redis was away


class FrameSampler:
    def __init__(
        self,
        sid: str,
        track: MediaStreamTrack,
        redis: aioredis.Redis,
        keys: Keys,
        settings: Settings,
        executor: Executor,
        stats: SamplerStats | None = None,
        register: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.sid = sid
        self._track = track
        self._redis = redis
        self._key = keys.session_frames(sid)
        self._lease_key = keys.session_lease(sid)
        self._register = register  # puts the session (back) in the analyzers' queue
        self._next_check = time.monotonic() + HOLDER_CHECK_S
        self._registered_at = time.monotonic()  # the room registers it as sampling starts
        self._settings = settings
        self._executor = executor
        self.stats = stats or SamplerStats()

    async def _ensure_analysed(self, now: float) -> None:
        """Register the session again if frames flow and no worker holds its lease."""
        if self._register is None or now < self._next_check:
            return
        self._next_check = now + HOLDER_CHECK_S
        if now - self._registered_at < REREGISTER_S or await self._redis.exists(self._lease_key):
            return
        self._registered_at = now
        log.info("session %s: frames flow but no analyzer holds it; registering it again", self.sid)
        await self._register()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self._settings.analysis_fps
        next_at = 0.0
        seq = 0
        while True:
            try:
                frame = await self._track.recv()
            except MediaStreamError:
                log.info("session %s: patient video ended; sampler stops", self.sid)
                return
            if not isinstance(frame, VideoFrame):
                continue
            now = time.monotonic()
            if now < next_at:
                self.stats.skipped += 1
                continue
            # Keep the cadence, but never try to 'catch up' after a stall.
            next_at = max(next_at + interval, now)
            captured_ms = now_ms()
            width, height, data = await loop.run_in_executor(
                self._executor,
                encode_sample,
                frame,
                self._settings.frame_max_side,
                self._settings.frame_jpeg_quality,
            )
            message = Frame(
                sid=self.sid,
                seq=seq,
                captured_ms=captured_ms,
                width=width,
                height=height,
                encoding="jpeg",
                data=data,
            )
            seq += 1
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.xadd(
                        self._key, {"m": codec.encode(message)}, maxlen=self._settings.frame_stream_maxlen
                    )
                    # Frames are transient: if the gateway dies they vanish on their own.
                    pipe.pexpire(self._key, 10_000)
                    await pipe.execute()
                self.stats.sampled += 1
                await self._ensure_analysed(now)
            except REDIS_DOWN as exc:
                self.stats.lost += 1
                if self.stats.lost % 50 == 1:
                    log.warning("session %s: frame not sampled, redis unavailable (%s)", self.sid, exc)
