"""Real aiortc peers that act as the patient's and the therapist's browsers."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack
from av import VideoFrame

from testkit.synthetic import Movement, SyntheticFace

CLOCK_RATE = 90_000


class FaceTrack(MediaStreamTrack):
    """The patient's 'camera': a real face photo with a movement the test controls."""

    kind = "video"

    def __init__(self, face: SyntheticFace, fps: float = 15.0) -> None:
        super().__init__()
        self.face = face
        self.fps = fps
        self.movement = Movement()
        self._start: float | None = None
        self._count = 0
        self._cache: tuple[Movement, VideoFrame] | None = None

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count / self.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        if self._cache is None or self._cache[0] != self.movement:
            image = self.face.render(self.movement)
            self._cache = (self.movement, VideoFrame.from_ndarray(image, format="rgb24"))
        frame = self._cache[1]
        frame.pts = int(self._count * CLOCK_RATE / self.fps)
        frame.time_base = fractions.Fraction(1, CLOCK_RATE)
        self._count += 1
        return frame


class ColourTrack(MediaStreamTrack):
    """The therapist's 'camera': a plain green picture, easy to recognise on arrival."""

    kind = "video"

    def __init__(self, fps: float = 15.0) -> None:
        super().__init__()
        self.fps = fps
        self._count = 0
        self._start: float | None = None
        image = np.zeros((240, 320, 3), dtype=np.uint8)
        image[:, :, 1] = 200
        self._image = image

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count / self.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = VideoFrame.from_ndarray(self._image, format="rgb24")
        frame.pts = int(self._count * CLOCK_RATE / self.fps)
        frame.time_base = fractions.Fraction(1, CLOCK_RATE)
        self._count += 1
        return frame


@dataclass(eq=False)
class Peer:
    pc: RTCPeerConnection
    events: list[dict[str, Any]] = field(default_factory=list)
    received: dict[str, int] = field(default_factory=dict)  # kind -> frames
    last_video: np.ndarray | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _new_event: asyncio.Event = field(default_factory=asyncio.Event)

    def feedback(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == "feedback"]

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> dict[str, Any]:
        """The first event (old or new) for which ``predicate`` holds."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                last = self.events[-3:]
                raise AssertionError(f"no matching event within {timeout}s; last events: {last}")
            self._new_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_event.wait(), remaining)

    async def wait_frames(self, kind: str, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.received.get(kind, 0) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.received.get(kind, 0)} {kind} frames arrived in {timeout}s")
            await asyncio.sleep(0.05)

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.received[track.kind] = self.received.get(track.kind, 0) + 1
            if track.kind == "video":
                self.last_video = frame.to_ndarray(format="rgb24")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pc.close()


async def join(
    http: aiohttp.ClientSession, base_url: str, token: str, tracks: list[MediaStreamTrack]
) -> Peer:
    """Connect like a browser: tracks + an 'events' channel, offer, wait for the answer."""
    from aiortc import RTCConfiguration

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer = Peer(pc=pc)
    for track in tracks:
        pc.addTrack(track)
    kinds = {t.kind for t in tracks}
    for kind in ("audio", "video"):
        if kind not in kinds:
            pc.addTransceiver(kind, direction="recvonly")
    channel = pc.createDataChannel("events")

    @channel.on("message")
    def on_message(message: str) -> None:
        peer.events.append(json.loads(message))
        peer._new_event.set()

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        peer._tasks.append(asyncio.create_task(peer._consume(track)))

    await pc.setLocalDescription(await pc.createOffer())
    async with http.post(
        f"{base_url}/api/offer",
        json={"sdp": pc.localDescription.sdp, "type": "offer"},
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        body = await response.json()
        if response.status != 200:
            await pc.close()
            raise AssertionError(f"offer refused: {response.status} {body}")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type=body["type"]))
    return peer


def patient_tracks(face: SyntheticFace) -> tuple[FaceTrack, list[MediaStreamTrack]]:
    video = FaceTrack(face)
    return video, [video, AudioStreamTrack()]


def therapist_tracks() -> list[MediaStreamTrack]:
    return [ColourTrack(), AudioStreamTrack()]
