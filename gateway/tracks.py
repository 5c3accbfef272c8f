"""An outgoing track whose source can be switched while it is being sent.

Each participant's senders carry one ``OutgoingTrack`` per kind for the whole
connection; the room points it at whatever the other side sends (and at nothing while
they are away). Video frames are re-stamped from one process-wide clock: a new source
(the patient reconnected, another therapist took the lead) starts its own timestamps at
zero, and RTP timestamps that jump backwards make receivers drop frames.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame
from av.frame import Frame
from av.packet import Packet

VIDEO_CLOCK_RATE = 90_000
_VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
# Shared by every outgoing track: a relayed frame object is shared by all its
# subscribers, so they must all write (nearly) the same timestamp into it.
_CLOCK_ORIGIN = time.monotonic()


class OutgoingTrack(MediaStreamTrack):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._source: MediaStreamTrack | None = None
        self._changed = asyncio.Event()

    def set_source(self, source: MediaStreamTrack | None) -> None:
        self._source = source
        self._changed.set()

    async def recv(self) -> Frame | Packet[Any]:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            source = self._source
            self._changed.clear()
            if source is None:
                await self._changed.wait()
                continue
            getter = asyncio.ensure_future(source.recv())
            switched = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait({getter, switched}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                switched.cancel()
                if not getter.done():
                    getter.cancel()  # the source changed (or we are being stopped)
            if getter.cancelled() or not getter.done():
                continue
            try:
                frame = getter.result()
            except MediaStreamError:
                if self._source is source:
                    self._source = None  # the source ended: wait for the next one
                continue
            if isinstance(frame, VideoFrame):
                frame.pts = int((time.monotonic() - _CLOCK_ORIGIN) * VIDEO_CLOCK_RATE)
                frame.time_base = _VIDEO_TIME_BASE
            return frame
