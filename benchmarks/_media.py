"""A camera-like video track for the benchmarks' patients."""

from __future__ import annotations

import asyncio
import fractions
import math
import time

import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from benchmarks._common import Image

CLOCK_RATE = 90_000
Yuv = npt.NDArray[np.uint8]  # a yuv420p picture as PyAV lays it out: (h * 3 / 2, w)


def to_yuv420p(rgb: Image) -> Yuv:
    frame = VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    return np.ascontiguousarray(frame.to_ndarray(), dtype=np.uint8)


class CameraTrack(MediaStreamTrack):
    """Loops over pre-converted pictures at a fixed frame rate, like a camera: when its
    consumer falls behind, frames are skipped (and counted), never sent in a burst.
    Each frame sent is a new ``VideoFrame``; ``sent_at[i]`` is when frame ``i`` left."""

    kind = "video"

    def __init__(self, pictures: list[Yuv], fps: float) -> None:
        super().__init__()
        self.pictures = pictures
        self.fps = fps
        self.sent = 0
        self.skipped = 0
        self.sent_at: list[float] = []
        self._start: float | None = None
        self._tick = 0

    def make_frame(self, index: int, picture: Yuv) -> VideoFrame:
        return VideoFrame.from_ndarray(picture, format="yuv420p")

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._tick / self.fps
        if now < due:
            await asyncio.sleep(due - now)
        else:
            behind = math.floor((now - self._start) * self.fps)
            if behind > self._tick:
                self.skipped += behind - self._tick
                self._tick = behind
        frame = self.make_frame(self.sent, self.pictures[self._tick % len(self.pictures)])
        frame.pts = int(self._tick * CLOCK_RATE / self.fps)
        frame.time_base = fractions.Fraction(1, CLOCK_RATE)
        self._tick += 1
        self.sent += 1
        self.sent_at.append(time.monotonic())
        return frame
