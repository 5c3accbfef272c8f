"""A live session's room: one patient, up to a few therapists, and the media between them.

The patient's video and audio are relayed to every therapist; the first therapist's are
relayed to the patient. Outgoing senders exist from the first offer and get their source
with ``replaceTrack`` when the other side's track arrives, so a late joiner needs no
renegotiation. ``MediaRelay`` decodes each incoming track once; each outgoing track
costs one encode. The room owns its tasks (sampler, feedback fan-out, keep-alive) and
cancels and awaits them when it closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Coroutine
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from aiortc import RTCDataChannel, RTCPeerConnection, RTCRtpSender
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from gateway.fanout import FeedbackFanout
from gateway.sampler import FrameSampler, SamplerStats
from gateway.sessions import SessionStore
from gateway.tracks import OutgoingTrack
from shared.connections import REDIS_DOWN
from shared.keys import Keys
from shared.settings import Settings
from shared.tasks import cancel_and_wait
from shared.tokens import Role

log = logging.getLogger(__name__)

MAX_THERAPISTS = 4
KEEPALIVE_S = 2.0
MAX_CHANNEL_BACKLOG = 16_384  # bytes queued on a data channel before feedback is skipped
CLOSE_FLUSH_S = 2.0  # at most this long for the end notice to leave, when a session ends


@dataclass(eq=False)
class Participant:
    role: Role
    pc: RTCPeerConnection
    outgoing: dict[str, OutgoingTrack] = field(default_factory=dict)  # kind -> what we send
    incoming: dict[str, MediaStreamTrack] = field(default_factory=dict)  # kind -> remote track
    channel: RTCDataChannel | None = None
    told_about: set[int] = field(default_factory=set)  # ids of participants announced to us
    connected: asyncio.Event = field(default_factory=asyncio.Event)  # ICE and DTLS are up
    _proxies: dict[str, MediaStreamTrack] = field(default_factory=dict)

    @property
    def channel_open(self) -> bool:
        return self.channel is not None and self.channel.readyState == "open"

    def send_event(self, event: dict[str, Any]) -> bool:
        """Send if the channel is open. Feedback is skipped while the channel is backed up
        (a slow or stalled link): a late cue is worse than none."""
        if not self.channel_open or self.channel is None:
            return False
        if event.get("type") == "feedback" and self.channel.bufferedAmount > MAX_CHANNEL_BACKLOG:
            return False
        self.channel.send(json.dumps(event, separators=(",", ":")))
        return True

    def add_sender(self, kind: str, sender: RTCRtpSender) -> None:
        """The sender carries one switchable track for the whole connection."""
        track = OutgoingTrack(kind)
        sender.replaceTrack(track)
        self.outgoing[kind] = track

    def feed(self, kind: str, source: MediaStreamTrack | None, relay: MediaRelay) -> None:
        """Send ``source`` (relayed) on this participant's outgoing ``kind`` track."""
        outgoing = self.outgoing.get(kind)
        if outgoing is None:
            return
        old = self._proxies.pop(kind, None)
        # Video: only the newest frame waits for the encoder, so a slow encode drops
        # frames instead of building up seconds of delay. Audio keeps every frame.
        proxy = relay.subscribe(source, buffered=kind != "video") if source is not None else None
        if proxy is not None:
            self._proxies[kind] = proxy
        outgoing.set_source(proxy)
        if old is not None:
            old.stop()

    def stop_feeds(self, relay: MediaRelay) -> None:
        for kind in list(self._proxies):
            self.feed(kind, None, relay)


class Room:
    def __init__(
        self,
        sid: str,
        expires: int,
        redis: aioredis.Redis,
        store: SessionStore,
        keys: Keys,
        settings: Settings,
        executor: Executor,
    ) -> None:
        self.sid = sid
        self.expires = expires
        self._redis = redis
        self._store = store
        self._keys = keys
        self._settings = settings
        self._executor = executor
        self.relay = MediaRelay()
        self.patient: Participant | None = None
        self.therapists: list[Participant] = []
        self.sampler: FrameSampler | None = None
        self.sampler_stats = SamplerStats()
        self.fanout = FeedbackFanout(sid, redis, keys, settings.feedback_max_age_ms, self.broadcast)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._retired: set[asyncio.Task[None]] = set()
        self._leaving = 0
        self.empty_since: float | None = time.monotonic()
        self.closed = False
        # The analyzer's last word on the patient's picture (status, face found), for the
        # waiting room on the therapist's dashboard: "here, camera and light OK".
        self.last_check: tuple[str, bool] | None = None
        self._spawn("fanout", self.fanout.run())
        self._spawn("keepalive", self._keepalive())

    # -- tasks ------------------------------------------------------------------------

    def _spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        """Start a named task; a running one of the same name is stopped in the background
        (``cancel_and_wait``: one cancel can be lost), and that is awaited at close."""
        old = self._tasks.pop(name, None)
        if old is not None:
            retire = asyncio.create_task(cancel_and_wait(old), name=f"room-{self.sid}-retire-{name}")
            self._retired.add(retire)
            retire.add_done_callback(self._retired.discard)
        task = asyncio.create_task(coro, name=f"room-{self.sid}-{name}")
        self._tasks[name] = task
        task.add_done_callback(lambda done: self._forget_task(name, done))

    def _forget_task(self, name: str, task: asyncio.Task[None]) -> None:
        """Finished tasks (a leave, a sampler whose track ended) need no more stopping."""
        if self._tasks.get(name) is task:
            del self._tasks[name]
        if not task.cancelled() and task.exception() is not None:
            log.error("session %s: task %s failed: %r", self.sid, name, task.exception())

    async def _stop_task(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None:
            await cancel_and_wait(task)

    async def _keepalive(self) -> None:
        """Re-create the session record if Redis lost it (restart) while people are in it."""
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            try:
                if await self._redis.exists(self._keys.session_meta(self.sid)):
                    continue
                if not await self._store.restore(self.sid, self.expires):
                    log.info("session %s: ended elsewhere or expired; closing room", self.sid)
                    self.broadcast({"type": "session_ended"})
                    self.closed = True
                    return
                log.warning("session %s: session record was lost (redis restart?); restored", self.sid)
                if self.sampler is not None:
                    await self._store.register_for_analysis(self.sid)
            except REDIS_DOWN as exc:
                log.warning("session %s: keep-alive failed, redis unavailable (%s)", self.sid, exc)

    # -- participants ------------------------------------------------------------------

    @property
    def participants(self) -> list[Participant]:
        return ([self.patient] if self.patient else []) + self.therapists

    async def join(self, participant: Participant) -> None:
        if participant.role == "patient":
            previous, self.patient = self.patient, participant
            if previous is not None:  # the patient reconnected: the new connection wins
                await self._drop(previous)
        else:
            if len(self.therapists) >= MAX_THERAPISTS:
                raise RoomFull(f"at most {MAX_THERAPISTS} therapists can join a session")
            self.therapists.append(participant)
        self.empty_since = None
        self._spawn(f"connect-{id(participant)}", self._expect_connected(participant))
        # Feed the newcomer whatever the other side already sends, and route what the
        # newcomer already sends (tracks arrive while the offer is applied).
        source = self.patient if participant.role == "therapist" else self._lead_therapist
        for kind in ("video", "audio"):
            participant.feed(kind, source.incoming.get(kind) if source else None, self.relay)
        for track in participant.incoming.values():
            self._route(participant, track)
        log.info("session %s: %s joined", self.sid, participant.role)

    async def _expect_connected(self, participant: Participant) -> None:
        """Drop a participant whose connection is not up within the connect timeout: an
        offer that never completes ICE (a stale tab, a link holder probing) would
        otherwise keep its place in the room for good."""
        try:
            await asyncio.wait_for(participant.connected.wait(), self._settings.connect_timeout_s)
        except TimeoutError:
            if participant in self.participants:
                log.info("session %s: %s never connected; place freed", self.sid, participant.role)
                await self.leave(participant)

    @property
    def _lead_therapist(self) -> Participant | None:
        return self.therapists[0] if self.therapists else None

    def on_channel_open(self, participant: Participant) -> None:
        for other in self.participants:
            if other is not participant:
                self._announce(other, to=participant)
                self._announce(participant, to=other)

    def _announce(self, joined: Participant, *, to: Participant) -> None:
        """Tell ``to`` once that ``joined`` is here (whichever channel opens first)."""
        if id(joined) in to.told_about:
            return
        if to.send_event({"type": "peer", "role": joined.role, "state": "joined"}):
            to.told_about.add(id(joined))

    def _notify_left(self, participant: Participant) -> None:
        for other in self.participants:
            other.told_about.discard(id(participant))
            other.send_event({"type": "peer", "role": participant.role, "state": "left"})

    def on_track(self, participant: Participant, track: MediaStreamTrack) -> None:
        participant.incoming[track.kind] = track
        if participant in self.participants:
            self._route(participant, track)

    def _route(self, participant: Participant, track: MediaStreamTrack) -> None:
        if participant is self.patient:
            for therapist in self.therapists:
                therapist.feed(track.kind, track, self.relay)
            if track.kind == "video":
                self.sampler = FrameSampler(
                    self.sid,
                    self.relay.subscribe(track, buffered=False),
                    self._redis,
                    self._keys,
                    self._settings,
                    self._executor,
                    self.sampler_stats,
                    register=lambda: self._store.register_for_analysis(self.sid),
                )
                self._spawn("sampler", self._sample(self.sampler))
        elif participant is self._lead_therapist and self.patient is not None:
            self.patient.feed(track.kind, track, self.relay)

    async def _sample(self, sampler: FrameSampler) -> None:
        try:
            await self._store.register_for_analysis(self.sid)
        except REDIS_DOWN as exc:  # the keep-alive re-registers once Redis is back
            log.warning("session %s: could not register for analysis (%s)", self.sid, exc)
        await sampler.run()

    def leave_soon(self, participant: Participant) -> None:
        """Called from a connection-state callback, which cannot await."""
        if self.closed:
            return  # close() is dropping everyone already
        self._leaving += 1
        self._spawn(f"leave-{self._leaving}", self.leave(participant))

    async def leave(self, participant: Participant) -> None:
        if participant is self.patient:
            self.patient = None
            await self._stop_task("sampler")
            self.sampler = None
            for therapist in self.therapists:
                for kind in ("video", "audio"):
                    therapist.feed(kind, None, self.relay)
        elif participant in self.therapists:
            was_lead = participant is self._lead_therapist
            self.therapists.remove(participant)
            lead = self._lead_therapist
            if was_lead and self.patient is not None:
                for kind in ("video", "audio"):
                    self.patient.feed(kind, lead.incoming.get(kind) if lead else None, self.relay)
        else:
            return
        await self._drop(participant)
        self._notify_left(participant)
        if not self.participants:
            self.empty_since = time.monotonic()
        log.info("session %s: %s left", self.sid, participant.role)

    async def _drop(self, participant: Participant) -> None:
        participant.stop_feeds(self.relay)
        await participant.pc.close()

    def broadcast(self, event: dict[str, Any]) -> None:
        if event.get("type") == "feedback":
            self.last_check = (str(event.get("status")), bool(event.get("face")))
        for participant in self.participants:
            participant.send_event(event)

    async def _flush_channels(self, timeout_s: float = CLOSE_FLUSH_S) -> None:
        """Let the data channels send what they hold, the end notice last, before the
        connections close: a loaded gateway can have a backlog of feedback queued ahead of
        it, which a fixed short pause cut off (the browser then only learnt of the end when
        ICE failed). Waits at most ``timeout_s``, then a moment for the last packets."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(
            p.channel_open and p.channel is not None and p.channel.bufferedAmount > 0
            for p in self.participants
        ):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)

    async def close(self, *, ended: bool) -> None:
        """Close every connection and stop every task; ``ended`` tells the browsers why."""
        self.closed = True
        # Tasks first, so the sampler writes no frame after the session's keys are gone.
        for name in list(self._tasks):
            await self._stop_task(name)
        for retire in list(self._retired):
            await retire  # each one cancels until its task has stopped
        if ended and self.participants:
            self.broadcast({"type": "session_ended"})
            await self._flush_channels()
        for participant in self.participants:
            await self._drop(participant)
        self.patient = None
        self.therapists = []

    def presence(self) -> dict[str, Any]:
        """Who is in the room and what the analyzer last said of the patient's picture."""
        here = self.patient is not None and self.patient.pc.connectionState == "connected"
        status, face = self.last_check if here and self.last_check else (None, False)
        return {
            "patient": here,
            "therapists": sum(t.pc.connectionState == "connected" for t in self.therapists),
            "camera": None if status is None else {"status": status, "face": face, "ok": status in CAMERA_OK},
        }


# Feedback statuses that mean the patient's camera, light and position are good.
CAMERA_OK = frozenset({"calibrating", "tracking"})


class RoomFull(Exception):
    pass
