"""Per-side measures of a face aligned to its neutral baseline. Pure numpy functions.

Sides are the patient's anatomical sides (MediaPipe's "left" is the subject's left):
in an unmirrored camera image the patient's right side appears on the image's left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from analyzer.landmarks import FloatArray

Side = Literal["left", "right"]
SIDES: tuple[Side, Side] = ("left", "right")

IRIS_DIAMETER_MM = 11.7  # nearly constant across adults; gives millimetres (as Emotrics does)

# Landmark indices per region and side.
BROW: dict[Side, tuple[int, ...]] = {"right": (70, 63, 105, 66, 107), "left": (300, 293, 334, 296, 336)}
MOUTH_CORNER: dict[Side, tuple[int, ...]] = {"right": (61,), "left": (291,)}
# (upper lid, lower lid) pairs across the palpebral fissure.
EYELIDS: dict[Side, tuple[tuple[int, int], ...]] = {
    "right": ((159, 145), (158, 153), (160, 144)),
    "left": ((386, 374), (385, 380), (387, 373)),
}
# Iris edge pairs (horizontal and vertical) for the refined iris landmarks.
IRIS_EDGES: tuple[tuple[int, int], ...] = ((469, 471), (470, 472), (474, 476), (475, 477))
IRIS_CENTRES: dict[Side, int] = {"right": 468, "left": 473}

REGIONS = ("brow", "eye", "mouth")


def mm_per_unit(points: FloatArray) -> float:
    """Millimetres per landmark unit, from the mean iris diameter."""
    diameters = [float(np.linalg.norm(points[a, :2] - points[b, :2])) for a, b in IRIS_EDGES]
    diameter = float(np.mean(diameters))
    return IRIS_DIAMETER_MM / diameter if diameter > 0 else 0.0


def inter_pupil_distance(points: FloatArray) -> float:
    return float(np.linalg.norm(points[IRIS_CENTRES["left"], :2] - points[IRIS_CENTRES["right"], :2]))


# Index arrays for vectorised measuring: one numpy call per region for both sides.
_LID_UPPER = np.array([u for side in SIDES for u, _ in EYELIDS[side]])
_LID_LOWER = np.array([lo for side in SIDES for _, lo in EYELIDS[side]])
_REGION_POINTS = {
    "brow": (np.array(BROW["left"]), np.array(BROW["right"])),
    "mouth": (np.array(MOUTH_CORNER["left"]), np.array(MOUTH_CORNER["right"])),
}


def eye_apertures(points: FloatArray) -> tuple[float, float]:
    """(left, right) mean lid-to-lid distance, in landmark units."""
    gap = points[_LID_UPPER, :2] - points[_LID_LOWER, :2]
    per_pair = np.sqrt((gap * gap).sum(axis=1)).reshape(2, -1).mean(axis=1)
    return float(per_pair[0]), float(per_pair[1])


def _displacement(points: FloatArray, neutral: FloatArray, idx: npt.NDArray[np.intp]) -> float:
    """Mean in-plane distance the given points moved from neutral."""
    diff = points[idx, :2] - neutral[idx, :2]
    return float(np.sqrt((diff * diff).sum(axis=1)).mean())


@dataclass(frozen=True, slots=True)
class FaceMeasures:
    """Excursion from neutral per region and side (mm), plus eye aperture ratios."""

    excursion: dict[str, dict[Side, float]]
    eye_aperture_ratio: dict[Side, float]


def measure(
    aligned: FloatArray, neutral: FloatArray, mm: float, neutral_apertures: tuple[float, float] | None = None
) -> FaceMeasures:
    """Measures of a face already aligned to the ``neutral`` baseline.

    ``neutral_apertures`` (from ``eye_apertures(neutral)``) may be passed to save
    recomputing it on every frame.
    """
    rest = neutral_apertures or eye_apertures(neutral)
    now = eye_apertures(aligned)
    excursion: dict[str, dict[Side, float]] = {}
    for region, (left_idx, right_idx) in _REGION_POINTS.items():
        excursion[region] = {
            "left": _displacement(aligned, neutral, left_idx) * mm,
            "right": _displacement(aligned, neutral, right_idx) * mm,
        }
    excursion["eye"] = {"left": abs(rest[0] - now[0]) * mm, "right": abs(rest[1] - now[1]) * mm}
    ratio: dict[Side, float] = {
        "left": now[0] / rest[0] if rest[0] > 0 else 1.0,
        "right": now[1] / rest[1] if rest[1] > 0 else 1.0,
    }
    return FaceMeasures(excursion=excursion, eye_aperture_ratio=ratio)


def symmetry(left: float, right: float, noise_floor: float) -> tuple[float | None, Side | None]:
    """Symmetry index min/max (1 = symmetric) and the side that moves less.

    Below the noise floor the region is at rest: no index, so a still face cannot
    flicker between 'symmetric' and 'asymmetric'.
    """
    high = max(left, right)
    if high < noise_floor:
        return None, None
    index = min(left, right) / high
    weaker: Side | None = None
    if index < 0.9:
        weaker = "left" if left < right else "right"
    return index, weaker
