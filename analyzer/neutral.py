"""Finding the neutral face in a recorded clip (``telerehab analyze``).

A live session calibrates on 20 relaxed frames while the page asks for a relaxed face.
A recorded clip has no such moment on cue: it may open with half a second of rest, or
only come to rest at the end. So the clip itself decides: the neutral is made of the
*calm* frames (the face not in the middle of a movement) at the *lowest activation* of
the clip's main movement (the exercise's measure, or, with no exercise named, the
measure that varies most against its target), since every exercise moves away from
rest in its measure's positive direction.

Two steps. The landmarks pick the candidates (``candidates``: calm frames spread over
the whole clip) and a first guess (those the landmarks read least active). The pixels,
measured as the engine measures them, decide (``pick_neutral``): a baseline made from
the guess measures every candidate, the least active candidates become the next guess,
until the choice settles. FaceMesh's eyes and corners follow its shape prior, and on a
blurry face it can see a closed eye as the more open one; the pixels do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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
MAX_CANDIDATES = 60  # frames whose pixels are read (spread over the clip)
GUESS_FRAMES = 8
CALM_QUANTILE = 60  # frames faster than this percentile of the clip's speeds are moving
NEUTRAL_TOLERANCE = 0.2  # of the measure's catalogue target: this close to the least active is rest
ROUNDS = 3
FLOOR_RANK = 2  # the floor of the levels: the third-lowest (two misread frames cannot set it)


def _targets() -> dict[str, float]:
    """The smallest catalogue target of each measure: what 'a real movement' is."""
    out: dict[str, float] = {}
    for spec in load_catalogue().values():
        out[spec.measure] = min(out.get(spec.measure, spec.target), spec.target)
    return out


@dataclass(frozen=True, slots=True)
class Candidates:
    """Frames the neutral may be made of, the landmarks' first guess, and the measure."""

    frames: list[int]  # frame indices, in order
    guess: list[int]  # the candidates the landmarks read least active
    measure: str


def candidates(points: Sequence[FloatArray | None], measure_name: str | None = None) -> Candidates:
    """Calm frames (not in the middle of a movement) spread over the clip, and the
    landmarks' first guess at the neutral among them."""
    valid = [i for i, p in enumerate(points) if p is not None]
    if not valid:
        return Candidates([], [], measure_name or "smile")
    ref = points[valid[0]]
    assert ref is not None
    aligned = np.stack([align(points[i], ref) for i in valid])  # type: ignore[arg-type]
    iod = float(np.linalg.norm(ref[263, :2] - ref[33, :2])) or 1.0
    # Speed: the 90th percentile of the moving points' travel from frame to frame, so one
    # moving corner counts (a mean over every point would dilute it), worst of the frame
    # and its two neighbours (the edges of a ramp are moving too).
    moving = aligned[:, MOVING, :2]
    travel = np.linalg.norm(np.diff(moving, axis=0), axis=2) / iod
    step = np.r_[0.0, np.percentile(travel, 90, axis=1)] if len(valid) > 1 else np.zeros(1)
    padded = np.pad(step, 1, mode="edge")
    speed = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
    calm = np.flatnonzero(speed <= np.percentile(speed, CALM_QUANTILE))

    neutral = Neutral.of(ref, mm_per_unit(ref))
    features = [measure(a, neutral).features for a in aligned]
    if measure_name is None:
        targets = _targets()
        spread = {
            f: float(np.ptp([(fr[f]["left"] + fr[f]["right"]) / 2 for fr in features])) / targets.get(f, 1.0)
            for f in FEATURES
        }
        measure_name = max(spread, key=lambda f: spread[f])
    level = np.array([(fr[measure_name]["left"] + fr[measure_name]["right"]) / 2 for fr in features])
    if len(calm) > MAX_CANDIDATES:
        calm = calm[np.linspace(0, len(calm) - 1, MAX_CANDIDATES).round().astype(int)]
    guess = calm[np.argsort(level[calm], kind="stable")[:GUESS_FRAMES]]
    return Candidates([valid[i] for i in calm], sorted(valid[i] for i in guess), measure_name)


def pick_neutral(
    found: Candidates, points: Sequence[FloatArray | None], gray: dict[int, Gray], max_frames: int = 20
) -> tuple[Baseline, list[int]]:
    """The neutral, decided by the pixels (``gray``: the candidates' grey frames).

    A baseline made from the current guess measures every candidate; the candidates
    reading within a tolerance of the least active ones (the third-lowest reading, so a
    misread frame cannot set the floor; not a percentile: a clip with half a second of
    rest has fewer rest frames than any useful percentile, and a percentile there falls
    on the tail of a release) are the next guess; until it settles (three
    rounds at most). A guess made of the held movement reads the rest frames as moving
    against the measure's direction, so they take over in the next round.
    """
    frames = [i for i in found.frames if i in gray]
    guess = [i for i in found.guess if i in gray] or frames[:GUESS_FRAMES]
    if not guess:
        raise ValueError("no frames to take the neutral from")
    tolerance = NEUTRAL_TOLERANCE * _targets().get(found.measure, 1.0)
    for _ in range(ROUNDS):
        baseline = baseline_of(_spread(guess, max_frames), points, gray)
        levels = np.array([_level(baseline, i, points, gray, found.measure) for i in frames])
        floor = float(np.sort(levels)[min(FLOOR_RANK, len(levels) - 1)])
        chosen = [i for i, level in zip(frames, levels, strict=True) if level <= floor + tolerance]
        if chosen == guess:
            break
        guess = chosen
    chosen = _spread(guess, max_frames)
    return baseline_of(chosen, points, gray), chosen


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


def _spread(frames: list[int], most: int) -> list[int]:
    """At most ``most`` of ``frames``, evenly spread."""
    if len(frames) <= most:
        return frames
    return [frames[j] for j in np.linspace(0, len(frames) - 1, most).round().astype(int)]


def _level(
    baseline: Baseline, frame: int, points: Sequence[FloatArray | None], gray: dict[int, Gray], name: str
) -> float:
    """The frame's reading of the measure (both sides' mean) against ``baseline``."""
    p = points[frame]
    assert p is not None
    f = measure(baseline.aligned(p, gray[frame]), baseline.neutral).features[name]
    return (f["left"] + f["right"]) / 2
