"""Finding the neutral face in a recorded clip (``telerehab analyze``).

A live session calibrates on 20 relaxed frames while the page asks for a relaxed face.
A recorded clip has no such moment on cue: it may open with half a second of rest, or
only come to rest at the end. So the clip's own landmarks decide: the neutral stretch
is made of *calm* frames (the face barely moving from one frame to the next) at the
*lowest activation* of the clip's main movement (the exercise's measure, or, with no
exercise named, the measure that varies most against its target), since every
exercise moves away from rest in its measure's positive direction.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from analyzer.alignment import align
from analyzer.face_points import BROW, EYELIDS, MOUTH_CORNER, SIDES
from analyzer.landmarks import FloatArray
from analyzer.metrics import FEATURES, Neutral, measure, mm_per_unit
from shared.exercises import load_catalogue

MOVING = np.array(
    [
        *(i for side in SIDES for i in BROW[side]),
        *(i for side in SIDES for i in MOUTH_CORNER[side]),
        *(i for side in SIDES for pair in EYELIDS[side] for i in pair),
    ]
)
LEVEL_TOLERANCE = 0.12  # of the measure's range across the clip
MIN_FRAMES = 3


def _targets() -> dict[str, float]:
    """The smallest catalogue target of each measure: what 'a real movement' is."""
    out: dict[str, float] = {}
    for spec in load_catalogue().values():
        out[spec.measure] = min(out.get(spec.measure, spec.target), spec.target)
    return out


def _in_runs(indices: npt.NDArray[np.intp], length: int) -> npt.NDArray[np.intp]:
    """The indices that belong to runs of at least ``length`` consecutive ones (all of
    them if there is no such run)."""
    if len(indices) == 0:
        return indices
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    runs = [run for run in np.split(indices, breaks) if len(run) >= length]
    return np.concatenate(runs) if runs else indices


def find_neutral(
    points: Sequence[FloatArray | None], measure_name: str | None = None, max_frames: int = 20
) -> list[int]:
    """Indices of the frames that make the clip's neutral face (empty: no face at all)."""
    valid = [i for i, p in enumerate(points) if p is not None]
    if len(valid) <= MIN_FRAMES:
        return valid
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
    span = float(np.percentile(level, 95) - np.percentile(level, 5))
    lowest = float(level[calm].min()) if calm.any() else float(level.min())
    chosen = np.flatnonzero(calm & (level <= lowest + LEVEL_TOLERANCE * span))
    chosen = _in_runs(chosen, MIN_FRAMES)  # a stretch of rest, not one odd frame
    if len(chosen) < MIN_FRAMES:  # too few calm ones: the lowest frames, calm or not
        chosen = np.sort(np.argsort(level + speed * 1e3 * (~calm))[:MIN_FRAMES])
    if len(chosen) > max_frames:  # evenly spread over the stretch(es) found
        chosen = chosen[np.linspace(0, len(chosen) - 1, max_frames).round().astype(int)]
    return [valid[i] for i in chosen]
