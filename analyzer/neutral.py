"""Finding the neutral face in a recorded clip (``telerehab analyze``).

A live session calibrates on 20 relaxed frames while the page asks for a relaxed face.
A recorded clip has no such moment on cue: it may open with half a second of rest, or
only come to rest at the end. So the clip itself decides: the neutral is made of *calm*
stretches (the face barely moving from one frame to the next, ``calm_runs``) at the
*lowest activation* of the clip's main movement (the exercise's measure, or, with no
exercise named, the measure that varies most against its target), since every exercise
moves away from rest in its measure's positive direction. The landmarks find the calm
stretches and make a first guess; the pixels, measured as the engine measures them,
make the choice (``pick_neutral``): FaceMesh's eyes follow its shape prior, and on a
blurry face it can see a closed eye as the more open one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analyzer.alignment import align
from analyzer.baseline import Baseline, Calibration
from analyzer.face_points import BROW, EYELIDS, MOUTH_CORNER, SIDES
from analyzer.landmarks import FloatArray
from analyzer.metrics import FEATURES, Neutral, measure, mm_per_unit
from analyzer.pixel_motion import Gray
from shared.exercises import load_catalogue

MOVING = np.array(
    [
        *(i for side in SIDES for i in BROW[side]),
        *(i for side in SIDES for i in MOUTH_CORNER[side]),
        *(i for side in SIDES for pair in EYELIDS[side] for i in pair),
    ]
)
MIN_FRAMES = 3  # a stretch of rest, not one odd frame
SAMPLES_PER_RUN = 8  # frames of a calm run whose pixels are read
NEUTRAL_TOLERANCE = 0.3  # of the measure's catalogue target: runs this close count as rest


def _targets() -> dict[str, float]:
    """The smallest catalogue target of each measure: what 'a real movement' is."""
    out: dict[str, float] = {}
    for spec in load_catalogue().values():
        out[spec.measure] = min(out.get(spec.measure, spec.target), spec.target)
    return out


def _runs(indices: npt.NDArray[np.intp], length: int) -> list[npt.NDArray[np.intp]]:
    """The runs of at least ``length`` consecutive indices."""
    if len(indices) == 0:
        return []
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    return [run for run in np.split(indices, breaks) if len(run) >= length]


@dataclass(frozen=True, slots=True)
class Candidates:
    """Stretches of calm frames that may be the neutral, and the measure to rank them by."""

    runs: list[list[int]]  # frame indices, most likely neutral first (landmarks' guess)
    measure: str


def calm_runs(
    points: Sequence[FloatArray | None], measure_name: str | None = None, max_runs: int = 16
) -> Candidates:
    """Runs of calm frames (the face barely moving from frame to frame), ranked by the
    landmarks' reading of the measure, lowest first. FaceMesh's eyes and corners follow
    its shape prior, so this ranking is only a first guess; ``pick_neutral`` decides."""
    valid = [i for i, p in enumerate(points) if p is not None]
    if not valid:
        return Candidates([], measure_name or "smile")
    if len(valid) <= MIN_FRAMES:
        return Candidates([valid], measure_name or "smile")
    ref = points[valid[0]]
    assert ref is not None
    aligned = np.stack([align(points[i], ref) for i in valid])  # type: ignore[arg-type]
    iod = float(np.linalg.norm(ref[263, :2] - ref[33, :2])) or 1.0
    moving = aligned[:, MOVING, :2]
    step = np.r_[0.0, np.linalg.norm(np.diff(moving, axis=0), axis=2).mean(axis=1)] / iod
    # A frame is calm when it and its neighbours barely move (a ramp is not rest).
    padded = np.pad(step, 1, mode="edge")
    speed = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
    calm = speed <= max(float(np.median(speed)), 0.004)

    neutral = Neutral.of(ref, mm_per_unit(ref))
    frames = [measure(a, neutral).features for a in aligned]
    targets = _targets()
    if measure_name is None:
        spread = {
            f: float(np.ptp([(fr[f]["left"] + fr[f]["right"]) / 2 for fr in frames])) / targets.get(f, 1.0)
            for f in FEATURES
        }
        measure_name = max(spread, key=lambda f: spread[f])
    level = np.array([(fr[measure_name]["left"] + fr[measure_name]["right"]) / 2 for fr in frames])
    calm_idx = np.flatnonzero(calm)
    runs = _runs(calm_idx, MIN_FRAMES)
    if not runs:  # nothing calm for long: the least active frames
        runs = [np.sort(np.argsort(level)[:MIN_FRAMES])]
    runs.sort(key=lambda run: float(np.median(level[run])))
    if len(runs) > max_runs:
        runs = runs[:max_runs]
    return Candidates([[valid[i] for i in run] for run in runs], measure_name)


def pick_neutral(
    candidates: Candidates,
    points: Sequence[FloatArray | None],
    gray: dict[int, Gray],
    max_frames: int = 20,
) -> tuple[Baseline, list[int]]:
    """The neutral, decided by the pixels: a baseline is made from the landmarks' first
    guess, every sampled frame of every calm stretch is measured against it, and if a
    stretch reads as clearly *less* active (its movement runs against the measure's
    direction) it becomes the reference instead (twice more at most). The neutral is
    every sampled frame that reads level with the least active stretch (a stretch can
    run into the start of a slow movement); ``gray`` holds those frames' pixels."""
    runs = [_sample(run) for run in candidates.runs if all(i in gray for i in _sample(run))]
    if not runs:
        raise ValueError("no calm frames to take the neutral from")
    tolerance = NEUTRAL_TOLERANCE * _targets().get(candidates.measure, 1.0)
    reference = 0
    levels: dict[int, float] = {}
    for _ in range(3):
        baseline = baseline_of(runs[reference], points, gray)
        levels = {i: _level(baseline, i, points, gray, candidates.measure) for run in runs for i in run}
        medians = [float(np.median([levels[i] for i in run])) for run in runs]
        lowest = int(np.argmin(medians))
        if lowest == reference or medians[lowest] > -tolerance:
            break
        reference = lowest
    floor = min(medians)
    chosen = sorted(i for i, level in levels.items() if level <= floor + tolerance)
    if len(chosen) > max_frames:  # evenly spread over the stretch(es) found
        chosen = [chosen[j] for j in np.linspace(0, len(chosen) - 1, max_frames).round().astype(int)]
    return baseline_of(chosen, points, gray), chosen


def frames_to_read(candidates: Candidates, per_run: int = SAMPLES_PER_RUN) -> set[int]:
    """The frames whose pixels ``pick_neutral`` needs: a few from each calm run."""
    return {i for run in candidates.runs for i in _sample(run, per_run)}


def _sample(run: list[int], per_run: int = SAMPLES_PER_RUN) -> list[int]:
    if len(run) <= per_run:
        return run
    return [run[j] for j in np.linspace(0, len(run) - 1, per_run).round().astype(int)]


def baseline_of(frames: list[int], points: Sequence[FloatArray | None], gray: dict[int, Gray]) -> Baseline:
    """The baseline the live calibration would make of these frames."""
    calibration = Calibration(len(frames))
    baseline: Baseline | None = None
    for i in frames:
        p = points[i]
        assert p is not None
        baseline = calibration.add(p, gray[i])
    assert baseline is not None
    return baseline


def _level(
    baseline: Baseline, frame: int, points: Sequence[FloatArray | None], gray: dict[int, Gray], name: str
) -> float:
    """The frame's reading of the measure (both sides' mean) against ``baseline``."""
    p = points[frame]
    assert p is not None
    f = measure(baseline.aligned(p, gray[frame]), baseline.neutral).features[name]
    return (f["left"] + f["right"]) / 2
