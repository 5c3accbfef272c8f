"""Pose and scale normalisation: map a frame's landmarks onto the neutral face.

A 3-D similarity transform (Umeyama's least squares) fitted on points that barely move
with expression (canthi, nose bridge, forehead, face outline) removes head rotation,
distance to the camera and translation, so what remains is facial movement.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from analyzer.face_points import STABLE_POINTS
from analyzer.landmarks import FloatArray


def similarity(
    src: FloatArray, dst: FloatArray
) -> tuple[float, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Scale s, rotation R and translation t minimising |s R src + t - dst|²."""
    src64 = src.astype(np.float64)
    dst64 = dst.astype(np.float64)
    mu_s, mu_d = src64.mean(0), dst64.mean(0)
    xs, xd = src64 - mu_s, dst64 - mu_d
    cov = xd.T @ xs / len(src64)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1.0
    rot = u @ sign @ vt
    var_s = (xs**2).sum() / len(src64)
    scale = float(np.trace(np.diag(d) @ sign) / var_s) if var_s > 0 else 1.0
    trans = mu_d - scale * rot @ mu_s
    return scale, rot, trans


def align(points: FloatArray, reference: FloatArray) -> FloatArray:
    """``points`` transformed into ``reference``'s frame using the stable points."""
    idx = list(STABLE_POINTS)
    scale, rot, trans = similarity(points[idx], reference[idx])
    out = scale * points.astype(np.float64) @ rot.T + trans
    return out.astype(np.float32)
