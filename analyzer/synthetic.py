"""Synthetic faces with known movement, made from a real photo, for tests, benchmarks
and the demo. A smooth local warp moves one landmark region (e.g. the left mouth corner)
by a known number of pixels; everything else in the photo stays put.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from analyzer.landmarks import FaceMeshLandmarker, FloatArray
from analyzer.metrics import BROW, MOUTH_CORNER, Side

Image = npt.NDArray[np.uint8]


def astronaut_face(width: int = 640, height: int = 480) -> Image:
    """scikit-image's bundled astronaut photo (public domain, NASA), cropped to the face."""
    from skimage import data  # test/benchmark dependency only

    img = data.astronaut()  # type: ignore[no-untyped-call]
    # The face spans about x 179-271, y 71-177 of the 512x512 photo; keep a margin.
    crop = img[20:230, 85:365]
    return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_CUBIC))


@dataclass(frozen=True, slots=True)
class Movement:
    """How far (in pixels of the base image) each side's region moves."""

    smile_left: float = 0.0  # patient's left mouth corner, up and out
    smile_right: float = 0.0
    brow_left: float = 0.0  # brow up
    brow_right: float = 0.0


class SyntheticFace:
    def __init__(self, image: Image) -> None:
        self.image = image
        detected = FaceMeshLandmarker(static_image_mode=True).detect(image)
        if detected is None:
            raise ValueError("no face found in the base image")
        self.landmarks: FloatArray = detected.points
        h, w = image.shape[:2]
        self._grid_x, self._grid_y = np.meshgrid(
            np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
        )
        eye_dist = float(np.linalg.norm(self.landmarks[263, :2] - self.landmarks[33, :2]))
        self.sigma = 0.18 * eye_dist

    def _centre(self, idx: Sequence[int]) -> FloatArray:
        return self.landmarks[list(idx), :2].mean(axis=0)  # type: ignore[no-any-return]

    def render(
        self,
        move: Movement,
        shift: tuple[float, float] = (0.0, 0.0),
        scale: float = 1.0,
        angle_deg: float = 0.0,
    ) -> Image:
        """The base photo with the given movement, then a global similarity motion."""
        dx = np.zeros_like(self._grid_x)
        dy = np.zeros_like(self._grid_y)
        # Patient's left is the image's right: "out" is +x for left, -x for right.
        sides: tuple[tuple[Side, float], ...] = (("left", 1.0), ("right", -1.0))
        for side, out_sign in sides:
            amount = move.smile_left if side == "left" else move.smile_right
            if amount:
                self._bump(dx, dy, self._centre(MOUTH_CORNER[side]), out_sign * amount * 0.5, -amount)
            lift = move.brow_left if side == "left" else move.brow_right
            if lift:
                self._bump(dx, dy, self._centre(BROW[side]), 0.0, -lift, sigma_scale=1.6)
        warped: Any = self.image
        if dx.any() or dy.any():
            # Backward mapping: the pixel shown at p comes from p - d(p).
            warped = cv2.remap(
                self.image,
                self._grid_x - dx,
                self._grid_y - dy,
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT,
            )
        if shift != (0.0, 0.0) or scale != 1.0 or angle_deg != 0.0:
            h, w = warped.shape[:2]
            m: Any = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, scale)
            m[:, 2] += shift
            warped = cv2.warpAffine(warped, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        return np.asarray(warped, dtype=np.uint8)

    def _bump(
        self,
        dx: FloatArray,
        dy: FloatArray,
        centre: FloatArray,
        ax: float,
        ay: float,
        sigma_scale: float = 1.0,
    ) -> None:
        sigma = self.sigma * sigma_scale
        weight = np.exp(-((self._grid_x - centre[0]) ** 2 + (self._grid_y - centre[1]) ** 2) / (2 * sigma**2))
        dx += ax * weight
        dy += ay * weight
