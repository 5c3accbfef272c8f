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


_STABLE_IDX = np.array(STABLE_POINTS)
KEEP_FRACTION = 0.75  # the second fit ignores the quarter of stable points that fit worst


def align(points: FloatArray, reference: FloatArray) -> FloatArray:
    """``points`` transformed into ``reference``'s frame using the stable points.

    Two passes: the "stable" points are stable only mostly (a big smile lifts the lower
    lid and a canthus with it; FaceMesh drags the nose bridge along with a high brow), so
    after a first fit on all of them the worst-fitting quarter is left out of the second.
    """
    src, dst = points[_STABLE_IDX], reference[_STABLE_IDX]
    scale, rot, trans = similarity(src, dst)
    residual = np.linalg.norm(scale * src.astype(np.float64) @ rot.T + trans - dst, axis=1)
    keep = np.argsort(residual)[: max(4, int(len(residual) * KEEP_FRACTION))]
    scale, rot, trans = similarity(src[keep], dst[keep])
    out = scale * points.astype(np.float64) @ rot.T + trans
    return out.astype(np.float32)
