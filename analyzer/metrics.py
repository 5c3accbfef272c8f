"""Per-side measures of a face aligned to its neutral baseline. Pure numpy functions.

Sides are the patient's anatomical sides (MediaPipe's "left" is the subject's left):
in an unmirrored camera image the patient's right side appears on the image's left.

Directions are taken in the neutral face's own frame: the *across* axis runs along the
eye line (canthus to canthus, towards the patient's left) and the *down* axis is
perpendicular to it. So "up" means up the face even when the head is tilted, and
"out" means away from the midline on that side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from analyzer.face_points import (
    BROW,
    CANTHI,
    CHEEK,
    EYELIDS,
    IRIS_CENTRES,
    IRIS_EDGES,
    LIP_EDGES,
    MOUTH_CORNER,
    NASAL_ALA,
    SIDES,
    Side,
)
from analyzer.landmarks import FloatArray

__all__ = [
    "BROW",
    "MOUTH_CORNER",
    "EYELIDS",
    "SIDES",
    "Side",
    "IRIS_DIAMETER_MM",
    "REGIONS",
    "FEATURES",
    "FaceAxes",
    "FaceMeasures",
    "Neutral",
    "face_axes",
    "mm_per_unit",
    "inter_pupil_distance",
    "eye_apertures",
    "measure",
    "symmetry",
    "unmeasurable",
]

IRIS_DIAMETER_MM = 11.7  # nearly constant across adults; gives millimetres (as Emotrics does)
# Eye closure is a fraction of the neutral lid gap: below this (mm) the gap is a pixel or
# two at a webcam's resolution and the fraction is noise (adult gaps are about 8-11 mm).
MIN_EYE_OPENING_MM = 3.0

# Regions shown live, each with a generic per-side excursion (how far it moved, in mm).
REGIONS = ("brow", "eye", "mouth", "nose")
# Direction-specific per-side measures the exercises use (shared.exercises.MEASURES).
FEATURES = ("brow_lift", "eye_closure", "smile", "pucker", "snarl", "cheek_puff", "lip_press")


def mm_per_unit(points: FloatArray) -> float:
    """Millimetres per landmark unit, from the mean iris diameter."""
    diameters = [float(np.linalg.norm(points[a, :2] - points[b, :2])) for a, b in IRIS_EDGES]
    diameter = float(np.mean(diameters))
    return IRIS_DIAMETER_MM / diameter if diameter > 0 else 0.0


def inter_pupil_distance(points: FloatArray) -> float:
    return float(np.linalg.norm(points[IRIS_CENTRES["left"], :2] - points[IRIS_CENTRES["right"], :2]))


@dataclass(frozen=True, slots=True)
class FaceAxes:
    """The neutral face's own frame: origin between the eyes, unit across and down axes."""

    origin: npt.NDArray[np.float64]
    across: npt.NDArray[np.float64]  # towards the patient's left
    down: npt.NDArray[np.float64]
    basis: npt.NDArray[np.float64]  # (2, 2): columns across, down

    def to_face(self, xy: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
        """(n, 2) image coordinates → (n, 2) (across, down) face coordinates."""
        return (xy.astype(np.float64) - self.origin) @ self.basis


def face_axes(neutral: FloatArray) -> FaceAxes:
    right = neutral[list(CANTHI["right"]), :2].astype(np.float64).mean(axis=0)
    left = neutral[list(CANTHI["left"]), :2].astype(np.float64).mean(axis=0)
    across = left - right
    norm = float(np.linalg.norm(across))
    across = across / norm if norm > 0 else np.array([1.0, 0.0])
    # Image y points down; rotating "across" by +90° gives the face's down direction
    # (for a mirror image, across flips and so does down's handedness: still down).
    down = np.array([-across[1], across[0]])
    if down[1] < 0:
        down = -down
    return FaceAxes(
        origin=(left + right) / 2, across=across, down=down, basis=np.stack([across, down], axis=1)
    )


# Index arrays for vectorised measuring.
_LID_UPPER = np.array([u for side in SIDES for u, _ in EYELIDS[side]])
_LID_LOWER = np.array([lo for side in SIDES for _, lo in EYELIDS[side]])
_LIP_UPPER = np.array([u for side in SIDES for u, _ in LIP_EDGES[side]])
_LIP_LOWER = np.array([lo for side in SIDES for _, lo in LIP_EDGES[side]])

# Every point whose displacement a feature reads, and where each group sits in that array.
_GROUPS: dict[str, dict[Side, tuple[int, ...]]] = {
    "brow": BROW,
    "mouth": MOUTH_CORNER,
    "nose": NASAL_ALA,
    "cheek": CHEEK,
    "canthi": {side: tuple(CANTHI[side]) for side in SIDES},
}
_MOVED: list[int] = []
_SLICES: dict[tuple[str, Side], slice] = {}
for _group, _sides in _GROUPS.items():
    for _side in SIDES:
        _SLICES[(_group, _side)] = slice(len(_MOVED), len(_MOVED) + len(_sides[_side]))
        _MOVED.extend(_sides[_side])
_MOVED_IDX = np.array(_MOVED)
_GROUP_KEYS = list(_SLICES)
# Group medians in one sort: each group's rows padded to the largest group with +inf
# (sorted last), then the middle one or two rows of each group averaged (np.median's
# answer, without its per-call cost: a dozen calls a frame cost ~0.4 ms).
_GROUP_LEN = np.array([_SLICES[k].stop - _SLICES[k].start for k in _GROUP_KEYS])
_PAD_ROWS = np.array(
    [
        [_SLICES[k].start + j if j < n else -1 for j in range(_GROUP_LEN.max())]
        for k, n in zip(_GROUP_KEYS, _GROUP_LEN, strict=True)
    ]
)
_MID_LO, _MID_HI = (_GROUP_LEN - 1) // 2, _GROUP_LEN // 2
_GROUP_ROWS = np.arange(len(_GROUP_KEYS))
_OUT_SIGN: dict[Side, float] = {"left": 1.0, "right": -1.0}  # "across" points to the patient's left
_SMILE_DIR = 1 / math.sqrt(2)  # a smile moves the corner up and out: the diagonal


_FULL_COS = math.cos(math.radians(50))


def toward(outward: float, upward: float, unit_out: float, unit_up: float) -> float:
    """A side's movement (outward, upward: mm in the face's frame) along a direction.

    Its whole length counts while it points within 50 degrees of the direction, less
    and less up to 90, and beyond that it counts against (its projection, negative).
    The length, not a projection on one fixed axis: faces smile at different angles, and
    a slight roll of the head or a cant of the mouth must not make one side read less.
    """
    length = math.hypot(outward, upward)
    if length == 0.0:
        return 0.0
    cos = (outward * unit_out + upward * unit_up) / length
    if cos <= 0.0:
        return cos * length
    return length * min(1.0, cos / _FULL_COS)


def eye_apertures(points: FloatArray, down: npt.NDArray[np.float64] | None = None) -> tuple[float, float]:
    """(left, right) median lid-to-lid distance over the lid pairs, in landmark units.

    Measured along the face's ``down`` axis (the image's vertical if not given): as an
    eye closes, the upper and lower points of a pair, a pixel or two apart along the
    lid, would otherwise keep that sideways gap as "still open".
    """
    gap = points[_LID_UPPER, :2] - points[_LID_LOWER, :2]
    axis = np.array([0.0, 1.0]) if down is None else down
    per_pair = np.median(np.abs(gap @ axis).reshape(2, -1), axis=1)
    return float(per_pair[0]), float(per_pair[1])


def lip_heights(points: FloatArray) -> tuple[float, float]:
    """(left, right) upper-to-lower lip outer edge distance, the mean over each side's
    columns, in landmark units."""
    gap = points[_LIP_UPPER, :2] - points[_LIP_LOWER, :2]
    per_side = np.sqrt((gap * gap).sum(axis=1)).reshape(2, -1).mean(axis=1)
    return float(per_side[0]), float(per_side[1])


@dataclass(frozen=True, slots=True)
class Neutral:
    """The neutral face as every frame's measures compare against it, computed once."""

    points: FloatArray
    mm: float  # millimetres per landmark unit
    apertures: tuple[float, float]  # (left, right) lid-to-lid distance
    lips: tuple[float, float]  # (left, right) lip height
    axes: FaceAxes

    @classmethod
    def of(cls, points: FloatArray, mm: float) -> Neutral:
        axes = face_axes(points)
        return cls(points, mm, eye_apertures(points, axes.down), lip_heights(points), axes)


@dataclass(frozen=True, slots=True)
class FaceMeasures:
    """One frame's measures against the neutral face.

    ``excursion``: per region and side, how far it moved (mm, any direction).
    ``features``: per exercise measure and side, movement in that measure's direction
    (mm; ``eye_closure`` is the fraction of the neutral lid gap lost, negative when the
    eye opens wider). ``eye_aperture_ratio``: lid gap as a fraction of neutral.
    """

    excursion: dict[str, dict[Side, float]]
    features: dict[str, dict[Side, float]]
    eye_aperture_ratio: dict[Side, float]


def measure(aligned: FloatArray, neutral: Neutral) -> FaceMeasures:
    """Measures of a face already aligned to the ``neutral`` baseline."""
    rest = neutral.apertures
    axes = neutral.axes
    mm = neutral.mm
    now = eye_apertures(aligned, axes.down)
    diff = (aligned[_MOVED_IDX, :2] - neutral.points[_MOVED_IDX, :2]).astype(np.float64) * mm
    projected = diff @ axes.basis  # (n, 2): across, down
    dist = np.sqrt((diff * diff).sum(axis=1))
    table = np.column_stack([projected, dist])  # (n, 3)
    # Each group's median point: one point a tracker misread (a hat brim over a brow, a
    # lash) cannot move the group. Plain floats from here on.
    padded = np.where((_PAD_ROWS >= 0)[:, :, None], table[_PAD_ROWS], np.inf)
    ordered = np.sort(padded, axis=1)
    medians = (ordered[_GROUP_ROWS, _MID_LO] + ordered[_GROUP_ROWS, _MID_HI]) / 2
    groups = dict(zip(_GROUP_KEYS, medians.tolist(), strict=True))  # key -> [across, down, dist]
    lips_rest = neutral.lips
    lips_now = lip_heights(aligned)

    excursion: dict[str, dict[Side, float]] = {region: {} for region in REGIONS}
    features: dict[str, dict[Side, float]] = {feature: {} for feature in FEATURES}
    for i, side in enumerate(SIDES):
        out = _OUT_SIGN[side]
        brow, mouth, nose = groups[("brow", side)], groups[("mouth", side)], groups[("nose", side)]
        cheek, canthi = groups[("cheek", side)], groups[("canthi", side)]
        excursion["brow"][side] = brow[2]
        excursion["mouth"][side] = mouth[2]
        excursion["nose"][side] = nose[2]
        excursion["eye"][side] = abs(rest[i] - now[i]) * mm
        mouth_out, mouth_up = mouth[0] * out, -mouth[1]
        # Brow height above that side's eye line (brow to canthi), as clinicians measure
        # it: what is left of head motion after alignment moves both alike and cancels.
        features["brow_lift"][side] = toward((brow[0] - canthi[0]) * out, canthi[1] - brow[1], 0.0, 1.0)
        features["eye_closure"][side] = 1.0 - now[i] / rest[i] if rest[i] > 0 else 0.0
        features["smile"][side] = toward(mouth_out, mouth_up, _SMILE_DIR, _SMILE_DIR)
        # The corner's travel towards the midline.
        features["pucker"][side] = toward(-mouth_out, mouth_up, 1.0, 0.0)
        features["snarl"][side] = toward(nose[0] * out, -nose[1], 0.0, 1.0)
        features["cheek_puff"][side] = toward(cheek[0] * out, -cheek[1], 1.0, 0.0)
        features["lip_press"][side] = (lips_rest[i] - lips_now[i]) * mm
    ratio: dict[Side, float] = {
        "left": now[0] / rest[0] if rest[0] > 0 else 1.0,
        "right": now[1] / rest[1] if rest[1] > 0 else 1.0,
    }
    return FaceMeasures(excursion=excursion, features=features, eye_aperture_ratio=ratio)


def symmetry(left: float, right: float, noise_floor: float) -> tuple[float | None, Side | None]:
    """Symmetry index min/max (1 = symmetric) and the side that moves less.

    Below the noise floor the region is at rest: no index, so a still face cannot
    flicker between 'symmetric' and 'asymmetric'. Movement against the intended
    direction (a negative amount) counts as none.
    """
    left, right = max(float(left), 0.0), max(float(right), 0.0)
    high = max(left, right)
    if high < noise_floor:
        return None, None
    index = min(left, right) / high
    weaker: Side | None = None
    if index < 0.9:
        weaker = "left" if left < right else "right"
    return index, weaker


def unmeasurable(neutral: Neutral) -> dict[str, str]:
    """The measures this neutral face cannot support, each with the reason in words, to
    be said instead of a number: eyes nearly closed at rest (looking down, a drooping
    lid) leave no opening to take a fraction of, so neither eye closure nor the eye
    narrowing of synkinesis can be read."""
    narrowest = min(neutral.apertures) * neutral.mm
    if narrowest >= MIN_EYE_OPENING_MM:
        return {}
    return {
        "eye_closure": (
            f"Eye closure is not measured: at rest an eye was open only {narrowest:.1f} mm "
            f"(at least {MIN_EYE_OPENING_MM:g} mm are needed). Calibrate again looking at the "
            "screen with the eyes open."
        )
    }
