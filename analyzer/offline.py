"""``telerehab analyze VIDEO``: the live engine run over a recorded video file.

Frames are decoded with PyAV, downscaled like the live sampler's frames, and go through
exactly the path a live frame takes (``SessionAnalysis.analyse_image``): gating,
calibration on the first relaxed frames, the engine. The video must open with 1-2 s of a
relaxed, neutral face (the calibration). With no exercise named, every catalogue
exercise is counted side by side and the one with repetitions tried (else the one moved
furthest towards its target) is reported.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from analyzer.analysis import SessionAnalysis
from analyzer.engine import exercise_summary
from analyzer.exercise import ExerciseRecord, ExerciseTracker
from analyzer.landmarks import FaceMeshLandmarker, Landmarker
from analyzer.metrics import REGIONS, SIDE_BLIND_FEATURES, symmetry
from shared.exercises import get_exercise
from shared.messages import Command, Feedback

OFFLINE_SID = "offline-video"


class AnalyzeError(Exception):
    """A user-facing failure of ``telerehab analyze``; ``exit_code`` is the process status."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class VideoFrame:
    index: int
    t: float  # seconds from the start of the video
    rgb: npt.NDArray[np.uint8]


def read_video(path: Path, max_side: int) -> tuple[int | None, Iterator[VideoFrame]]:
    """(frame count if the container knows it, frames downscaled to ``max_side``)."""
    import av  # heavy; only the offline command needs it

    if not path.is_file():
        raise AnalyzeError(f"cannot read {path}: no such file")
    try:
        container = av.open(str(path))
        stream = container.streams.video[0]
    except (av.error.FFmpegError, IndexError, UnicodeDecodeError) as exc:
        raise AnalyzeError(f"cannot read {path}: not a video file this build can decode ({exc})") from None
    total = stream.frames or None
    if total is None and stream.duration and stream.time_base and stream.average_rate:
        total = int(float(stream.duration * stream.time_base) * float(stream.average_rate))
    fps = float(stream.average_rate or 30)
    stream.thread_type = "AUTO"

    def frames() -> Iterator[VideoFrame]:
        try:
            for i, frame in enumerate(container.decode(stream)):
                scale = min(1.0, max_side / max(frame.width, frame.height))
                w = max(2, int(frame.width * scale) // 2 * 2)
                h = max(2, int(frame.height * scale) // 2 * 2)
                rgb = np.asarray(frame.to_ndarray(width=w, height=h, format="rgb24"), dtype=np.uint8)
                t = float(frame.time) if frame.time is not None else i / fps
                yield VideoFrame(i, t, rgb)
        except av.error.FFmpegError as exc:
            raise AnalyzeError(f"cannot read {path}: the video is damaged ({exc})") from None
        finally:
            container.close()

    return total, frames()


class Progress:
    """Progress on stderr: a rewritten line on a terminal, a line per 10 % otherwise."""

    def __init__(self, total: int | None, out: TextIO = sys.stderr, label: str = "analysing") -> None:
        self.total, self.out, self.label = total, out, label
        self._tty = out.isatty()
        self._last_shown = 0.0
        self._last_decile = -1

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.total:
            pct = min(100, 100 * done // self.total)
            text = f"{self.label}: {pct:3d}% ({done}/{self.total} frames)"
            if self._tty:
                if now - self._last_shown >= 0.2:
                    self.out.write("\r" + text)
                    self._last_shown = now
            elif pct // 10 > self._last_decile:
                self._last_decile = pct // 10
                self.out.write(text + "\n")
        elif now - self._last_shown >= (0.2 if self._tty else 5.0):
            text = f"{self.label}: {done} frames"
            self.out.write("\r" + text if self._tty else text + "\n")
            self._last_shown = now
        self.out.flush()

    def finish(self, done: int) -> None:
        end = f"{self.label}: done, {done} frames"
        self.out.write(("\r" + end + " " * 20 + "\n") if self._tty else end + "\n")
        self.out.flush()


def _series_point(t: float, fb: Feedback) -> dict[str, Any]:
    point: dict[str, Any] = {"t": round(t, 3), "status": fb.status, "cues": fb.cues}
    if fb.status != "tracking":
        return point
    point["regions"] = {
        name: {"left": m.excursion.left, "right": m.excursion.right, "symmetry": m.symmetry}
        for name, m in fb.regions.items()
    }
    if fb.eye_aperture is not None:
        point["eye_aperture"] = {"left": fb.eye_aperture.left, "right": fb.eye_aperture.right}
    if fb.exercise is not None:
        ex = fb.exercise
        point["exercise"] = {
            "phase": ex.phase,
            "rep": ex.rep,
            "set": ex.set,
            "hold_s": ex.hold_s,
            "value": {"left": ex.value.left, "right": ex.value.right},
            "symmetry": ex.symmetry,
        }
    if fb.synkinesis is not None:
        synk = fb.synkinesis
        point["synkinesis"] = {"kind": synk.kind, "index": synk.index, "side": synk.side}
    return point


def _peak(values: list[float]) -> float:
    """A robust peak (95th percentile), so one bad frame cannot make the number."""
    return float(np.percentile(values, 95)) if values else 0.0


def _exercise_figures(tracker: ExerciseTracker, values: dict[str, list[float]]) -> dict[str, Any]:
    record: ExerciseRecord = tracker.record
    summary = exercise_summary(record)
    floor = tracker.noise_floor
    peaks = {side: _peak(values[side]) for side in ("left", "right")}
    side_blind = tracker.spec.measure in SIDE_BLIND_FEATURES
    index: float | None
    weaker: str | None
    if side_blind:
        index, weaker = None, None
    elif summary.symmetry is not None:  # the median over counted holds
        index = summary.symmetry
        votes = Counter(record.weaker)
        weaker = votes.most_common(1)[0][0] if votes and index < 0.9 else None
    else:
        index, weaker = symmetry(peaks["left"], peaks["right"], floor)
    return {
        "exercise": tracker.spec.name,
        "symmetry": None if index is None else round(index, 3),
        "affected_side": weaker,
        "sides_compared": not side_blind,
        "reps": record.reps,
        "attempts": record.attempts,
        "sets": record.sets,
        "mean_hold_s": summary.mean_hold_s,
        "quality": summary.quality,
        "synkinesis": summary.synkinesis if summary.synkinesis is not None else 0.0,
        "target": {"measure": tracker.spec.measure, "unit": tracker.spec.unit, "target": tracker.spec.target},
        "peak": {side: round(v, 3) for side, v in peaks.items()},
    }


def analyze(
    path: Path,
    exercise: str | None = None,
    *,
    max_side: int = 320,
    landmarker: Landmarker | None = None,
    progress: Callable[[int | None], Progress] | None = None,
) -> dict[str, Any]:
    """Analyse a video file; returns the JSON-able report (see the README for its fields)."""
    spec = get_exercise(exercise) if exercise else None  # CatalogueError before any decoding
    total, frames = read_video(path, max_side)
    analysis = SessionAnalysis(OFFLINE_SID, "offline", landmarker or FaceMeshLandmarker())
    if spec is not None:
        start = Command(sid=OFFLINE_SID, command="start_exercise", issued_ms=0, exercise=spec.name)
        analysis.apply(start, "0-0")
    bar = progress(total) if progress else None
    series: list[dict[str, Any]] = []
    statuses: Counter[str] = Counter()
    region_values: dict[str, dict[str, list[float]]] = {r: {"left": [], "right": []} for r in REGIONS}
    target_values: dict[str, dict[str, list[float]]] = {}
    count = 0
    duration = 0.0
    try:
        for frame in frames:
            fb = analysis.analyse_image(frame.rgb, frame.index, int(round(frame.t * 1000)))
            engine = analysis.engine
            if engine is not None and spec is None and not engine.observers:
                engine.observe_all()
            count += 1
            duration = frame.t
            statuses[fb.status] += 1
            series.append(_series_point(frame.t, fb))
            if fb.status == "tracking" and engine is not None:
                for name, m in fb.regions.items():
                    region_values[name]["left"].append(m.excursion.left)
                    region_values[name]["right"].append(m.excursion.right)
                trackers = engine.observers or ([engine.tracker] if engine.tracker else [])
                for tracker in trackers:
                    v = target_values.setdefault(tracker.spec.name, {"left": [], "right": []})
                    left, right = tracker.amount(engine.last_features)
                    v["left"].append(left)
                    v["right"].append(right)
            if bar is not None:
                bar.update(count)
    finally:
        analysis.close()
    if bar is not None:
        bar.finish(count)
    if count == 0:
        raise AnalyzeError(f"cannot read {path}: the video holds no frames")
    engine = analysis.engine
    if engine is None:
        raise AnalyzeError(
            f"no face found in {path}: no steady, well-lit, frontal face for the first seconds "
            f"(frames: {dict(statuses)})",
            exit_code=3,
        )

    if spec is not None:
        assert engine.tracker is not None
        chosen = engine.tracker
    else:
        # The exercise with tried repetitions, then the one moved furthest towards its
        # target (noise in one measure must not outrank a real, if small, movement).
        chosen = max(
            engine.observers, key=lambda tr: (tr.record.attempts > 0, engine.peaks.get(tr.spec.name, 0.0))
        )
    figures = _exercise_figures(chosen, target_values.get(chosen.spec.name, {"left": [], "right": []}))
    regions: dict[str, Any] = {}
    floor = engine.config.noise_floor_mm
    for name, sides in region_values.items():
        peak_l, peak_r = _peak(sides["left"]), _peak(sides["right"])
        index, weaker = symmetry(peak_l, peak_r, floor)
        regions[name] = {
            "left_mm": round(peak_l, 2),
            "right_mm": round(peak_r, 2),
            "symmetry": None if index is None else round(index, 3),
            "weaker": weaker,
        }
    resting = engine.resting
    summary = {
        **figures,
        "exercise_detected": spec is None,
        "resting_asymmetry_mm": {"brow": resting.brow_mm, "eye": resting.eye_mm, "mouth": resting.mouth_mm},
        "regions": regions,
    }
    fps = (count - 1) / duration if duration > 0 and count > 1 else None
    return {
        "video": str(path),
        "frames": count,
        "tracked": statuses.get("tracking", 0),
        "statuses": dict(statuses),
        "duration_s": round(duration, 3),
        "fps": None if fps is None or not math.isfinite(fps) else round(fps, 2),
        "summary": summary,
        "series": series,
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as a few lines of plain text for a person at a terminal."""
    s = report["summary"]
    side = s["affected_side"] or "none (symmetric)"
    sym = "n/a" if s["symmetry"] is None else f"{s['symmetry']:.2f}"
    rest = s["resting_asymmetry_mm"]
    lines = [
        f"{report['video']}: {report['frames']} frames, {report['duration_s']:.1f} s, "
        f"{report['tracked']} tracked",
        f"exercise: {s['exercise']}{' (detected)' if s['exercise_detected'] else ''}",
        f"repetitions: {s['reps']} counted of {s['attempts']} tried",
        f"symmetry: {sym}   weaker side: {side}   synkinesis: {s['synkinesis']:.2f}",
        f"resting asymmetry (left - right, mm): brow {rest['brow']:+.1f}, eye {rest['eye']:+.1f}, "
        f"mouth {rest['mouth']:+.1f}",
    ]
    for name, r in s["regions"].items():
        lines.append(f"  {name:6s} left {r['left_mm']:5.1f} mm  right {r['right_mm']:5.1f} mm")
    return "\n".join(lines)
