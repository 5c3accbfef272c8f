"""An analyzer worker: claims sessions, runs one ``SessionRunner`` per session, keeps
its leases alive, takes over dead workers' sessions and hands its own back on shutdown.

Ownership protocol (all state in Redis, see ``shared.keys``):

* The gateway adds a ``SessionEntry`` to the sessions stream when a patient's video
  starts. Workers read it through the ``analyzers`` consumer group, so each entry goes
  to one worker and stays in that worker's pending list while it analyses the session.
* The worker takes the session's lease (``leases.Leases``) and, on every heartbeat,
  renews it and re-claims its own pending entries with idle time 0. A worker that dies
  stops doing both: after ``lease_ms`` its entries are idle enough for another worker's
  ``XAUTOCLAIM`` and its leases have expired, so the successor takes over and restores
  the baseline from the session's checkpoint.
* A second entry for a session that already has a live holder is a duplicate (e.g. the
  gateway re-registered after a reconnect): it is acknowledged and deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from analyzer.analysis import AnalysisConfig, SessionAnalysis
from analyzer.landmarks import FaceMeshLandmarker, Landmarker
from analyzer.latency import LatencyHistogram
from analyzer.leases import LeaseResult, Leases
from analyzer.runner import RunnerExit, SessionRunner
from shared import codec
from shared.codec import CodecError
from shared.connections import REDIS_DOWN, Backoff
from shared.keys import ANALYZER_GROUP, SESSIONS_STREAM_MAXLEN, Keys
from shared.messages import Checkpoint, SessionEntry, now_ms
from shared.settings import Settings
from shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

LandmarkerFactory = Callable[[], Landmarker]

_EXIT_WORDS = {
    RunnerExit.ENDED: "ended (its record is gone)",
    RunnerExit.LOST: "lost to another worker",
    RunnerExit.IDLE: "idle; handed back",
}


@dataclass(slots=True)
class _Owned:
    entry_id: bytes
    runner: SessionRunner
    task: asyncio.Task[RunnerExit]


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        *,
        worker_id: str | None = None,
        landmarker_factory: LandmarkerFactory = FaceMeshLandmarker,
    ) -> None:
        self.settings = settings
        self.id = worker_id or default_worker_id()
        self._redis = redis
        self._keys = Keys(settings.key_prefix)
        self._leases = Leases(redis, self._keys, self.id, settings.lease_ms)
        self._landmarker_factory = landmarker_factory
        # One analysis thread: FaceMesh and JPEG decode release the GIL, so this keeps
        # one core busy while the event loop only moves bytes. Run one worker per core.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"analysis-{self.id}")
        self._owned: dict[str, _Owned] = {}
        self._config = AnalysisConfig(
            max_frame_bytes=settings.max_frame_bytes, landmark_every=settings.landmark_every
        )
        self.draining = False  # set on SIGTERM: /readyz then answers 503
        # Counters of sessions this worker no longer holds, so /metrics totals only grow.
        self.retired: Counter[str] = Counter()
        self.retired_latency = LatencyHistogram()

    @property
    def sessions(self) -> list[str]:
        return list(self._owned)

    @property
    def runners(self) -> list[SessionRunner]:
        return [owned.runner for owned in self._owned.values()]

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then hand every session back and return."""
        # Load the model before claiming anything: importing MediaPipe holds the GIL for
        # a second or two, long enough to miss lease renewals if sessions were running.
        await asyncio.get_running_loop().run_in_executor(self._executor, _warm_up, self._landmarker_factory)
        log.info("worker %s started", self.id)
        claim = asyncio.create_task(self._claim_loop(stop), name=f"claim-{self.id}")
        heartbeat = asyncio.create_task(self._heartbeat_loop(), name=f"heartbeat-{self.id}")
        try:
            await stop.wait()
        finally:
            self.draining = True
            await cancel_and_wait(claim)
            # No heartbeat while handing back (it would race for the same sessions); the
            # hand-back takes far less than a lease.
            await cancel_and_wait(heartbeat)
            await self._hand_back_all()
            with contextlib.suppress(*REDIS_DOWN):
                await self._redis.delete(self._keys.worker(self.id))
            self._executor.shutdown(wait=True)
            log.info("worker %s stopped", self.id)

    # -- claiming -------------------------------------------------------------------

    async def _claim_loop(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        sessions_key = self._keys.sessions()
        next_autoclaim = 0.0
        while not stop.is_set():
            try:
                free = self.settings.worker_max_sessions - len(self._owned)
                if free > 0 and time.monotonic() >= next_autoclaim:
                    next_autoclaim = time.monotonic() + self.settings.lease_ms / 2000
                    reply: Any = await self._redis.xautoclaim(
                        sessions_key, ANALYZER_GROUP, self.id, self.settings.lease_ms, "0-0", count=free
                    )
                    for entry_id, fields in reply[1]:
                        if fields:
                            await self._adopt(entry_id, fields, taken_over=True)
                    free = self.settings.worker_max_sessions - len(self._owned)
                if free <= 0:
                    await asyncio.sleep(0.2)
                    continue
                reply = await self._redis.xreadgroup(
                    ANALYZER_GROUP, self.id, {sessions_key: ">"}, count=1, block=200
                )
                for _stream, entries in reply or []:
                    for entry_id, fields in entries:
                        await self._adopt(entry_id, fields, taken_over=False)
                backoff.reset()
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await self._ensure_group()
            except REDIS_DOWN as exc:
                log.warning("worker %s: redis unavailable (%s); retrying", self.id, exc)
                await backoff.wait()
            except Exception:
                # Keep claiming whatever went wrong with one entry; the error is logged.
                log.exception("worker %s: claiming failed; retrying", self.id)
                await backoff.wait()

    async def _ensure_group(self) -> None:
        try:
            # From the stream's start: entries added before the group existed (e.g. right
            # after a Redis restart) still need a worker. Ended ones are dropped on adopt.
            await self._redis.xgroup_create(self._keys.sessions(), ANALYZER_GROUP, id="0", mkstream=True)
            log.info("created consumer group %s", ANALYZER_GROUP)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _adopt(self, entry_id: bytes, fields: Any, *, taken_over: bool) -> None:
        try:
            entry = codec.decode(fields.get(b"m", b""), SessionEntry)
        except CodecError as exc:
            log.warning("worker %s: dropped unreadable session entry %s: %s", self.id, entry_id, exc)
            await self._forget_entry(entry_id)
            return
        sid = entry.sid
        owned = self._owned.get(sid)
        if owned is not None and owned.task.done():
            await self._reap(sid, owned)  # reap first, then judge the entry
            owned = None
        if owned is not None:
            if owned.entry_id != entry_id:
                await self._forget_entry(entry_id)  # a duplicate of a session we already run
            return
        result = await self._leases.acquire(sid)
        if result is LeaseResult.ENDED:
            await self._forget_entry(entry_id)
            await self._leases.clean_if_ended(sid)
            return
        if result is LeaseResult.HELD_ELSEWHERE:
            log.info(
                "worker %s: session %s already has a live worker; dropping duplicate entry", self.id, sid
            )
            await self._forget_entry(entry_id)
            return
        checkpoint = await self._load_checkpoint(sid)
        loop = asyncio.get_running_loop()
        landmarker = await loop.run_in_executor(self._executor, self._landmarker_factory)
        analysis = SessionAnalysis(sid, self.id, landmarker, self._config, checkpoint)
        runner = SessionRunner(
            sid, analysis, self._redis, self._keys, self._leases, self.settings, self._executor
        )
        task = asyncio.create_task(runner.run(), name=f"session-{sid}")
        self._owned[sid] = _Owned(entry_id, runner, task)
        log.info(
            "worker %s: %s session %s (%s)",
            self.id,
            "took over" if taken_over else "claimed",
            sid,
            "resuming from checkpoint" if checkpoint else "new baseline",
        )

    async def _load_checkpoint(self, sid: str) -> Checkpoint | None:
        data: Any = await self._redis.get(self._keys.session_state(sid))
        if not data:
            return None
        try:
            checkpoint = codec.decode(data, Checkpoint)
        except CodecError as exc:
            log.warning("session %s: ignoring unreadable checkpoint: %s", sid, exc)
            return None
        return checkpoint if checkpoint.sid == sid else None

    async def _forget_entry(self, entry_id: bytes) -> None:
        key = self._keys.sessions()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xack(key, ANALYZER_GROUP, entry_id)
            pipe.xdel(key, entry_id)
            await pipe.execute()

    # -- keeping sessions -------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        backoff = Backoff()
        interval = self.settings.lease_ms / 3000
        while True:
            await asyncio.sleep(interval)
            try:
                await self._heartbeat()
                backoff.reset()
            except REDIS_DOWN as exc:
                log.warning("worker %s: heartbeat failed, redis unavailable (%s)", self.id, exc)
                await backoff.wait()
            except Exception:
                log.exception("worker %s: heartbeat failed; retrying", self.id)
                await backoff.wait()

    async def _heartbeat(self) -> None:
        await self._redis.set(self._keys.worker(self.id), len(self._owned), px=self.settings.lease_ms * 2)
        for sid, owned in list(self._owned.items()):
            if owned.task.done():
                await self._reap(sid, owned)
        if not self._owned:
            return
        for sid in list(self._owned):
            result = await self._leases.acquire(sid)
            if result is LeaseResult.ENDED:
                await self._finish(sid, RunnerExit.ENDED)
            elif result is LeaseResult.HELD_ELSEWHERE:
                await self._finish(sid, RunnerExit.LOST)
        if not self._owned:
            return
        # Reset our pending entries' idle time so no one else auto-claims them.
        ids: list[Any] = [owned.entry_id for owned in self._owned.values()]
        kept = set(
            await self._redis.xclaim(self._keys.sessions(), ANALYZER_GROUP, self.id, 0, ids, justid=True)
        )
        for sid, owned in list(self._owned.items()):
            if owned.entry_id not in kept:
                # The entry vanished (Redis restarted): put the session back in the
                # stream and let the group deliver it again, so it can still fail over.
                log.info("worker %s: session %s lost its stream entry; re-queueing", self.id, sid)
                await self._hand_back(sid)

    async def _reap(self, sid: str, owned: _Owned) -> None:
        """Deal with a runner that stopped by itself."""
        failure = "cancelled" if owned.task.cancelled() else owned.task.exception()
        if failure is not None:
            log.error("worker %s: session %s runner failed: %r", self.id, sid, failure)
            await self._hand_back(sid)  # give someone (perhaps us) a clean start
        else:
            await self._finish(sid, owned.task.result())

    async def _finish(self, sid: str, how: RunnerExit) -> None:
        owned = self._owned.pop(sid)
        await cancel_and_wait(owned.task)
        log.info("worker %s: session %s %s", self.id, sid, _EXIT_WORDS[how])
        if how is RunnerExit.IDLE:
            await owned.runner.save_checkpoint()
            await self._leases.release(sid)
        if how is not RunnerExit.LOST:
            # A lost session's entry stays pending: if its new holder dies too, the entry
            # still fails over; while the holder lives, whoever claims it drops it.
            await self._forget_entry(owned.entry_id)
        if how is RunnerExit.ENDED:
            await self._leases.clean_if_ended(sid)
        await self._close(owned)

    async def _hand_back(self, sid: str) -> None:
        """Give a session back to the group with its checkpoint, for any worker to take."""
        owned = self._owned.pop(sid)
        await cancel_and_wait(owned.task)
        await owned.runner.save_checkpoint()
        entry = SessionEntry(sid=sid, created_ms=now_ms())
        await self._redis.xadd(
            self._keys.sessions(), {"m": codec.encode(entry)}, maxlen=SESSIONS_STREAM_MAXLEN, approximate=True
        )
        await self._forget_entry(owned.entry_id)
        await self._leases.release(sid)
        await self._close(owned)

    async def _hand_back_all(self) -> None:
        for sid in list(self._owned):
            try:
                await self._hand_back(sid)
            except REDIS_DOWN as exc:
                log.warning(
                    "worker %s: could not hand back session %s (%s); it will fail over", self.id, sid, exc
                )

    async def _close(self, owned: _Owned) -> None:
        runner = owned.runner
        self.retired["telerehab_analyzer_frames_analysed_total"] += runner.analysed
        self.retired["telerehab_analyzer_frames_dropped_total"] += runner.dropped
        self.retired["telerehab_analyzer_frames_bad_total"] += runner.bad
        self.retired_latency.merge(runner.latency)
        await asyncio.get_running_loop().run_in_executor(self._executor, runner.analysis.close)


def _warm_up(factory: LandmarkerFactory) -> None:
    factory().close()
