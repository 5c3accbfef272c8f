"""Helpers the benchmarks share: CPU pinning and accounting, child processes, Redis
clean-up, the synthetic face clip, tables and JSON results."""

from __future__ import annotations

import asyncio
import faulthandler
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from testkit.net import free_port as free_port  # one definition, shared with the tests

# MediaPipe / TensorFlow Lite start-up chatter; must be set before they are imported.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

Image = npt.NDArray[np.uint8]
T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- running a benchmark ----------------------------------------------------------------


def debuggable() -> None:
    """``kill -USR1 <pid>`` prints every thread's stack: for a run that seems stuck.
    SIGTERM (e.g. from ``timeout``) ends the run like Ctrl-C, so its clean-up runs:
    services stopped, Redis keys deleted."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def loop_signals() -> None:
    """Inside the event loop: SIGTERM cancels the run's main task (so its clean-up runs
    as for Ctrl-C), and ``kill -USR2 <pid>`` prints every asyncio task's stack."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def dump() -> None:
        for task in asyncio.all_tasks():
            print(f"--- {task.get_name()}", file=sys.stderr)
            task.print_stack(file=sys.stderr)

    loop.add_signal_handler(signal.SIGUSR2, dump)
    if main is not None:
        loop.add_signal_handler(signal.SIGTERM, main.cancel)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` that turns Ctrl-C / SIGTERM into a short message and exit 130
    once the run has cleaned up after itself."""
    try:
        return asyncio.run(coro)
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted; services stopped and Redis keys deleted", file=sys.stderr)
        raise SystemExit(130) from None


async def stop_tasks(tasks: Sequence[asyncio.Task[Any]], timeout_s: float = 10.0) -> None:
    """Cancel ``tasks`` and wait for them to end.

    On Python 3.11 a cancellation can be lost inside redis-py: ``asyncio.wait_for`` (used
    to send every command) returns the inner result and drops the cancel when both land in
    the same loop iteration, and the task goes on with its next command. So cancel again
    until each task has ended. Unlike ``suppress(CancelledError)`` around ``await task``,
    a cancellation of the caller itself still propagates."""
    pending = {t for t in tasks if not t.done()}
    deadline = time.monotonic() + timeout_s
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=0.5)
        if pending and time.monotonic() > deadline:
            names = ", ".join(t.get_name() for t in pending)
            raise RuntimeError(f"tasks still running {timeout_s:.0f} s after cancel: {names}")


# -- CPUs -------------------------------------------------------------------------------


def available_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def pin_process(cpus: Iterable[int]) -> None:
    """Pin every thread of this process (those that exist now, and so every thread they
    start later) to ``cpus``."""
    chosen = set(cpus)
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), chosen)
        except (ProcessLookupError, PermissionError):  # a thread that just ended
            continue


def split_cpus(measured: int | None) -> tuple[set[int] | None, set[int] | None]:
    """(cpus for the measured process, cpus for everything else) given the chosen core;
    (None, None) when pinning is off (``measured`` is None or negative) or impossible."""
    cpus = available_cpus()
    if measured is None or measured < 0:
        return None, None
    if measured not in cpus:
        raise SystemExit(f"CPU {measured} is not available to this process (have {cpus})")
    rest = set(cpus) - {measured}
    return {measured}, (rest or {measured})


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        stat = fh.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def self_cpu_seconds() -> float:
    return time.process_time()


# -- other load on the machine ----------------------------------------------------------


def system_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


class LoadMeter:
    """CPU used during a window by the processes we know (this one, the services we
    started, Redis) and by everything else on the machine — other people's work that
    makes a run noisy. ``others_cores`` is that foreign load in cores (1.0 = one core)."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)
        self._t0 = 0.0
        self._busy0 = 0.0
        self._cpu0: dict[str, float] = {}

    def _cpu(self) -> dict[str, float]:
        out = {"self": self_cpu_seconds()}
        for name, pid in self.pids.items():
            try:
                out[name] = proc_cpu_seconds(pid)
            except OSError:  # ended, or not on this machine
                out[name] = 0.0
        return out

    def start(self) -> None:
        self._t0, self._busy0, self._cpu0 = time.monotonic(), system_busy_seconds(), self._cpu()

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._t0
        busy = system_busy_seconds() - self._busy0
        used = {name: secs - self._cpu0.get(name, 0.0) for name, secs in self._cpu().items()}
        out = {f"{name}_cores": secs / wall for name, secs in used.items()}
        out["others_cores"] = max(0.0, busy - sum(used.values())) / wall
        out["wall_s"] = wall
        return out


def add_noise_args(parser: Any) -> None:
    parser.add_argument(
        "--max-other-load",
        type=float,
        default=0.25,
        help="repeat a level when other processes used more than this many cores meanwhile (default 0.25)",
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="repeats of a level disturbed by other load (default 2)"
    )


async def quietest(
    attempt: Callable[[], Awaitable[dict[str, Any]]], limit: float, retries: int
) -> dict[str, Any]:
    """Run ``attempt`` (a result with a ``load_cores`` from ``LoadMeter``) until other
    processes used at most ``limit`` cores meanwhile, at most ``1 + retries`` times; the
    quietest result, with how many attempts it took."""
    tries: list[dict[str, Any]] = []
    for n in range(1 + max(0, retries)):
        tries.append(await attempt())
        other = float(tries[-1]["load_cores"]["others_cores"])
        if other <= limit:
            break
        if n < retries:
            print(f"  … other processes used {other:.2f} cores meanwhile; repeating", flush=True)
    best = min(tries, key=lambda r: float(r["load_cores"]["others_cores"]))
    best["attempts"] = len(tries)
    return best


async def redis_pid(redis: Any) -> int | None:
    """The Redis server's pid, when it runs on this machine (for its CPU time)."""
    info = await redis.info("server")
    pid = int(info.get("process_id", 0))
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return pid if "redis" in fh.read() else None
    except OSError:
        return None


# -- child processes --------------------------------------------------------------------


def unique_prefix(name: str) -> str:
    return f"bench-{name}-{uuid.uuid4().hex[:8]}"


def child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "GLOG_minloglevel": "2",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            # Never any STUN: host candidates on loopback only.
            "TELEREHAB_ICE_SERVERS": "",
            "TELEREHAB_ICE_HOSTS": "127.0.0.1",
        }
    )
    env.update(overrides)
    return env


class Child:
    """A service started as ``python -m ...`` with its output in a log file."""

    def __init__(
        self,
        name: str,
        module_args: Sequence[str],
        env: Mapping[str, str],
        log_dir: Path,
        cpus: set[int] | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        argv = [sys.executable, "-m", *module_args]
        if cpus and shutil.which("taskset"):
            # taskset execs the command: the pid stays the service's own.
            argv = ["taskset", "-c", ",".join(str(c) for c in sorted(cpus)), *argv]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv, env=dict(env), cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.proc.pid)

    def check(self) -> None:
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


# -- Redis ------------------------------------------------------------------------------


async def drop_prefix(redis: Any, prefix: str) -> int:
    """Delete every key under ``prefix:``; returns how many there were."""
    count = 0
    async for key in redis.scan_iter(match=f"{prefix}:*", count=500):
        await redis.delete(key)
        count += 1
    return count


# -- the synthetic face -----------------------------------------------------------------


@dataclass(frozen=True)
class FaceClip:
    """A real face photo (640x480 RGB) at rest, and a loop of it moving: asymmetric
    smiles and brow lifts with a little head motion, as a patient's exercise would."""

    neutral: Image
    moving: list[Image]


def face_clip(period: int = 60) -> FaceClip:
    from testkit.synthetic import Movement, SyntheticFace, astronaut_face

    face = SyntheticFace(astronaut_face())
    frames: list[Image] = []
    for k in range(period):
        phase = 2 * math.pi * k / period
        lift = (1 - math.cos(phase)) / 2  # 0 → 1 → 0 over the loop
        move = Movement(
            smile_left=round(12 * lift, 1),
            smile_right=round(5 * lift, 1),
            brow_left=round(4 * (1 - math.cos(2 * phase)) / 2, 1),
            brow_right=round(2 * (1 - math.cos(2 * phase)) / 2, 1),
        )
        shift = (round(3 * math.sin(phase), 2), round(2 * math.sin(2 * phase), 2))
        frames.append(face.render(move, shift=shift, angle_deg=round(2 * math.sin(phase), 2)))
    return FaceClip(neutral=face.render(Movement()), moving=frames)


def downscale(image: Image, max_side: int = 320) -> Image:
    """Like the gateway's sampler: the long side down to ``max_side``, even sizes."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(w, h))
    width, height = max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2)
    return np.ascontiguousarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))


# -- numbers and output -----------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else math.nan


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "p50": math.nan, "p95": math.nan, "p99": math.nan, "max": math.nan, "mean": math.nan}
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "p99": pct(values, 99),
        "max": float(max(values)),
        "mean": float(np.mean(values)),
    }


def fmt(value: object, digits: int = 1) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:,.{digits}f}"
    return str(value)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print()
    print(title)
    print(
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    )
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def write_json(path: str | None, data: Mapping[str, Any]) -> None:
    if not path:
        return
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_jsonable(data), indent=2) + "\n")
    print(f"results written to {out}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpus_available": available_cpus(),
        "loadavg_1m": os.getloadavg()[0],
        "python": sys.version.split()[0],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
