"""Pose and scale normalisation: map a frame's landmarks onto the neutral face.

A 3-D similarity transform (Umeyama's least squares) fitted on points that barely move
with expression (canthi, nose bridge, forehead, face outline) removes head rotation,
distance to the camera and translation, so what remains is facial movement.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from analyzer.face_points import STABLE_POINTS
from analyzer.landmarks import FloatArray


def similarity(
    src: npt.NDArray[np.floating[Any]], dst: npt.NDArray[np.floating[Any]]
) -> tuple[float, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Scale s, rotation R and translation t minimising |s R src + t - dst|²."""
    src64 = src.astype(np.float64, copy=False)
    dst64 = dst.astype(np.float64, copy=False)
    mu_s, mu_d = src64.mean(0), dst64.mean(0)
    xs, xd = src64 - mu_s, dst64 - mu_d
    cov = xd.T @ xs / len(src64)
    u, d, vt = np.linalg.svd(cov)
    # A reflection (det < 0) is not a head movement: flip the weakest axis instead.
    reflect = np.linalg.det(u @ vt) < 0
    if reflect:
        u[:, 2] = -u[:, 2]
        d = d.copy()
        d[2] = -d[2]
    rot = u @ vt
    var_s = float((xs * xs).sum()) / len(src64)
    scale = float(d.sum()) / var_s if var_s > 0 else 1.0
    trans = mu_d - scale * rot @ mu_s
    return scale, rot, trans


_STABLE_IDX = np.array(STABLE_POINTS)
KEEP_FRACTION = 0.75  # the second fit ignores the quarter of stable points that fit worst
_KEEP = max(4, int(len(STABLE_POINTS) * KEEP_FRACTION))


def align(points: FloatArray, reference: FloatArray) -> FloatArray:
    """``points`` transformed into ``reference``'s frame using the stable points.

    Two passes: the "stable" points are stable only mostly (a big smile lifts the lower
    lid and a canthus with it; FaceMesh drags the nose bridge along with a high brow), so
    after a first fit on all of them the worst-fitting quarter is left out of the second.
    """
    src = points[_STABLE_IDX].astype(np.float64)
    dst = reference[_STABLE_IDX].astype(np.float64)
    scale, rot, trans = similarity(src, dst)
    fitted = scale * src @ rot.T + trans - dst
    residual = (fitted * fitted).sum(axis=1)
    keep = np.argpartition(residual, _KEEP)[:_KEEP]
    scale, rot, trans = similarity(src[keep], dst[keep])
    out = (scale * points.astype(np.float64)) @ rot.T + trans
    return out.astype(np.float32)
