"""Gateway CPU per relayed 640x480@30 session, against a plain ``MediaRelay`` server.

Both servers run as subprocesses pinned to one core (``--server-cpu``): the real gateway
(``python -m services.cli gateway``, with its sampler writing 15 fps of JPEG frames to
Redis, its fan-out and keep-alive; no analyzer workers run, so nothing analyses them)
and ``benchmarks/plain_relay.py`` (aiohttp + aiortc, ``MediaRelay`` only). For N in
``--sessions``, this process (on the other cores) opens N sessions, each a patient aiortc
peer sending a moving 640x480 video of the synthetic face at 30 fps and a therapist peer
receiving it, waits until video flows and ``--warmup`` seconds more, then for
``--seconds`` measures

  * the server process's CPU time (utime + stime from /proc, all threads) → CPU % in
    total and per session, and CPU ms per relayed frame;
  * the frame rate each therapist actually receives (and the patient actually sends);
  * relay latency: every frame carries its number as a barcode in the picture; the
    therapist reads it back, so latency = received − sent (patient encode, loopback, the
    server's decode + re-encode, therapist decode). Both peers live in this process.

Levels alternate between the servers, so other load on the machine hits both alike; a
level during which other processes used more than ``--max-other-load`` cores is repeated
(``--retries``) and the quietest attempt kept.
A level "degrades" when a therapist gets under 90 % of ``--fps`` or p95 latency rises
above twice the p95 of the same server's smallest level. A level where the patients
could not even send 90 % of ``--fps`` is marked "limited by peers": the load generator,
not the server, ran short of CPU.

    python -m benchmarks.relay_cpu --sessions 1,2,4 --seconds 10 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from benchmarks._common import (
    DEFAULT_REDIS_URL,
    Child,
    LoadMeter,
    add_noise_args,
    available_cpus,
    child_env,
    debuggable,
    drop_prefix,
    face_clip,
    free_port,
    latency_summary,
    loop_signals,
    machine_info,
    pin_process,
    print_table,
    quietest,
    redis_pid,
    run_async,
    split_cpus,
    stop_tasks,
    unique_prefix,
    write_json,
)
from benchmarks._media import CameraTrack, Yuv, to_yuv420p

BLOCK = 32  # barcode cell, pixels; 16 cells along the top of the picture
INDEX_BITS = 12
DEGRADED_FPS_SHARE = 0.9
DEGRADED_LATENCY_FACTOR = 2.0
END_TIMEOUT = aiohttp.ClientTimeout(total=10)


def _check(index: int) -> int:
    return (index ^ (index >> 4) ^ (index >> 8)) & 0xF


def stamp(picture: Yuv, index: int) -> Yuv:
    """A copy of the picture with ``index`` (12 bits + 4 check bits) as black/white cells."""
    out = picture.copy()
    code = (index & 0xFFF) | (_check(index & 0xFFF) << INDEX_BITS)
    for bit in range(16):
        out[0:BLOCK, bit * BLOCK : (bit + 1) * BLOCK] = 235 if code >> bit & 1 else 16
    return out


def read_stamp(frame: VideoFrame) -> int | None:
    """The 12-bit index a received frame carries, or None when it cannot be read."""
    if frame.format.name in ("yuv420p", "yuvj420p"):
        plane = frame.planes[0]
        count = plane.line_size * plane.height
        luma = np.frombuffer(memoryview(plane), np.uint8, count=count).reshape(plane.height, plane.line_size)
    else:
        luma = np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)
    if luma.shape[0] < BLOCK or luma.shape[1] < 16 * BLOCK:
        return None
    half, q = BLOCK // 2, BLOCK // 4
    code = 0
    for bit in range(16):
        cell = luma[half - q : half + q, bit * BLOCK + half - q : bit * BLOCK + half + q]
        if float(cell.mean()) > 128:
            code |= 1 << bit
    index = code & 0xFFF
    return index if code >> INDEX_BITS == _check(index) else None


class StampedCamera(CameraTrack):
    def make_frame(self, index: int, picture: Yuv) -> VideoFrame:
        return VideoFrame.from_ndarray(stamp(picture, index), format="yuv420p")


@dataclass(eq=False)
class Viewer:
    """The therapist's side of one session: counts frames, reads their stamps."""

    source: StampedCamera
    received: int = 0
    unreadable: int = 0
    arrivals: list[tuple[float, float]] = field(default_factory=list)  # (time, latency s)

    async def consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            now = time.monotonic()
            self.received += 1
            low = read_stamp(frame) if isinstance(frame, VideoFrame) else None
            sent = self.source.sent
            if low is None or sent == 0:
                self.unreadable += 1
                continue
            # The newest frame sent with these low bits.
            index = (sent - 1) - ((sent - 1 - low) & 0xFFF)
            self.arrivals.append((now, now - self.source.sent_at[index]))


@dataclass(eq=False)
class Peer:
    pc: RTCPeerConnection
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self) -> None:
        tasks, self.tasks = self.tasks, []
        await stop_tasks(tasks)
        await self.pc.close()


async def join(
    http: aiohttp.ClientSession,
    base_url: str,
    token: str,
    tracks: list[MediaStreamTrack],
    viewer: Viewer | None = None,
    unsent_direction: str = "recvonly",
) -> Peer:
    """Connect like a browser would: tracks, an 'events' channel, offer, answer.

    Kinds with no track get a transceiver in ``unsent_direction``. The therapists use
    "sendrecv" with no track (so they still send nothing): the gateway answers a
    "recvonly" media section with "inactive" (see README), which would leave them with
    no video at all.
    """
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer = Peer(pc)
    for track in tracks:
        pc.addTrack(track)
    kinds = {t.kind for t in tracks}
    for kind in ("audio", "video"):
        if kind not in kinds:
            pc.addTransceiver(kind, direction=unsent_direction)
    pc.createDataChannel("events")

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "video" and viewer is not None:
            peer.tasks.append(asyncio.create_task(viewer.consume(track), name="viewer"))

    await pc.setLocalDescription(await pc.createOffer())
    async with http.post(
        f"{base_url}/api/offer",
        json={"sdp": pc.localDescription.sdp, "type": "offer"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=aiohttp.ClientTimeout(total=30),
    ) as response:
        text = await response.text()
        if response.status != 200:
            await pc.close()
            raise RuntimeError(f"offer refused: {response.status} {text}")
        body = json.loads(text)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type=body["type"]))
    return peer


# -- the two servers ----------------------------------------------------------------------


class Server:
    """A relay server subprocess and how to open and end sessions on it."""

    name = ""

    def __init__(self, child: Child, url: str, http: aiohttp.ClientSession) -> None:
        self.child = child
        self.url = url
        self.http = http
        self.end_timeouts = 0  # session ends the server did not confirm in time

    async def wait_ready(self, path: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.child.check()
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with self.http.get(f"{self.url}{path}") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} was not ready within {timeout_s:.0f} s:\n{self.child.log_tail()}")

    async def open(self) -> tuple[str, str, str]:
        """(session id, patient token, therapist token)"""
        raise NotImplementedError

    async def end(self, sid: str, therapist_token: str) -> None:
        raise NotImplementedError


class GatewayServer(Server):
    name = "gateway"

    def __init__(self, child: Child, url: str, http: aiohttp.ClientSession, secret: str) -> None:
        super().__init__(child, url, http)
        self.secret = secret

    async def open(self) -> tuple[str, str, str]:
        from shared import tokens

        clinic = tokens.issue(self.secret, tokens.CLINIC_SCOPE, "clinic", 600)
        async with self.http.post(
            f"{self.url}/api/sessions", headers={"Authorization": f"Bearer {clinic}"}
        ) as response:
            if response.status != 201:
                raise RuntimeError(f"session not created: {response.status} {await response.text()}")
            body = await response.json()
        return body["sid"], body["patient_token"], body["therapist_token"]

    async def end(self, sid: str, therapist_token: str) -> None:
        async with self.http.post(
            f"{self.url}/api/sessions/{sid}/end",
            headers={"Authorization": f"Bearer {therapist_token}"},
            timeout=END_TIMEOUT,
        ):
            pass


class PlainServer(Server):
    name = "plain MediaRelay"

    async def open(self) -> tuple[str, str, str]:
        room = uuid.uuid4().hex[:12]
        return room, f"{room}:patient", f"{room}:therapist"

    async def end(self, sid: str, therapist_token: str) -> None:
        async with self.http.post(f"{self.url}/api/rooms/{sid}/end", timeout=END_TIMEOUT):
            pass


# -- one level ----------------------------------------------------------------------------


@dataclass(eq=False)
class Session:
    sid: str
    therapist_token: str
    camera: StampedCamera
    viewer: Viewer
    peers: list[Peer] = field(default_factory=list)


async def run_level(
    server: Server, n: int, pictures: list[Yuv], args: argparse.Namespace, rpid: int | None
) -> dict[str, Any]:
    sessions: list[Session] = []
    try:
        for _ in range(n):
            sid, patient_token, therapist_token = await server.open()
            camera = StampedCamera(pictures, args.fps)
            session = Session(sid, therapist_token, camera, Viewer(camera))
            sessions.append(session)
            session.peers.append(await join(server.http, server.url, patient_token, [camera]))
            therapist = await join(server.http, server.url, therapist_token, [], session.viewer, "sendrecv")
            session.peers.append(therapist)
        deadline = time.monotonic() + args.connect_timeout
        while any(s.viewer.received < 10 for s in sessions):
            server.child.check()
            if time.monotonic() > deadline:
                got = [s.viewer.received for s in sessions]
                raise RuntimeError(f"{server.name}: video did not flow to every therapist (frames {got})")
            await asyncio.sleep(0.1)
        await asyncio.sleep(args.warmup)

        pids = {"server": server.child.pid} | ({"redis": rpid} if rpid else {})
        meter = LoadMeter(pids)
        received0 = [s.viewer.received for s in sessions]
        sent0 = [s.camera.sent for s in sessions]
        meter.start()
        t0 = time.monotonic()
        await asyncio.sleep(args.seconds)
        t1 = time.monotonic()
        load = meter.stop()
        received = [s.viewer.received - r for s, r in zip(sessions, received0, strict=True)]
        sent = [s.camera.sent - c for s, c in zip(sessions, sent0, strict=True)]
        server.child.check()
    finally:
        for session in sessions:
            for peer in session.peers:
                await peer.close()
            session.camera.stop()
            try:
                await server.end(session.sid, session.therapist_token)
            except TimeoutError:
                server.end_timeouts += 1
                print(f"  ! {server.name} did not confirm the end of session {session.sid} in 10 s")
            except (aiohttp.ClientError, OSError) as exc:
                print(f"  ! {server.name}: ending session {session.sid} failed: {exc}")
    await asyncio.sleep(1.0)  # let the server tear the connections down before the next level

    window = t1 - t0
    latencies = [
        lat * 1000 for s in sessions for when, lat in s.viewer.arrivals if t0 <= when < t1 and lat >= 0
    ]
    recv_fps = [r / window for r in received]
    server_pct = load["server_cores"] * 100
    frames = sum(received)
    return {
        "server": server.name,
        "sessions": n,
        "window_s": window,
        "server_cpu_percent": server_pct,
        "server_cpu_percent_per_session": server_pct / n,
        "server_cpu_ms_per_relayed_frame": load["server_cores"] * window * 1000 / frames if frames else None,
        "received_fps": {"mean": statistics.fmean(recv_fps), "min": min(recv_fps)},
        "sent_fps": statistics.fmean(x / window for x in sent),
        "camera_skipped": sum(s.camera.skipped for s in sessions),
        "unreadable_stamps": sum(s.viewer.unreadable for s in sessions),
        "latency_ms": latency_summary(latencies),
        "load_cores": load,
        "unconfirmed_session_ends_so_far": server.end_timeouts,
    }


def degraded(row: dict[str, Any], first: dict[str, Any], fps: float) -> bool:
    slow = row["received_fps"]["min"] < DEGRADED_FPS_SHARE * fps
    late = row["latency_ms"]["p95"] > DEGRADED_LATENCY_FACTOR * first["latency_ms"]["p95"]
    return bool(slow or late)


def generator_limited(row: dict[str, Any], fps: float) -> bool:
    """The patients themselves could not send the frame rate: the level says little."""
    return bool(row["sent_fps"] < DEGRADED_FPS_SHARE * fps)


async def run(args: argparse.Namespace, server_cpus: set[int] | None) -> list[dict[str, Any]]:
    from shared.connections import connect

    print("rendering the synthetic face …", flush=True)
    clip = face_clip()
    pictures = [to_yuv420p(img) for img in clip.moving]
    if pictures[0].shape != (args.height * 3 // 2, args.width):
        raise SystemExit("the synthetic face is 640x480; other sizes are not supported")

    log_dir = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    prefix = unique_prefix("relay")
    secret = "bench-" + uuid.uuid4().hex
    redis = connect(args.redis_url)
    rpid = await redis_pid(redis)
    servers: list[Server] = []
    results: list[dict[str, Any]] = []
    loop_signals()
    async with aiohttp.ClientSession() as http:
        try:
            for kind in args.servers:
                port = free_port()
                url = f"http://127.0.0.1:{port}"
                if kind == "gateway":
                    env = child_env(
                        {
                            "TELEREHAB_SECRET": secret,
                            "TELEREHAB_HOST": "127.0.0.1",
                            "TELEREHAB_PORT": str(port),
                            "REDIS_URL": args.redis_url,
                            "TELEREHAB_KEY_PREFIX": prefix,
                        }
                    )
                    child = Child("gateway", ["services.cli", "gateway"], env, log_dir, server_cpus)
                    gateway = GatewayServer(child, url, http, secret)
                    servers.append(gateway)
                    await gateway.wait_ready("/readyz", 60)
                else:
                    argv = ["benchmarks.plain_relay", "--port", str(port)]
                    child = Child("plain_relay", argv, child_env({}), log_dir, server_cpus)
                    plain = PlainServer(child, url, http)
                    servers.append(plain)
                    await plain.wait_ready("/healthz", 60)
            print(f"servers up (logs in {log_dir})", flush=True)
            for n in args.sessions:
                for server in servers:
                    level = functools.partial(run_level, server, n, pictures, args, rpid)
                    row = await quietest(level, args.max_other_load, args.retries)
                    results.append(row)
                    lat = row["latency_ms"]
                    print(
                        f"  {server.name}, {n} session(s): CPU {row['server_cpu_percent']:.0f}% "
                        f"({row['server_cpu_percent_per_session']:.0f}%/session), therapists get "
                        f"{row['received_fps']['mean']:.1f} fps (min {row['received_fps']['min']:.1f}), "
                        f"latency p50 {lat['p50']:.0f} / p95 {lat['p95']:.0f} ms",
                        flush=True,
                    )
            return results
        finally:
            for server in servers:
                server.child.stop()
            await drop_prefix(redis, prefix)
            await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", default="1,2,4", help="concurrent relayed sessions (default 1,2,4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per level (default 10)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after video flows (default 3)")
    parser.add_argument("--fps", type=float, default=30.0, help="patient camera frame rate (default 30)")
    parser.add_argument("--width", type=int, default=640, help=argparse.SUPPRESS)
    parser.add_argument("--height", type=int, default=480, help=argparse.SUPPRESS)
    parser.add_argument("--servers", default="gateway,plain", help="gateway,plain (default both)")
    cpus = available_cpus()
    parser.add_argument(
        "--server-cpu",
        type=int,
        default=cpus[-1],
        help=f"core for the server under test (default {cpus[-1]}); the peers get the others; -1: no pinning",
    )
    parser.add_argument("--connect-timeout", type=float, default=30.0, help="seconds for video to flow")
    add_noise_args(parser)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    debuggable()
    args.sessions = [int(x) for x in args.sessions.split(",") if x.strip()]
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if not set(args.servers) <= {"gateway", "plain"}:
        parser.error("--servers takes gateway and/or plain")

    from gateway.ice import configure_host_addresses

    configure_host_addresses(["127.0.0.1"])  # our peers: loopback candidates only, no STUN
    server_cpus, peer_cpus = split_cpus(args.server_cpu)
    if peer_cpus:
        pin_process(peer_cpus)
    results = run_async(run(args, server_cpus))

    first: dict[str, dict[str, Any]] = {}  # the smallest level of each server
    for r in results:
        if r["server"] not in first or r["sessions"] < first[r["server"]]["sessions"]:
            first[r["server"]] = r
    rows = []
    for r in results:
        lat = r["latency_ms"]
        rows.append(
            [
                r["server"],
                r["sessions"],
                r["server_cpu_percent"],
                r["server_cpu_percent_per_session"],
                r["server_cpu_ms_per_relayed_frame"] or float("nan"),
                r["sent_fps"],
                r["received_fps"]["mean"],
                r["received_fps"]["min"],
                lat["p50"],
                lat["p95"],
                lat["max"],
                r["load_cores"]["self_cores"],
                r["load_cores"]["others_cores"],
                "yes" if degraded(r, first[r["server"]], args.fps) else "no",
                "peers" if generator_limited(r, args.fps) else "",
            ]
        )
    print_table(
        f"Relay CPU, {args.width}x{args.height}@{args.fps:g} per session, {args.seconds:g} s windows, "
        f"server on CPU {sorted(server_cpus) if server_cpus else 'any'}, peers on "
        f"{sorted(peer_cpus) if peer_cpus else 'any'}",
        [
            "server",
            "sessions",
            "CPU %",
            "CPU %/session",
            "CPU ms/frame",
            "sent fps",
            "recv fps",
            "min recv",
            "lat p50 ms",
            "p95 ms",
            "max ms",
            "peers cores",
            "others cores",
            "degraded",
            "limited by",
        ],
        rows,
    )
    print(
        "  CPU: the server process, all threads, from /proc. 'peers cores': this process (both peers "
        "of every session). 'limited by peers': the patients could not even send the frame rate "
        "(the load generator, not the server, was short of CPU), so that level says little."
    )
    if any(generator_limited(r, args.fps) for r in results):
        print("  WARNING: some levels were limited by the load generator; see 'limited by'.")

    by_level: dict[int, dict[str, dict[str, Any]]] = {}
    for r in results:
        by_level.setdefault(r["sessions"], {})[r["server"]] = r
    parts = []
    ratios: dict[str, float] = {}
    for n, pair in sorted(by_level.items()):
        g, p = pair.get("gateway"), pair.get("plain MediaRelay")
        if g and p:
            ratio = g["server_cpu_percent_per_session"] / p["server_cpu_percent_per_session"]
            ratios[str(n)] = ratio
            parts.append(
                f"{n}: gateway {g['server_cpu_percent_per_session']:.0f}%/session vs plain "
                f"{p['server_cpu_percent_per_session']:.0f}% ({ratio:.2f}x), recv "
                f"{g['received_fps']['mean']:.0f} vs {p['received_fps']['mean']:.0f} fps"
            )
        else:
            only = g or p
            assert only is not None
            parts.append(f"{n}: {only['server']} {only['server_cpu_percent_per_session']:.0f}%/session")
    knee: dict[str, int | None] = {}
    phrases = []
    for name in first:
        mine = [r for r in results if r["server"] == name]
        valid = [r for r in mine if not generator_limited(r, args.fps)]
        bad = [r["sessions"] for r in valid if degraded(r, first[name], args.fps)]
        knee[name] = min(bad) if bad else None
        if bad:
            phrases.append(f"{name} degrades at {min(bad)}")
        elif valid:
            limited = " (larger levels limited by the load generator)" if len(valid) < len(mine) else ""
            phrases.append(f"{name} fine up to {max(r['sessions'] for r in valid)}{limited}")
        else:
            phrases.append(f"{name}: every level limited by the load generator")
    knees = ", ".join(phrases)
    print()
    print(f"relay_cpu: {'; '.join(parts)} — sessions per core: {knees}")
    write_json(
        args.json,
        {
            "benchmark": "relay_cpu",
            "machine": machine_info(),
            "config": {
                "sessions": args.sessions,
                "seconds": args.seconds,
                "warmup": args.warmup,
                "fps": args.fps,
                "size": [args.width, args.height],
                "server_cpus": sorted(server_cpus) if server_cpus else None,
                "peer_cpus": sorted(peer_cpus) if peer_cpus else None,
            },
            "results": results,
            "cpu_ratio_gateway_over_plain": ratios,
            "degrades_at_sessions": knee,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
