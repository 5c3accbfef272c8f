"""Accuracy of the facial analysis engine on faces with known, synthetic movement.

Each case is a short clip of a real face photo (scikit-image's astronaut; matplotlib's
portrait of Grace Hopper: an older face with glasses) with a little head sway: 20
frames of a relaxed face (the calibration), an ease-in, then a hold of one movement
where the affected side moves a known fraction ``r`` of the healthy side's warp. The
clip goes through exactly the live path (``SessionAnalysis.analyse_image``: FaceMesh in
tracking mode, gating, alignment, the engine), at the live sampler's 320 px.

Reported per movement:
  - symmetry MAE: |measured min/max of the exercise's measure during the hold - r|;
  - side accuracy: the weaker side named right, over the cases with r <= 0.75;
  - rep accuracy: clips with 1-3 repetitions counted exactly;
  - false-asymmetry rate: neutral frames (head sway only) on which any region names a
    weaker side.
The "truth" r is the ratio of the warps in pixels; FaceMesh's own response to a warp is
part of what is measured (its shape prior drags a still corner along with a moving one).

    python -m benchmarks.analysis_accuracy [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from analyzer.analysis import SessionAnalysis
from analyzer.landmarks import FaceMeshLandmarker
from analyzer.metrics import Side
from analyzer.synthetic import FACES, HeadMotion, Movement, SyntheticFace, movement_at
from shared.exercises import get_exercise
from shared.messages import Command

FPS = 15.0
RATIOS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Case:
    exercise: str
    make: Callable[[float, float], Movement]  # (left amount, right amount) -> movement
    amount: float  # the healthy side's warp


CASES = (
    Case("closed_smile", lambda left, right: Movement(smile_left=left, smile_right=right), 14.0),
    Case("brow_raise", lambda left, right: Movement(brow_left=left, brow_right=right), 12.0),
    Case(
        "gentle_eye_closure",
        lambda left, right: Movement(eye_close_left=left, eye_close_right=right),
        0.8,
    ),
    Case("pucker", lambda left, right: Movement(pucker_left=left, pucker_right=right), 12.0),
    Case("snarl", lambda left, right: Movement(snarl_left=left, snarl_right=right), 10.0),
    Case("cheek_puff", lambda left, right: Movement(cheek_left=left, cheek_right=right), 10.0),
    Case(
        "lip_press", lambda left, right: Movement(lip_press_left=left, lip_press_right=right), 6.0
    ),
)


def frame(face: SyntheticFace, move: Movement, t: float, motion: HeadMotion) -> np.ndarray:
    shift, scale, angle = motion.at(t)
    img = face.render(move, shift=shift, scale=scale, angle_deg=angle)
    return cv2.resize(img, (320, 240), interpolation=cv2.INTER_AREA)


def run_clip(
    face: SyntheticFace, steps: list[tuple[Movement, float]], exercise: str | None, seed: int
) -> SessionAnalysis:
    analysis = SessionAnalysis("bench-accuracy", "bench", FaceMeshLandmarker())
    if exercise:
        analysis.apply(
            Command(sid="bench-accuracy", command="start_exercise", issued_ms=0, exercise=exercise),
            "0",
        )
    motion = HeadMotion(seed=seed)
    total = sum(s for _, s in steps)
    for i in range(round(total * FPS)):
        t = i / FPS
        analysis.analyse_image(frame(face, movement_at(steps, t), t, motion), i, int(t * 1000))
    return analysis


def hold_symmetry(
    face: SyntheticFace, case: Case, ratio: float, affected: Side, seed: int
) -> tuple[float | None, Side | None]:
    healthy, weak = case.amount, case.amount * ratio
    move = case.make(*((weak, healthy) if affected == "left" else (healthy, weak)))
    steps = [(Movement(), 1.5), (move, 1.0), (move, 1.5)]
    analysis = SessionAnalysis("bench-accuracy", "bench", FaceMeshLandmarker())
    spec = get_exercise(case.exercise)
    motion = HeadMotion(seed=seed)
    values: list[tuple[float, float]] = []
    for i in range(round(sum(s for _, s in steps) * FPS)):
        t = i / FPS
        fb = analysis.analyse_image(frame(face, movement_at(steps, t), t, motion), i, int(t * 1000))
        if t >= 2.7 and analysis.engine is not None and fb.status == "tracking":
            f = analysis.engine.last_features[spec.measure]
            values.append((f["left"], f["right"]))
    analysis.close()
    if not values:
        return None, None
    left = statistics.mean(v[0] for v in values)
    right = statistics.mean(v[1] for v in values)
    high = max(left, right, 1e-9)
    index = max(0.0, min(left, right)) / high
    weaker: Side | None = None if index >= 0.9 else ("left" if left < right else "right")
    return index, weaker


def measure_face(face: SyntheticFace, only: list[str] | None) -> dict[str, Any]:
    """Every case on one base photo; prints a table and returns the figures."""
    results: dict[str, Any] = {}
    print(f"{'movement':20s} {'sym MAE':>8s} {'max err':>8s} {'side ok':>8s}  per ratio (measured)")
    for n, case in enumerate(CASES):
        if only and case.exercise not in only:
            continue
        errors, side_ok, side_n, detail = [], 0, 0, []
        for ratio in RATIOS:
            for affected in ("left", "right"):
                index, weaker = hold_symmetry(face, case, ratio, affected, seed=n * 10 + int(ratio * 4))
                if index is None:
                    continue
                errors.append(abs(index - ratio))
                detail.append(f"{index:.2f}")
                if ratio <= 0.75:
                    side_n += 1
                    side_ok += weaker == affected
        mae = statistics.mean(errors) if errors else None
        results[case.exercise] = {
            "symmetry_mae": mae,
            "max_error": max(errors) if errors else None,
            "side_right": side_ok,
            "side_cases": side_n,
        }
        mae_text = "n/a" if mae is None else f"{mae:.3f}"
        worst = f"{max(errors):8.3f}" if errors else "     n/a"
        side_text = f"{side_ok:4d}/{side_n:<3d}"
        print(f"{case.exercise:20s} {mae_text:>8s} {worst} {side_text}  {' '.join(detail)}")

    # Repetitions: 1..3 reps of a 60 % right smile, counted exactly?
    smile = Movement(smile_left=14, smile_right=8.4)
    exact = 0
    for reps in (1, 2, 3):
        steps = [(Movement(), 1.5)]
        for _ in range(reps):
            steps += [(Movement(), 0.8), (smile, 1.2), (smile, 3.4), (Movement(), 1.0)]
        analysis = run_clip(face, steps, "closed_smile", seed=100 + reps)
        assert analysis.engine is not None and analysis.engine.tracker is not None
        exact += analysis.engine.tracker.record.reps == reps
        analysis.close()
    results["reps"] = {"exact": exact, "clips": 3}
    print(f"repetitions counted exactly: {exact}/3 clips")

    # False asymmetry: a relaxed face with head sway (±6 px, ±6°, ±8 % scale).
    analysis = SessionAnalysis("bench-accuracy", "bench", FaceMeshLandmarker())
    motion = HeadMotion(shift_px=6.0, angle_deg=6.0, scale=0.08, seed=7)
    flagged = tracked = 0
    for i in range(round(12 * FPS)):
        t = i / FPS
        fb = analysis.analyse_image(frame(face, Movement(), t, motion), i, int(t * 1000))
        if fb.status == "tracking":
            tracked += 1
            flagged += any(r.weaker is not None for r in fb.regions.values())
    analysis.close()
    results["false_asymmetry"] = {"flagged": flagged, "frames": tracked}
    print(f"false asymmetry on a still face with head sway: {flagged}/{tracked} frames")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", default=None)
    parser.add_argument("--only", nargs="*", default=None, help="exercise names to measure (default all)")
    parser.add_argument("--faces", nargs="*", default=list(FACES), help=f"photos (default {list(FACES)})")
    args = parser.parse_args()
    started = time.monotonic()
    results: dict[str, Any] = {}
    for name in args.faces:
        print(f"\n== {name} ==")
        results[name] = measure_face(SyntheticFace(FACES[name]()), args.only)
    print(f"({time.monotonic() - started:.0f} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
