"""Sampled → feedback-ready latency with 1, 4 and 8 concurrent sessions at 15 fps.

Two real analyzer worker processes (``python -m services.cli analyzer``) serve simulated
sessions. Each session is opened like the gateway opens one (``SessionStore.create``,
then ``register_for_analysis``) and has

  * a pusher that adds a 320x240 JPEG ``Frame`` of the synthetic face every 1/15 s with
    ``captured_ms = now``, exactly as ``gateway/sampler.py`` writes it (pipeline of XADD
    MAXLEN ``frame_stream_maxlen`` + PEXPIRE); with ``--source sampler`` the gateway's own
    ``FrameSampler`` does it instead, from a 640x480 30 fps camera-like track, including
    its downscale and JPEG encoding in a 2-thread pool as in the gateway;
  * a reader: the gateway's own ``FeedbackFanout`` (XREAD of the feedback stream), whose
    events carry ``latency_ms = now_ms - captured_ms`` at delivery.

After every session is tracking (calibration frames are never counted) and ``--warmup``
seconds more, frames sampled during ``--seconds`` are followed: latency p50/p95/max of
those that got feedback, feedback fps per session, and the dropped fraction (sampled but
never delivered: skipped as stale by the worker, or older than ``feedback_max_age_ms`` at
the fan-out). A level during which other processes on the machine used more than
``--max-other-load`` cores is repeated (``--retries``) and the quietest attempt kept.
Target (DESIGN.md §5): p95 < 60 ms with 8 sessions.

    python -m benchmarks.feedback_latency --sessions 1,4,8 --seconds 20 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._common import (
    DEFAULT_REDIS_URL,
    Child,
    LoadMeter,
    add_noise_args,
    available_cpus,
    child_env,
    debuggable,
    downscale,
    drop_prefix,
    face_clip,
    latency_summary,
    loop_signals,
    machine_info,
    print_table,
    quietest,
    redis_pid,
    run_async,
    stop_tasks,
    unique_prefix,
    write_json,
)

TARGET_P95_MS = 60.0
TARGET_SESSIONS = 8
DRAIN_S = 1.0  # after the window, for the last frames' feedback


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Delivered:
    seq: int
    captured_ms: int
    analysed_ms: int
    latency_ms: int
    status: str
    worker: str
    dropped: int


@dataclass(eq=False)
class SimSession:
    sid: str
    sampled_ms: list[int] = field(default_factory=list)  # captured_ms of every frame pushed
    delivered: list[Delivered] = field(default_factory=list)
    lost: int = 0  # frames the pusher could not write (Redis unavailable)
    sampler: Any = None  # FrameSampler with --source sampler
    fanout: Any = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def on_feedback(self, event: dict[str, Any]) -> None:
        self.delivered.append(
            Delivered(
                seq=int(event["seq"]),
                captured_ms=int(event["captured_ms"]),
                analysed_ms=int(event["analysed_ms"]),
                latency_ms=int(event["latency_ms"]),
                status=str(event["status"]),
                worker=str(event["worker"]),
                dropped=int(event.get("dropped", 0)),
            )
        )

    def sampled_by_sampler(self) -> int:
        """Frames the gateway's FrameSampler has written (``--source sampler``)."""
        if self.sampler is None:
            return 0
        stats = getattr(self.sampler, "stats", self.sampler)  # SamplerStats, or older counters
        return int(stats.sampled)

    def tracking(self) -> bool:
        return any(d.status == "tracking" for d in self.delivered)

    def check(self) -> None:
        """Raise the error of a reader or frame source that stopped on one."""
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise RuntimeError(f"session {self.sid}: {task.get_name()} failed") from task.exception()

    async def stop(self) -> None:
        tasks, self.tasks = self.tasks, []
        await stop_tasks(tasks)


@dataclass
class Rig:
    """Everything a level needs: Redis, the key layout, workers and the frames."""

    redis: Any
    keys: Any
    store: Any
    settings: Any
    workers: list[Child]
    jpegs: list[bytes]
    width: int
    height: int
    camera_pictures: list[Any]
    executor: ThreadPoolExecutor
    redis_pid: int | None = None

    def load_meter(self) -> LoadMeter:
        pids = {w.name: w.pid for w in self.workers}
        if self.redis_pid:
            pids["redis"] = self.redis_pid
        return LoadMeter(pids)


async def push_frames(rig: Rig, session: SimSession, fps: float, phase_s: float) -> None:
    """The sampler's Redis writes, from pre-encoded JPEGs, at a steady ``fps``."""
    from shared import codec
    from shared.connections import REDIS_DOWN
    from shared.messages import Frame

    key = rig.keys.session_frames(session.sid)
    interval = 1.0 / fps
    next_at = time.monotonic() + phase_s
    seq = 0
    while True:
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        # Keep the cadence, never 'catch up' after a stall (as the sampler does).
        next_at = max(next_at + interval, time.monotonic())
        captured = now_ms()
        message = Frame(
            session.sid, seq, captured, rig.width, rig.height, "jpeg", rig.jpegs[seq % len(rig.jpegs)]
        )
        seq += 1
        # Counted before the write: a frame in flight when the pusher is stopped may still
        # reach Redis and get its feedback.
        session.sampled_ms.append(captured)
        try:
            async with rig.redis.pipeline(transaction=False) as pipe:
                pipe.xadd(key, {"m": codec.encode(message)}, maxlen=rig.settings.frame_stream_maxlen)
                pipe.pexpire(key, 10_000)
                await pipe.execute()
        except REDIS_DOWN:
            session.sampled_ms.pop()
            session.lost += 1  # as the sampler does: count it, keep going


async def run_sampler(rig: Rig, session: SimSession, phase_s: float) -> None:
    """The gateway's FrameSampler on a 30 fps camera-like track."""
    from benchmarks._media import CameraTrack
    from gateway.sampler import FrameSampler

    await asyncio.sleep(phase_s)
    track = CameraTrack(rig.camera_pictures, fps=30.0)
    sampler = FrameSampler(session.sid, track, rig.redis, rig.keys, rig.settings, rig.executor)
    session.sampler = sampler
    try:
        await sampler.run()
    finally:
        track.stop()


async def run_level(rig: Rig, n: int, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    from gateway.fanout import FeedbackFanout

    sessions: list[SimSession] = []
    try:
        for _ in range(n):
            info = await rig.store.create(600)
            session = SimSession(info.sid)
            session.fanout = FeedbackFanout(
                info.sid, rig.redis, rig.keys, rig.settings.feedback_max_age_ms, session.on_feedback
            )
            session.tasks.append(asyncio.create_task(session.fanout.run(), name=f"fanout-{info.sid}"))
            sessions.append(session)
        await asyncio.sleep(0.1)  # the readers' first XREAD ("$") is in place
        for session in sessions:
            await rig.store.register_for_analysis(session.sid)
            # Sessions start at random phases of the frame interval, as real ones do.
            phase = rng.random() / args.fps
            if args.source == "sampler":
                source = run_sampler(rig, session, phase)
            else:
                source = push_frames(rig, session, args.fps, phase)
            session.tasks.append(asyncio.create_task(source, name=f"source-{session.sid}"))

        deadline = time.monotonic() + args.claim_timeout
        while not all(s.tracking() for s in sessions):
            for worker in rig.workers:
                worker.check()
            for session in sessions:
                session.check()
            if time.monotonic() > deadline:
                waiting = sum(not s.tracking() for s in sessions)
                raise RuntimeError(f"{waiting} of {n} sessions not tracking after {args.claim_timeout:.0f} s")
            await asyncio.sleep(0.1)
        await asyncio.sleep(args.warmup)

        sampled_before = [s.sampled_by_sampler() for s in sessions]
        meter = rig.load_meter()
        meter.start()
        t0 = now_ms()
        stale_before = [s.fanout.stale for s in sessions]
        await asyncio.sleep(args.seconds)
        t1 = now_ms()
        for session in sessions:
            session.check()
        load = meter.stop()
        sampled_after = [s.sampled_by_sampler() for s in sessions]
        for session in sessions:
            # Stop sampling; keep reading a little for the window's last frames.
            session.tasks[1].cancel()
        await asyncio.sleep(DRAIN_S)
        for session in sessions:
            await session.stop()
        window_s = (t1 - t0) / 1000
    finally:
        for session in sessions:
            await session.stop()
            await rig.store.end(session.sid, 60, 3600)
    # Let the workers notice the ended sessions and let go before what comes next.
    await asyncio.sleep(args.lease_ms / 1000 + 0.5)

    latencies: list[float] = []
    to_analysed: list[float] = []
    per_session_fps: list[float] = []
    sampled_total = delivered_total = worker_dropped = stale = duplicates = 0
    statuses: Counter[str] = Counter()
    per_worker: dict[str, set[str]] = {}
    for i, session in enumerate(sessions):
        if args.source == "sampler":
            sampled = sampled_after[i] - sampled_before[i]
        else:
            sampled = sum(t0 <= c < t1 for c in session.sampled_ms)
        window = [d for d in session.delivered if t0 <= d.captured_ms < t1 and d.status != "calibrating"]
        duplicates += len(window) - len({d.seq for d in window})
        latencies += [d.latency_ms for d in window]
        to_analysed += [d.analysed_ms - d.captured_ms for d in window]
        per_session_fps.append(len(window) / window_s)
        sampled_total += sampled
        delivered_total += len(window)
        worker_dropped += sum(d.dropped for d in window)
        stale += session.fanout.stale - stale_before[i]
        statuses.update(d.status for d in window)
        for d in window:
            per_worker.setdefault(d.worker, set()).add(session.sid)
    summary = latency_summary(latencies)
    result: dict[str, Any] = {
        "sessions": n,
        "window_s": window_s,
        "latency_ms": summary,
        "sampled_to_analysed_ms": latency_summary(to_analysed),
        "feedback_fps_per_session": {
            "mean": statistics.fmean(per_session_fps),
            "min": min(per_session_fps),
            "max": max(per_session_fps),
        },
        "sampled": sampled_total,
        "delivered": delivered_total,
        "dropped_fraction": 1 - delivered_total / sampled_total if sampled_total else float("nan"),
        "worker_reported_skips": worker_dropped,
        "stale_at_fanout": stale,
        "lost_redis_down": sum(s.lost for s in sessions),
        "duplicate_deliveries": duplicates,
        "statuses": dict(statuses),
        "sessions_per_worker": sorted((len(v) for v in per_worker.values()), reverse=True),
        "worker_cpu_percent": [load[f"{w.name}_cores"] * 100 for w in rig.workers],
        "load_cores": load,
    }
    analysed = latency_summary(to_analysed)
    print(
        f"  {n} session(s): p50 {summary['p50']:.0f} ms, p95 {summary['p95']:.0f} ms "
        f"(to analysed: p50 {analysed['p50']:.0f}, p95 {analysed['p95']:.0f}), "
        f"max {summary['max']:.0f} ms, {result['feedback_fps_per_session']['mean']:.1f} fps/session, "
        f"dropped {result['dropped_fraction']:.1%}",
        flush=True,
    )
    return result


async def wait_workers_ready(rig: Rig, worker_ids: list[str], timeout_s: float) -> None:
    """Until every worker has announced itself (its presence key), when the key layout
    has one; else until the processes have had a moment to load the model."""
    presence = getattr(rig.keys, "worker", None)
    deadline = time.monotonic() + timeout_s
    while True:
        for worker in rig.workers:
            worker.check()
        if presence is None:
            await asyncio.sleep(5)
            return
        if all(await asyncio.gather(*(rig.redis.exists(presence(w)) for w in worker_ids))):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the workers did not start within {timeout_s:.0f} s")
        await asyncio.sleep(0.2)


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from analyzer.frames import encode_jpeg
    from benchmarks._media import to_yuv420p
    from gateway.sessions import SessionStore
    from shared.connections import connect
    from shared.keys import Keys
    from shared.settings import Settings

    prefix = unique_prefix("latency")
    settings = Settings(redis_url=args.redis_url, key_prefix=prefix, lease_ms=args.lease_ms)
    print("rendering the synthetic face …", flush=True)
    clip = face_clip()
    small = [downscale(img, settings.frame_max_side) for img in clip.moving]
    jpegs = [encode_jpeg(img, settings.frame_jpeg_quality) for img in small]
    pictures = [to_yuv420p(img) for img in clip.moving] if args.source == "sampler" else []

    log_dir = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    env = child_env(
        {
            "REDIS_URL": args.redis_url,
            "TELEREHAB_KEY_PREFIX": prefix,
            "TELEREHAB_LEASE_MS": str(args.lease_ms),
            "TELEREHAB_WORKER_MAX_SESSIONS": str(args.worker_max_sessions),
        }
    )
    cpus = available_cpus()
    worker_ids = [f"bench-{i}-{uuid.uuid4().hex[:4]}" for i in range(args.workers)]
    workers = [
        Child(
            f"analyzer-{i}",
            ["services.cli", "analyzer", "--id", wid],
            env,
            log_dir,
            {cpus[i % len(cpus)]} if args.pin_workers else None,
        )
        for i, wid in enumerate(worker_ids)
    ]
    redis = connect(args.redis_url)
    keys = Keys(prefix)
    rig = Rig(
        redis=redis,
        keys=keys,
        store=SessionStore(redis, keys),
        settings=settings,
        workers=workers,
        jpegs=jpegs,
        width=small[0].shape[1],
        height=small[0].shape[0],
        camera_pictures=pictures,
        executor=ThreadPoolExecutor(max_workers=2, thread_name_prefix="sampler"),
        redis_pid=await redis_pid(redis),
    )
    rng = random.Random(args.seed)
    results: list[dict[str, Any]] = []
    loop_signals()
    try:
        print(f"starting {args.workers} analyzer workers (logs in {log_dir}) …", flush=True)
        await wait_workers_ready(rig, worker_ids, args.claim_timeout)
        for n in args.sessions:
            level = functools.partial(run_level, rig, n, args, rng)
            results.append(await quietest(level, args.max_other_load, args.retries))
        return results
    except BaseException:
        for worker in workers:
            if worker.alive():
                continue
            print(f"{worker.name} died; its log:\n{worker.log_tail()}")
        raise
    finally:
        for worker in workers:
            worker.stop()
        rig.executor.shutdown(wait=True)
        await drop_prefix(redis, prefix)
        await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", default="1,4,8", help="concurrent session counts (default 1,4,8)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per level (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after all sessions track")
    parser.add_argument("--fps", type=float, default=15.0, help="frames per second per session (default 15)")
    parser.add_argument("--workers", type=int, default=2, help="analyzer worker processes (default 2)")
    parser.add_argument(
        "--worker-max-sessions", type=int, default=8, help="TELEREHAB_WORKER_MAX_SESSIONS (default 8)"
    )
    parser.add_argument("--lease-ms", type=int, default=2000, help="TELEREHAB_LEASE_MS (default 2000)")
    parser.add_argument(
        "--source",
        choices=("pusher", "sampler"),
        default="pusher",
        help="pusher: pre-encoded JPEGs (default); sampler: the gateway's FrameSampler from 640x480@30",
    )
    parser.add_argument("--pin-workers", action="store_true", help="pin worker i to CPU i (mod CPUs)")
    parser.add_argument("--claim-timeout", type=float, default=90.0, help="seconds to wait for tracking")
    parser.add_argument("--seed", type=int, default=1, help="random session phases")
    add_noise_args(parser)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    debuggable()
    args.sessions = [int(x) for x in args.sessions.split(",") if x.strip()]

    results = run_async(run(args))

    print_table(
        f"Sampled → feedback-ready latency, {args.workers} workers, {args.fps:g} fps/session, "
        f"{args.seconds:g} s windows, source {args.source}",
        [
            "sessions",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "fb fps/session",
            "min fps",
            "dropped",
            "stale",
            "sessions/worker",
            "worker CPU %",
            "bench+redis cores",
            "others cores",
        ],
        [
            [
                r["sessions"],
                r["latency_ms"]["p50"],
                r["latency_ms"]["p95"],
                r["latency_ms"]["p99"],
                r["latency_ms"]["max"],
                r["feedback_fps_per_session"]["mean"],
                r["feedback_fps_per_session"]["min"],
                f"{r['dropped_fraction']:.1%}",
                r["stale_at_fanout"],
                "/".join(str(x) for x in r["sessions_per_worker"]),
                "/".join(f"{x:.0f}" for x in r["worker_cpu_percent"]),
                f"{r['load_cores']['self_cores'] + r['load_cores'].get('redis_cores', 0.0):.2f}",
                f"{r['load_cores']['others_cores']:.2f}",
            ]
            for r in results
        ],
    )
    for r in results:
        print(
            f"  {r['sessions']} session(s): statuses {dict(sorted(r['statuses'].items()))}, "
            f"duplicate deliveries {r['duplicate_deliveries']}, worker-reported skips "
            f"{r['worker_reported_skips']}"
        )
    print(
        "  'others cores': CPU used during the window by processes other than this benchmark, its "
        "workers and Redis (another user's load makes the numbers noisy)."
    )

    at_target = [r for r in results if r["sessions"] == TARGET_SESSIONS]
    if at_target:
        p95 = at_target[0]["latency_ms"]["p95"]
        verdict = "PASS" if p95 < TARGET_P95_MS else "FAIL"
    else:
        verdict = f"n/a (no {TARGET_SESSIONS}-session level)"
    levels = "; ".join(
        f"{r['sessions']}: p50 {r['latency_ms']['p50']:.0f}/p95 {r['latency_ms']['p95']:.0f}/"
        f"max {r['latency_ms']['max']:.0f} ms, {r['feedback_fps_per_session']['mean']:.1f} fps, "
        f"{r['dropped_fraction']:.1%} dropped"
        for r in results
    )
    print()
    print(
        f"feedback_latency: {levels} — target p95 < {TARGET_P95_MS:.0f} ms at {TARGET_SESSIONS} sessions: "
        f"{verdict}"
    )
    write_json(
        args.json,
        {
            "benchmark": "feedback_latency",
            "machine": machine_info(),
            "config": {
                "sessions": args.sessions,
                "seconds": args.seconds,
                "warmup": args.warmup,
                "fps": args.fps,
                "workers": args.workers,
                "worker_max_sessions": args.worker_max_sessions,
                "source": args.source,
                "pin_workers": args.pin_workers,
            },
            "results": results,
            "target_p95_ms": TARGET_P95_MS,
            "verdict": verdict,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
