"""Per-side movement read from the face's own pixels, not from the landmark model's shape.

FaceMesh is a model of a *whole* face: when one mouth corner moves, its shape prior
drags the still corner part of the way along (about 2 px per 14 px on a real photo), and
it closes an eye it sees half-closed more evenly than it is. A palsy face is exactly the
face whose sides move differently, so FaceMesh here only finds the face, fits the pose
and places the regions; how far each point really moved is measured in the image:

1. The neutral face (the calibration frames) is warped onto a fixed *canvas*: the face's
   own frame (eye line horizontal, the patient's left towards +x, 96 px between the
   outer eye corners; 184x200 px from the forehead to below the lips), contrast-normalised
   (CLAHE, so a dim room or a change of exposure reads the same). Each calibration
   frame is placed by its landmarks, then registered by its pixels (``register``) onto
   the frame placed closest to the median, and the pixelwise median is kept.
2. Each new frame is warped onto the same canvas by a similarity fitted on its
   landmarks' stable points (canthi, nose, outline) onto the neutral's, with the quarter
   that fits worst left out. A similarity, not an affine: the stable points sit in the
   upper face, and an affine's shear, fitted to their landmark noise, is magnified down
   at the mouth (it read a 14 px smile as 5 px).
3. Pyramidal Lucas-Kanade follows each measured point from the neutral canvas to the
   current one, starting from no motion so the pixels alone decide: always from the
   neutral, so nothing drifts over a session. A point whose forward-backward track
   disagrees by more than 0.8 px (3 px on the lips' outer edges, which a press squeezes
   rather than carries), or that LK loses, is occluded or untextured; it keeps its
   landmark position.
4. Points that should not move with any exercise (nose bridge, canthi, upper cheeks,
   glabella) are tracked in the same call; a similarity fitted on where they went (the
   30 % that fit worst left out) is what the landmark placement got wrong, and corrects
   every tracked point. FaceMesh wanders by a few pixels from frame to frame even on a
   still face; uncorrected, that reads as one side moving, or shifts a lid by half its
   gap.
5. Eyelids have their own model (``analyzer.eyelids``): a lid slides over an eyeball
   that stays put. Their profiles are read through the same correction.

The result is the aligned landmark array with every tracked point replaced by where its
pixels went, in the neutral face's coordinates: ``analyzer.metrics.measure`` reads it
unchanged, so one set of definitions serves landmarks (tests) and pixels (live, offline).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt

from analyzer.eyelids import Coords, LidModel
from analyzer.face_points import (
    BROW,
    CANTHI,
    CHEEK,
    EYELIDS,
    LIP_EDGES,
    MOUTH_CORNER,
    NASAL_ALA,
    SIDES,
    STABLE_POINTS,
)
from analyzer.landmarks import FloatArray
from analyzer.metrics import face_axes

Gray = npt.NDArray[np.uint8]
Matrix = npt.NDArray[np.float64]  # (2, 3) affine

CANVAS_W, CANVAS_H = 184, 200  # brows to below the lower lip, cheek to cheek, and a margin
EYE_SPAN_PX = 96.0  # outer canthus to outer canthus on the canvas
EYE_LINE = (92.0, 70.0)  # where the point between the eyes sits on the canvas
WINDOW = (13, 13)
LEVELS = 2
FB_MAX_PX = 0.8
# The lips' outer edges: a pressed lip's vermilion is squeezed, not carried, so the
# forward and the backward track of its edge disagree by more than a carried point's
# do (measured: 0.8 px rejected 60-70 % of a pressing edge's frames, and the landmark
# kept instead barely sees a press). Still bounded: a lost point is not kept.
FB_MAX_LIP_PX = 3.0
_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 0.02)
_CLAHE = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(3, 3))

_LIDS = tuple(i for side in SIDES for pair in EYELIDS[side] for i in pair)
# Everything analyzer.metrics.measure reads, apart from the lids (tracked on their own).
_REGION_POINTS = tuple(
    dict.fromkeys(
        [
            *(i for side in SIDES for i in BROW[side]),
            *(i for side in SIDES for i in CANTHI[side]),
            *(i for side in SIDES for i in MOUTH_CORNER[side]),
            *(i for side in SIDES for i in NASAL_ALA[side]),
            *(i for side in SIDES for i in CHEEK[side]),
            *(i for side in SIDES for pair in LIP_EDGES[side] for i in pair),
        ]
    )
)
# Points whose pixels should not move with any exercise (nose bridge and tip, canthi,
# upper cheeks, glabella): their residual motion is head motion left over.
PIXEL_STABLE: tuple[int, ...] = (168, 6, 197, 195, 5, 4, 33, 133, 362, 263, 116, 345, 9, 8)
_ALL = np.array(_REGION_POINTS + PIXEL_STABLE)
_LIP_POINTS = {i for side in SIDES for pair in LIP_EDGES[side] for i in pair}
_FB_MAX = np.array([FB_MAX_LIP_PX if i in _LIP_POINTS else FB_MAX_PX for i in _ALL], dtype=np.float32)
PIXEL_STABLE_IDX = np.array(PIXEL_STABLE)
_N_REGION = len(_REGION_POINTS)
_LIDS_IDX = np.array(_LIDS)
_FIT_IDX = np.array(STABLE_POINTS)
_FIT_KEEP = max(4, int(len(STABLE_POINTS) * 0.75))


def canvas_matrix(points: FloatArray) -> Matrix:
    """Neutral image coordinates → canvas: the face's own axes, a fixed eye span."""
    axes = face_axes(points)
    span = float(np.linalg.norm(points[263, :2] - points[33, :2]))
    scale = EYE_SPAN_PX / span if span > 0 else 1.0
    linear = scale * axes.basis.T  # rows: across, down
    offset = np.array(EYE_LINE) - linear @ axes.origin
    return np.column_stack([linear, offset])


def apply(matrix: Matrix, xy: npt.ArrayLike) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = np.asarray(xy, dtype=np.float64) @ matrix[:, :2].T + matrix[:, 2]
    return out


def _apply_grid(matrix: Matrix, xy: tuple[Coords, Coords]) -> tuple[Coords, Coords]:
    """``apply`` to a grid of coordinates held as separate x and y arrays."""
    x, y = xy
    return (
        (matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2]).astype(np.float32),
        (matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2]).astype(np.float32),
    )


def invert(matrix: Matrix) -> Matrix:
    return np.asarray(cv2.invertAffineTransform(matrix), dtype=np.float64)


def fit_similarity(src: npt.ArrayLike, dst: npt.ArrayLike, keep: int) -> Matrix:
    """Similarity src → dst (rotation, scale, shift), refitted on the ``keep`` best-fitting
    points. Not a full affine: the fit points sit in the upper face, and a shear fitted
    on their landmark noise would be extrapolated, magnified, down to the mouth."""
    src64, dst64 = np.asarray(src, dtype=np.float64), np.asarray(dst, dtype=np.float64)
    first = _similarity(src64, dst64)
    residual = ((apply(first, src64) - dst64) ** 2).sum(axis=1)
    best = np.argsort(residual)[:keep]
    return _similarity(src64[best], dst64[best])


def to_canvas(gray: Gray, matrix: Matrix) -> Gray:
    warped = cv2.warpAffine(
        gray, matrix, (CANVAS_W, CANVAS_H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    # Local contrast normalised (CLAHE): a dim room, a change of exposure, a gamma-lifted
    # frame look alike to the tracker, and a dark eye socket keeps its lid edges.
    return np.asarray(_CLAHE.apply(warped), dtype=np.uint8)


def to_gray(rgb: npt.NDArray[np.uint8]) -> Gray:
    return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def _similarity(src: npt.NDArray[np.float64], dst: npt.NDArray[np.float64]) -> Matrix:
    """2-D similarity src → dst by least squares, as a (2, 3) matrix.

    In the plane, rotation times scale is [[a, -b], [b, a]] and the least-squares a and
    b have a closed form (Umeyama's answer without the SVD: a tenth of the time).
    """
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    xs, xd = src - mu_s, dst - mu_d
    var = float((xs * xs).sum())
    if var <= 0:
        return np.column_stack([np.eye(2), mu_d - mu_s])
    a = float((xs * xd).sum()) / var
    b = float((xs[:, 0] * xd[:, 1] - xs[:, 1] * xd[:, 0]).sum()) / var
    linear = np.array([[a, -b], [b, a]])
    return np.column_stack([linear, mu_d - linear @ mu_s])


@dataclass(frozen=True, eq=False)
class NeutralImage:
    """The neutral face's pixels on the canvas, and where its points sit there."""

    canvas: Gray
    matrix: Matrix  # neutral image coordinates → canvas
    back: Matrix  # canvas → neutral image coordinates
    start: npt.NDArray[np.float32]  # (len(_ALL), 2) canvas positions of the tracked points
    lids: LidModel  # the eyelids' predicted profiles
    fit_target: npt.NDArray[np.float64]  # canvas positions of STABLE_POINTS

    @classmethod
    def of(cls, neutral_points: FloatArray, canvas: Gray) -> NeutralImage:
        matrix = canvas_matrix(neutral_points)
        lids = apply(matrix, neutral_points[_LIDS_IDX, :2]).astype(np.float32)
        gaps = np.repeat(np.maximum(lids[1::2, 1] - lids[0::2, 1], 1.0), 2).astype(np.float64)
        return cls(
            canvas=canvas,
            matrix=matrix,
            back=invert(matrix),
            start=apply(matrix, neutral_points[_ALL, :2]).astype(np.float32),
            lids=LidModel(canvas, lids, gaps),
            fit_target=apply(matrix, neutral_points[_FIT_IDX, :2]),
        )

    @classmethod
    def from_frames(
        cls, neutral_points: FloatArray, frames: Sequence[tuple[FloatArray, Gray]]
    ) -> NeutralImage:
        """The pixelwise median of the calibration frames on the canvas (noise averages
        out; a blink in one frame does not count). FaceMesh in tracking mode wanders by a
        few pixels even on a still face, so each frame is placed by its landmarks and then
        registered by its pixels onto the frame whose placement is closest to the median.
        """
        matrix = canvas_matrix(neutral_points)
        target = apply(matrix, neutral_points[_FIT_IDX, :2])
        fits = [fit_similarity(pts[_FIT_IDX, :2], target, _FIT_KEEP) for pts, _ in frames]
        ref = int(np.argmin([np.abs(fit - matrix).sum() for fit in fits]))
        reference = to_canvas(frames[ref][1], fits[ref])
        stable = apply(matrix, neutral_points[PIXEL_STABLE_IDX, :2]).astype(np.float32)
        canvases = [
            register(reference, gray, fit, stable)[0] for (_, gray), fit in zip(frames, fits, strict=True)
        ]
        median = np.median(np.stack(canvases), axis=0).astype(np.uint8)
        return cls.of(neutral_points, median)

    def to_bytes(self) -> bytes:
        return self.canvas.tobytes()

    @classmethod
    def from_bytes(cls, neutral_points: FloatArray, data: bytes) -> NeutralImage:
        if len(data) != CANVAS_W * CANVAS_H:
            raise ValueError("neutral image checkpoint has the wrong size")
        return cls.of(neutral_points, np.frombuffer(data, dtype=np.uint8).reshape(CANVAS_H, CANVAS_W).copy())

    def track(self, gray: Gray, points: FloatArray, aligned: FloatArray) -> tuple[FloatArray, float | None]:
        """``aligned`` (landmarks aligned to the neutral) with each tracked point moved to
        where its pixels went; points that fail the checks keep the landmark value. And
        how far the landmarks misplaced the face on the canvas (px, the median over the
        never-moving points the pixels found; None when too few were found): what the
        pixels corrected, large when the landmarks are not this frame's."""
        to_cv = fit_similarity(points[_FIT_IDX, :2], self.fit_target, _FIT_KEEP)
        current = to_canvas(gray, to_cv)
        moved, ok = _lk(self.canvas, current, self.start, _FB_MAX)
        stable_ok = ok[_N_REGION:]
        misplaced = (
            float(
                np.median(
                    np.linalg.norm(moved[_N_REGION:][stable_ok] - self.start[_N_REGION:][stable_ok], axis=1)
                )
            )
            if int(stable_ok.sum()) >= 6
            else None
        )
        # Registration by pixels: where the points that never move went is what the
        # landmark placement got wrong; ``fix`` maps the current canvas onto the neutral's.
        fix = _residual(moved[_N_REGION:], ok[_N_REGION:], self.start[_N_REGION:])
        where = self.lids.where
        if fix is not None:
            moved = apply(fix, moved).astype(np.float32)
            where = _apply_grid(invert(fix), where)
        # Lids: their own model (analyzer.eyelids), since the eyeball they slide over
        # stays put; they travel along the canvas' vertical (the face's own).
        lids = self.lids.positions(self.lids.travel(self.lids.profiles(current, where)))

        out = aligned.copy()
        region = ok[:_N_REGION]
        out[_ALL[:_N_REGION][region], :2] = apply(self.back, moved[:_N_REGION][region])
        out[_LIDS_IDX, :2] = apply(self.back, lids)
        return out, misplaced


def _residual(
    found: npt.NDArray[np.float32], ok: npt.NDArray[np.bool_], stable: npt.NDArray[np.float32]
) -> Matrix | None:
    """Similarity taking where the never-moving points were found back to where they
    belong, the 30 % that fit worst left out; None with too few found."""
    if int(ok.sum()) < 6:
        return None
    return fit_similarity(found[ok], stable[ok], max(5, int(ok.sum() * 0.7)))


def compose(outer: Matrix, inner: Matrix) -> Matrix:
    """The affine ``outer(inner(p))``."""
    return np.column_stack([outer[:, :2] @ inner[:, :2], outer[:, :2] @ inner[:, 2] + outer[:, 2]])


def register(
    reference: Gray, gray: Gray, to_cv: Matrix, stable: npt.NDArray[np.float32]
) -> tuple[Gray, Matrix]:
    """``gray`` on the canvas, placed by ``to_cv`` (from landmarks) and then corrected by
    its pixels (``_residual`` of the never-moving points ``stable``, on ``reference``)."""
    canvas = to_canvas(gray, to_cv)
    found, ok = _lk(reference, canvas, stable)
    fix = _residual(found, ok, stable)
    if fix is None:
        return canvas, to_cv
    corrected = compose(fix, to_cv)
    return to_canvas(gray, corrected), corrected


def _lk(
    before: Gray,
    after: Gray,
    start: npt.NDArray[np.float32],
    fb_max: float | npt.NDArray[np.float32] = FB_MAX_PX,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Track ``start`` from ``before`` to ``after``; (positions, passed the checks:
    found both ways, forward-backward disagreement under ``fb_max`` px, on the canvas)."""
    p0 = start.reshape(-1, 1, 2)
    none = cast(Any, None)
    p1, st, _ = cv2.calcOpticalFlowPyrLK(
        before, after, p0, none, winSize=WINDOW, maxLevel=LEVELS, criteria=_CRITERIA
    )
    p0b, st_b, _ = cv2.calcOpticalFlowPyrLK(
        after, before, p1, none, winSize=WINDOW, maxLevel=LEVELS, criteria=_CRITERIA
    )
    fb = np.sqrt(((p0b - p0) ** 2).sum(axis=2)).ravel()
    ok = (st.ravel() == 1) & (st_b.ravel() == 1) & (fb < fb_max)
    inside = (p1[:, 0, 0] >= 0) & (p1[:, 0, 0] < CANVAS_W) & (p1[:, 0, 1] >= 0) & (p1[:, 0, 1] < CANVAS_H)
    return p1.reshape(-1, 2).astype(np.float32), ok & inside
