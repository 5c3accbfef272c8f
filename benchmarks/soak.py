"""Soak: sessions coming and going for a long while; memory and Redis must stay flat.

A real gateway and one analyzer worker (``python -m services.cli ...``), real Redis,
aiortc peers in this process. ``--concurrent`` sessions at a time, each opened through
the API, joined by a patient (the synthetic face at ``--fps``, 640x480) and a therapist
viewer, kept for about ``--session-s`` seconds (staggered), ended through the API (as a
therapist's "End" does) and replaced by a new one, for ``--minutes``. Every
``--sample-s`` seconds: the gateway's and the worker's resident memory and open file
descriptors (from /proc), Redis's key count under this run's prefix and its
``used_memory``. At the end, the last third of the samples is compared with the first
third (its very first sample left out: warm-up): memory that grows with every session,
keys that outlive their sessions, or descriptors that leak show here, not in a short
test. Growth over 10 % on any measure, or a session that failed, exits 1.

    python -m benchmarks.soak --minutes 30 --concurrent 2 [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks._common import (
    DEFAULT_REDIS_URL,
    Child,
    child_env,
    drop_prefix,
    face_clip,
    free_port,
    loop_signals,
    machine_info,
    print_table,
    run_async,
    unique_prefix,
    write_json,
)
from benchmarks._media import CameraTrack, to_yuv420p
from benchmarks.relay_cpu import GatewayServer, Peer, join

GROWTH_LIMIT = 0.10  # last third against the first third: more is a leak, not noise


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


@dataclass
class Sample:
    t_s: float
    sessions_done: int
    gateway_rss_mb: float
    worker_rss_mb: float
    gateway_fds: int
    worker_fds: int
    redis_keys: int  # under this run's prefix, without the tombstones
    tombstones: int  # ended sessions' markers: expire with the join tokens, by design
    sessions_stream: int  # entries in the live-sessions stream
    ended_stream: int  # summaries waiting for a clinic (none runs here): bounded by retention
    redis_used_mb: float


@dataclass
class Soak:
    server: GatewayServer
    worker: Child
    redis: Any
    prefix: str
    pictures: list[Any]
    fps: float
    session_s: float
    done: int = 0
    failed: int = 0
    samples: list[Sample] = field(default_factory=list)

    async def one_session(self, stagger_s: float) -> None:
        await asyncio.sleep(stagger_s)
        sid, patient_token, therapist_token = await self.server.open()
        peers: list[Peer] = []
        try:
            camera = CameraTrack(self.pictures, self.fps)
            peers.append(await join(self.server.http, self.server.url, patient_token, [camera]))
            peers.append(await join(self.server.http, self.server.url, therapist_token, [], None, "sendrecv"))
            await asyncio.sleep(self.session_s)
            await self.server.end(sid, therapist_token)
            self.done += 1
        except (aiohttp.ClientError, RuntimeError, TimeoutError) as exc:
            self.failed += 1
            print(f"  session {sid}: {type(exc).__name__}: {exc}", flush=True)
        finally:
            for peer in peers:
                await peer.close()

    async def sessions_forever(self, lane: int, lanes: int) -> None:
        stagger = self.session_s * lane / lanes  # the lanes end at different times
        while True:
            await self.one_session(stagger)
            stagger = 1.0

    async def sample(self, started: float) -> Sample:
        keys = tombstones = 0
        async for key in self.redis.scan_iter(match=f"{self.prefix}:*", count=500):
            if key.endswith(b":ended"):
                tombstones += 1
            else:
                keys += 1
        info = await self.redis.info("memory")
        sessions = await self.redis.xlen(f"{self.prefix}:sessions")
        ended = await self.redis.xlen(f"{self.prefix}:ended-sessions")
        pid, wpid = self.server.child.pid, self.worker.pid
        return Sample(
            t_s=round(time.monotonic() - started, 1),
            sessions_done=self.done,
            gateway_rss_mb=round(rss_mb(pid), 1),
            worker_rss_mb=round(rss_mb(wpid), 1),
            gateway_fds=open_fds(pid),
            worker_fds=open_fds(wpid),
            redis_keys=keys,
            tombstones=tombstones,
            sessions_stream=sessions,
            ended_stream=ended,
            redis_used_mb=round(int(info["used_memory"]) / 2**20, 2),
        )


JUDGED = ("gateway_rss_mb", "worker_rss_mb", "gateway_fds", "worker_fds", "redis_keys", "sessions_stream")
# Grow by design, each bounded: tombstones expire with the join tokens, summaries wait
# for a clinic for TELEREHAB_SUMMARY_RETENTION_S (none runs here), and Redis's memory
# holds both.
REPORTED = ("tombstones", "ended_stream", "redis_used_mb")


def verdict(samples: list[Sample]) -> dict[str, Any]:
    """First third (after its first sample: warm-up) against the last third, per measure."""
    third = max(1, len(samples) // 3)
    early, late = samples[1 : third + 1] or samples[:1], samples[-third:]
    out: dict[str, Any] = {}
    for name in (*JUDGED, *REPORTED):
        a = statistics.mean(getattr(s, name) for s in early)
        b = statistics.mean(getattr(s, name) for s in late)
        growth = (b - a) / a if a else (0.0 if b == a else float("inf"))
        out[name] = {
            "early": round(a, 2),
            "late": round(b, 2),
            "growth": round(growth, 3),
            "judged": name in JUDGED,
        }
    out["flat"] = all(out[name]["growth"] <= GROWTH_LIMIT for name in JUDGED)
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from gateway.ice import configure_host_addresses
    from shared.connections import connect

    configure_host_addresses(["127.0.0.1"])  # our peers: loopback candidates only, no STUN
    clip = face_clip()
    pictures = [to_yuv420p(img) for img in clip.moving]
    log_dir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    prefix = unique_prefix("soak")
    secret = "bench-" + uuid.uuid4().hex
    port = free_port()
    env = child_env(
        {
            "TELEREHAB_SECRET": secret,
            "TELEREHAB_HOST": "127.0.0.1",
            "TELEREHAB_PORT": str(port),
            "REDIS_URL": args.redis_url,
            "TELEREHAB_KEY_PREFIX": prefix,
        }
    )
    redis = connect(args.redis_url)
    loop_signals()
    lanes: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession() as http:
        gateway_child = Child("gateway", ["services.cli", "gateway"], env, log_dir)
        worker = Child("analyzer", ["services.cli", "analyzer", "--id", "soak"], env, log_dir)
        soak = Soak(
            GatewayServer(gateway_child, f"http://127.0.0.1:{port}", http, secret),
            worker,
            redis,
            prefix,
            pictures,
            args.fps,
            args.session_s,
        )
        try:
            await soak.server.wait_ready("/readyz", 60)
            print(f"gateway and worker up (logs in {log_dir}); soaking for {args.minutes} min", flush=True)
            started = time.monotonic()
            lanes = [
                asyncio.create_task(soak.sessions_forever(i, args.concurrent), name=f"lane-{i}")
                for i in range(args.concurrent)
            ]
            while time.monotonic() - started < args.minutes * 60:
                await asyncio.sleep(args.sample_s)
                gateway_child.check()
                worker.check()
                s = await soak.sample(started)
                soak.samples.append(s)
                print(
                    f"  {s.t_s / 60:5.1f} min: {s.sessions_done} sessions ended, "
                    f"gateway {s.gateway_rss_mb} MB / {s.gateway_fds} fds, "
                    f"worker {s.worker_rss_mb} MB / {s.worker_fds} fds, "
                    f"redis {s.redis_keys} keys (+{s.tombstones} tombstones) / {s.redis_used_mb} MB, "
                    f"streams: sessions {s.sessions_stream}, ended {s.ended_stream}",
                    flush=True,
                )
        finally:
            for lane in lanes:
                lane.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lane
            gateway_child.stop()
            worker.stop()
            await drop_prefix(redis, prefix)
            await redis.aclose()
    return {
        "samples": [dataclasses.asdict(sample) for sample in soak.samples],
        "sessions": soak.done,
        "failed": soak.failed,
        "verdict": verdict(soak.samples),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--concurrent", type=int, default=2, help="sessions at a time (default 2)")
    parser.add_argument("--session-s", type=float, default=40.0, help="how long each session lasts")
    parser.add_argument("--sample-s", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--fps", type=float, default=15.0, help="the patients' camera frame rate")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    result = run_async(run(args))
    v = result["verdict"]
    rows = [
        [
            name,
            m["early"],
            m["late"],
            f"{m['growth']:+.1%}",
            "judged" if m["judged"] else "grows by design, bounded",
        ]
        for name, m in v.items()
        if isinstance(m, dict)
    ]
    print_table(
        f"Soak: {args.minutes:g} min, {args.concurrent} sessions at a time, "
        f"{result['sessions']} sessions ended ({result['failed']} failed)",
        ["measure", "first third", "last third", "growth", ""],
        rows,
    )
    print(
        f"\nsoak: {result['sessions']} sessions in {args.minutes:g} min; memory, descriptors, Redis keys "
        "and the sessions stream "
        f"{'flat' if v['flat'] else 'GROWING'} (limit +{GROWTH_LIMIT:.0%} last third vs first)"
    )
    write_json(args.json, {"benchmark": "soak", "machine": machine_info(), "config": vars(args), **result})
    return 0 if v["flat"] and not result["failed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
