"""``telerehab analyze VIDEO``: the live engine run over a recorded video file.

Frames are decoded with PyAV (at up to 640 px) and go through exactly the path a live
frame takes (``SessionAnalysis.analyse_image``): gating, calibration, the engine. The
neutral face is found in the clip itself (``analyzer.neutral``: the calm frames at the
lowest activation, wherever they are), or given with ``--neutral START-END``. With no
exercise named, every catalogue
exercise is counted side by side and the one with repetitions tried (else the one moved
furthest towards its target) is reported.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import msgspec
import numpy as np
import numpy.typing as npt

from analyzer.analysis import SessionAnalysis, gate, prepare
from analyzer.baseline import Baseline
from analyzer.cues import GateLimits
from analyzer.engine import FaceEngine, exercise_summary
from analyzer.exercise import ExerciseRecord, ExerciseTracker
from analyzer.landmark_model import make_landmarker
from analyzer.landmarks import FloatArray, Landmarker, Landmarks, Primable
from analyzer.metrics import REGIONS, symmetry
from analyzer.neutral import baseline_of, candidates, pick_neutral
from analyzer.pixel_motion import Gray, to_gray
from shared.exercises import ExerciseSpec, get_exercise
from shared.messages import Command, Feedback

OFFLINE_SID = "offline-video"
# A recorded file is read at up to 640 px (the live sampler sends 320): the pixel
# tracker (analyzer.pixel_motion) sees the lids and corners in more detail.
OFFLINE_MAX_SIDE = 640


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


def read_video(path: Path, max_side: int) -> tuple[int | None, Generator[VideoFrame, None, None]]:
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

    def frames() -> Generator[VideoFrame, None, None]:
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


def _stretches(indices: list[int], times: list[float], gap_s: float = 0.5) -> list[list[float]]:
    """The frames the neutral was made of, as [start, end] seconds per stretch (frames
    less than ``gap_s`` apart belong to one stretch)."""
    out: list[list[float]] = []
    for i in indices:
        t = round(times[i], 3)
        if out and t - out[-1][1] <= gap_s:
            out[-1][1] = t
        else:
            out.append([t, t])
    return out


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


def _exercise_figures(
    tracker: ExerciseTracker, values: dict[str, list[float]], unmeasured: dict[str, str]
) -> dict[str, Any]:
    record: ExerciseRecord = tracker.record
    summary = exercise_summary(record)
    floor = tracker.noise_floor
    peaks = {side: _peak(values[side]) for side in ("left", "right")}
    index: float | None
    weaker: str | None
    if summary.symmetry is not None:  # the median over counted holds
        index = summary.symmetry
        votes = Counter(record.weaker)
        weaker = votes.most_common(1)[0][0] if votes and index < 0.9 else None
    else:
        index, weaker = symmetry(peaks["left"], peaks["right"], floor)
    if tracker.spec.measure in unmeasured:  # no number, the reason instead
        index, weaker = None, None
    return {
        "exercise": tracker.spec.name,
        "symmetry": None if index is None else round(index, 3),
        "affected_side": weaker,
        "sides_compared": tracker.spec.measure not in unmeasured,  # read per side from the pixels
        "reps": record.reps,
        "attempts": record.attempts,
        "sets": record.sets,
        "mean_hold_s": summary.mean_hold_s,
        "quality": summary.quality,
        "synkinesis": summary.synkinesis if summary.synkinesis is not None else 0.0,
        "target": {"measure": tracker.spec.measure, "unit": tracker.spec.unit, "target": tracker.spec.target},
        "peak": {side: round(v, 3) for side, v in peaks.items()},
    }


class ReplayLandmarker:
    """Hands back the landmarks found in the first pass, frame by frame (FaceMesh runs
    once per frame even though the clip is read again)."""

    def __init__(self, recorded: list[Landmarks | None]) -> None:
        self.recorded = recorded
        self.index = 0

    def detect(self, image: npt.NDArray[np.uint8]) -> Landmarks | None:
        return self.recorded[self.index]

    def close(self) -> None:
        pass


def parse_span(text: str) -> tuple[float, float]:
    """``START-END`` in seconds (``--neutral 0-1.5``)."""
    try:
        start, end = (float(v) for v in text.split("-", 1))
    except ValueError:
        raise AnalyzeError(f"--neutral wants START-END in seconds, e.g. 0-1.5, not {text!r}") from None
    if not 0 <= start < end:
        raise AnalyzeError(f"--neutral {text}: START must be at least 0 and before END")
    return start, end


REST = "rest"  # ``--exercise rest``: a clip of the face at rest, for twitches (hemifacial spasm)
REST_FIGURES: dict[str, Any] = {
    "exercise": REST,
    "symmetry": None,
    "affected_side": None,
    "sides_compared": False,
    "reps": 0,
    "attempts": 0,
    "sets": 0,
    "mean_hold_s": 0.0,
    "quality": 0.0,
    "synkinesis": 0.0,
    "target": {"measure": None, "unit": None, "target": None},
    "peak": {},
}


def analyze(
    path: Path,
    exercise: str | None = None,
    *,
    max_side: int = OFFLINE_MAX_SIDE,
    landmarker: Landmarker | None = None,
    progress: Callable[..., Progress] | None = None,
    neutral: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Analyse a video file; returns the JSON-able report (see the README for its fields).

    Three reads of the file: landmarks for every frame (FaceMesh, the costly part), the
    pixels of the frames the neutral may be made of (``analyzer.neutral``, or the
    ``neutral`` seconds given), then every frame through the live path. A landmarker
    that learns per face (``Primable``: the tracked one) learns on the neutral frames
    found, as a live session's calibration teaches it, and the landmarks are read once
    more before measuring.
    """
    at_rest = exercise == REST  # the face still throughout: twitches are counted
    spec = get_exercise(exercise) if exercise and not at_rest else None  # CatalogueError before decoding
    gates = GateLimits()
    mesh = landmarker or make_landmarker()
    try:
        faces = _find_faces(path, max_side, mesh, gates, progress)
        baseline, neutral_idx, seen = _find_neutral(path, max_side, faces, gates, spec, neutral)
        if neutral_idx and isinstance(mesh, Primable) and mesh.prime([seen.rgb[i] for i in neutral_idx]):
            faces = _find_faces(path, max_side, mesh, gates, progress, label="reading the face again")
            neutral_idx = [i for i in neutral_idx if faces.usable[i] is not None]
            baseline = baseline_of(neutral_idx, faces.usable, seen.gray) if neutral_idx else None
    finally:
        mesh.close()

    replay = ReplayLandmarker(faces.recorded)
    analysis = SessionAnalysis(OFFLINE_SID, "offline", replay)
    if spec is not None:
        start = Command(sid=OFFLINE_SID, command="start_exercise", issued_ms=0, exercise=spec.name)
        analysis.apply(start, "0-0")
    if baseline is not None:
        analysis.use_baseline(baseline)
    measured = _Measured()
    bar = progress(faces.total or len(faces.recorded), label="measuring") if progress else None
    _, frames = read_video(path, max_side)
    try:
        for frame in frames:
            replay.index = frame.index
            fb = analysis.analyse_image(frame.rgb, frame.index, int(round(frame.t * 1000)))
            if analysis.engine is not None and at_rest and not analysis.engine.watching:
                analysis.engine.watch_rest()
            if analysis.engine is not None and spec is None and not at_rest and not analysis.engine.observers:
                analysis.engine.observe_all()
            measured.add(frame.t, fb, analysis.engine)
            if bar is not None:
                bar.update(frame.index + 1)
    finally:
        analysis.close()
    if bar is not None:
        bar.finish(len(faces.recorded))
    engine = analysis.engine
    if engine is None:
        raise AnalyzeError(
            f"no face found in {path}: FaceMesh found no steady, frontal face to take as the neutral "
            f"(frames: {dict(measured.statuses)})",
            exit_code=3,
        )
    summary = {
        **measured.summary(engine, spec is not None, at_rest),
        "neutral_s": _stretches(neutral_idx, faces.times),
    }
    count, duration = len(faces.recorded), measured.duration
    fps = (count - 1) / duration if duration > 0 and count > 1 else None
    return {
        "video": str(path),
        "frames": count,
        "tracked": measured.statuses.get("tracking", 0),
        "statuses": dict(measured.statuses),
        "duration_s": round(duration, 3),
        "fps": None if fps is None or not math.isfinite(fps) else round(fps, 2),
        "summary": summary,
        "series": measured.series,
    }


@dataclass(frozen=True, slots=True)
class _Faces:
    """The first read: FaceMesh's answer for every frame, and when each frame is."""

    total: int | None  # frames the container announced
    recorded: list[Landmarks | None]
    times: list[float]
    usable: list[FloatArray | None]  # landmarks of the frames the live path would measure


def _find_faces(
    path: Path,
    max_side: int,
    mesh: Landmarker,
    gates: GateLimits,
    progress: Callable[..., Progress] | None,
    label: str = "finding the face",
) -> _Faces:
    recorded: list[Landmarks | None] = []
    times: list[float] = []
    total, frames = read_video(path, max_side)
    bar = progress(total, label=label) if progress else None
    try:
        for frame in frames:
            image, _ = prepare(frame.rgb, gates)
            recorded.append(mesh.detect(image))
            times.append(frame.t)
            if bar is not None:
                bar.update(len(recorded))
    finally:
        frames.close()
    if bar is not None:
        bar.finish(len(recorded))
    if not recorded:
        raise AnalyzeError(f"cannot read {path}: the video holds no frames")
    # Landmarks of the frames the live path would measure (frontal, inside the picture).
    usable = [lm.points if lm is not None and gate(lm, gates)[1] is None else None for lm in recorded]
    return _Faces(total, recorded, times, usable)


def _find_neutral(
    path: Path,
    max_side: int,
    faces: _Faces,
    gates: GateLimits,
    spec: ExerciseSpec | None,
    neutral: tuple[float, float] | None,
) -> tuple[Baseline | None, list[int], _Seen]:
    """The second read: the neutral baseline, from the ``neutral`` seconds given or found
    in the clip (``analyzer.neutral``), the frames it was made of, and the pixels read."""
    found = None
    if neutral is not None:
        given = [
            i
            for i, t in enumerate(faces.times)
            if neutral[0] <= t <= neutral[1] and faces.usable[i] is not None
        ]
        if not given:
            raise AnalyzeError(
                f"--neutral {neutral[0]:g}-{neutral[1]:g}: no frame with a steady, frontal face there",
                exit_code=3,
            )
        wanted = set(given[:: max(1, len(given) // 20)][:20])
    else:
        found = candidates(faces.usable, spec.measure if spec else None)
        wanted = set(found.frames)
    seen = _Seen()
    if not wanted:
        return None, [], seen
    last = max(wanted)
    _, frames = read_video(path, max_side)
    for frame in frames:
        if frame.index in wanted:
            image = prepare(frame.rgb, gates)[0]
            seen.rgb[frame.index] = image
            seen.gray[frame.index] = to_gray(image)
        if frame.index >= last:
            break
    frames.close()
    if found is None:
        chosen = sorted(seen.gray)
        return baseline_of(chosen, faces.usable, seen.gray), chosen, seen
    baseline, chosen = pick_neutral(found, faces.usable, seen.gray)
    return baseline, chosen, seen


@dataclass
class _Seen:
    """The pixels of the frames the neutral may be made of (at most 60: the candidates),
    kept for the baseline and for priming the landmarker; nothing else of the clip."""

    rgb: dict[int, npt.NDArray[np.uint8]] = field(default_factory=dict)
    gray: dict[int, Gray] = field(default_factory=dict)


@dataclass
class _Measured:
    """The third read's frame-by-frame results, gathered for the summary."""

    series: list[dict[str, Any]] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    regions: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: {r: {"left": [], "right": []} for r in REGIONS}
    )
    targets: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    synkinesis_sides: Counter[str] = field(default_factory=Counter)
    duration: float = 0.0

    def add(self, t: float, fb: Feedback, engine: FaceEngine | None) -> None:
        self.duration = t
        self.statuses[fb.status] += 1
        self.series.append(_series_point(t, fb))
        if fb.status != "tracking" or engine is None:
            return
        for name, m in fb.regions.items():
            self.regions[name]["left"].append(m.excursion.left)
            self.regions[name]["right"].append(m.excursion.right)
        for tracker in engine.observers or ([engine.tracker] if engine.tracker else []):
            values = self.targets.setdefault(tracker.spec.name, {"left": [], "right": []})
            left, right = tracker.amount(engine.last_features)
            values["left"].append(left)
            values["right"].append(right)
        if fb.synkinesis is not None and fb.synkinesis.side is not None and fb.synkinesis.index > 0:
            self.synkinesis_sides[fb.synkinesis.side] += 1

    def summary(self, engine: FaceEngine, named: bool, at_rest: bool = False) -> dict[str, Any]:
        if at_rest:
            figures = dict(REST_FIGURES)
        else:
            if named:
                assert engine.tracker is not None
                chosen = engine.tracker
            else:
                # The exercise with tried repetitions, then the one moved furthest towards
                # its target (noise in one measure must not outrank a real, if small, one).
                chosen = max(
                    engine.observers,
                    key=lambda tr: (tr.record.attempts > 0, engine.peaks.get(tr.spec.name, 0.0)),
                )
            figures = _exercise_figures(
                chosen, self.targets.get(chosen.spec.name, {"left": [], "right": []}), engine.unmeasured
            )
        spasms = engine.spasm.summary()
        regions: dict[str, Any] = {}
        for name, sides in self.regions.items():
            peak_l, peak_r = _peak(sides["left"]), _peak(sides["right"])
            index, weaker = symmetry(peak_l, peak_r, engine.config.noise_floor_mm)
            regions[name] = {
                "left_mm": round(peak_l, 2),
                "right_mm": round(peak_r, 2),
                "symmetry": None if index is None else round(index, 3),
                "weaker": weaker,
            }
        resting = engine.resting
        return {
            **figures,
            "synkinesis_side": self.synkinesis_sides.most_common(1)[0][0] if self.synkinesis_sides else None,
            "exercise_detected": not named and not at_rest,
            "spasms": msgspec.to_builtins(spasms) if spasms is not None else None,
            "resting_asymmetry_mm": {
                "brow": resting.brow_mm,
                "eye": resting.eye_mm,
                "mouth": resting.mouth_mm,
            },
            "regions": regions,
            "not_measured": dict(engine.unmeasured),  # measure -> why it has no number
        }


def format_report(report: dict[str, Any]) -> str:
    """The report as a few lines of plain text for a person at a terminal."""
    s = report["summary"]
    unmeasured = s.get("not_measured", {})
    side = s["affected_side"] or "none (symmetric)"
    if s["target"]["measure"] in unmeasured or s["exercise"] == REST:
        side = "not measured"
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
    spasms = s.get("spasms")
    if spasms:
        lines.append(
            f"twitches at rest: {spasms['count']} (left {spasms['left']}, right {spasms['right']}; "
            f"eye {spasms['eye']}, mouth {spasms['mouth']}), {spasms['total_s']:.1f} s in all"
        )
    elif s["exercise"] == REST:
        lines.append("twitches at rest: none")
    lines.extend(unmeasured.values())
    return "\n".join(lines)
