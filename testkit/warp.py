"""Image warps for synthetic faces, built so a landmark moves by exactly the amount asked.

Every warp here is a *backward* map (for each output pixel, where in the input it comes
from), because that is what ``cv2.remap`` samples without holes. Two kinds:

* ``SmoothField``: a sum of Gaussian bumps, the forward motion ``p -> p + d(p)``. Its
  inverse is found by fixed-point iteration, so a point at a bump's centre lands exactly
  ``d`` away; the naive ``p - d(p)`` is off by about ``|d| * |grad d|`` wherever the
  field is not flat, a pixel or more on a small face.
* ``Band``: a column-by-column vertical warp between contours (eyelids, lips). Each
  column has a few knots that move by given amounts and a piecewise-linear map between
  them, so it can squeeze the tissue *between* two contours (a lid towards the other lid,
  a lip's vermilion thinner), which no single bump can do.

Coordinates are float32 arrays of pixel positions (x right, y down), of any shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
Coords = tuple[FloatArray, FloatArray]

_REACH = 4.0  # a bump is cut off at 4 sigma, where its weight is 3e-4


@dataclass(frozen=True, slots=True)
class Bump:
    """A Gaussian-weighted translation: the centre moves by (dx, dy), the rest less."""

    x: float
    y: float
    dx: float
    dy: float
    sigma: float

    @classmethod
    def at(cls, point: FloatArray, dx: float, dy: float, sigma: float) -> Bump:
        """A bump centred on an (x, y) landmark position."""
        return cls(float(point[0]), float(point[1]), dx, dy, sigma)


def exact_bumps(wanted: Sequence[Bump]) -> list[Bump]:
    """Bumps whose *sum* moves each centre by the (dx, dy) asked of it there.

    Overlapping bumps add up, so a strip of them (ala, lip beside it) would move each
    point by more than its own amount; solving the small linear system for the
    amplitudes keeps every named amount exact.
    """
    if not wanted:
        return []
    centres = np.array([(b.x, b.y) for b in wanted])
    sigmas = np.array([b.sigma for b in wanted])
    d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    weights = np.exp(-d2 / (2 * sigmas[None, :] ** 2))  # [i, j]: bump j at centre i
    amplitudes = np.linalg.solve(weights, np.array([(b.dx, b.dy) for b in wanted]))
    return [
        Bump(b.x, b.y, float(ax), float(ay), b.sigma) for b, (ax, ay) in zip(wanted, amplitudes, strict=True)
    ]


class SmoothField:
    """The forward motion ``p -> p + sum of bumps(p)`` on an image of ``shape`` (h, w)."""

    def __init__(self, bumps: Sequence[Bump], shape: tuple[int, int]) -> None:
        self.bumps = [b for b in bumps if b.dx or b.dy]
        h, w = shape
        # The field sampled on the pixel grid, read back bilinearly while inverting.
        self._grid = np.zeros((h, w, 2) if self.bumps else (1, 1, 2), dtype=np.float32)
        for b in self.bumps:
            r = _REACH * b.sigma
            x0, x1 = max(int(b.x - r), 0), min(int(b.x + r) + 2, w)
            y0, y1 = max(int(b.y - r), 0), min(int(b.y + r) + 2, h)
            if x0 >= x1 or y0 >= y1:
                continue
            xs = np.arange(x0, x1, dtype=np.float32) - b.x
            ys = np.arange(y0, y1, dtype=np.float32) - b.y
            weight = np.exp(-(ys[:, None] ** 2 + xs[None, :] ** 2) / (2 * b.sigma**2))
            self._grid[y0:y1, x0:x1, 0] += b.dx * weight
            self._grid[y0:y1, x0:x1, 1] += b.dy * weight

    def __bool__(self) -> bool:
        return bool(self.bumps)

    def forward_points(self, points: FloatArray) -> FloatArray:
        """Where the given (n, 2) points move to (exact, not read from the grid)."""
        out = points[:, :2].astype(np.float32).copy()
        for b in self.bumps:
            d2 = (points[:, 0] - b.x) ** 2 + (points[:, 1] - b.y) ** 2
            weight = np.exp(-d2 / (2 * b.sigma**2))
            out[:, 0] += b.dx * weight
            out[:, 1] += b.dy * weight
        return out

    def inverse(self, x: FloatArray, y: FloatArray, iterations: int = 6) -> Coords:
        """The input positions that move to (x, y): solves ``p + d(p) = q`` for p.

        The iteration ``p <- q - d(p)`` contracts while the field's gradient stays below
        1 (no fold-over), which holds for bumps smaller than about 1.6 sigma.
        """
        if not self.bumps:
            return x, y
        shape = x.shape
        # remap wants 2-D maps; a list of points becomes one row (at most 32767 of them).
        qx, qy = (x, y) if x.ndim == 2 else (x.reshape(1, -1), y.reshape(1, -1))
        px, py = qx, qy
        for _ in range(iterations):
            d = cv2.remap(
                self._grid, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0.0, 0.0)
            ).reshape(*qx.shape, 2)
            px = qx - d[..., 0]
            py = qy - d[..., 1]
        return px.reshape(shape), py.reshape(shape)


class Band:
    """A vertical warp defined column by column between ``xs[0]`` and ``xs[-1]``.

    ``ys[k, i]`` is knot k's height at column ``xs[i]`` (non-decreasing in k) and
    ``dys[k, i]`` how far it moves down. Between knots the map is linear; above the first
    and below the last knot nothing moves, so the first and last ``dys`` must be 0 for
    the warp to be continuous. Columns between the samples are interpolated.
    """

    def __init__(self, xs: FloatArray, ys: FloatArray, dys: FloatArray) -> None:
        if ys.shape != dys.shape or ys.shape[1] != xs.shape[0]:
            raise ValueError("knots and displacements must be (K, len(xs))")
        self.xs = xs.astype(np.float32)
        self.ys = np.maximum.accumulate(ys.astype(np.float32), axis=0)
        new = self.ys + dys.astype(np.float32)
        self.new_ys = np.maximum.accumulate(new, axis=0)  # a fold would not be invertible

    def knots_at(self, x: FloatArray, new: bool = False) -> FloatArray:
        """(K, n) knot heights at arbitrary columns, before (or after) the motion."""
        src = self.new_ys if new else self.ys
        return np.stack([np.interp(x, self.xs, row).astype(np.float32) for row in src])

    def inverse(self, x: FloatArray, y: FloatArray) -> Coords:
        """Input positions of output positions (x, y)."""
        return x, self._map(x, y, self.new_ys, self.ys)

    def forward_points(self, points: FloatArray) -> FloatArray:
        out = points[:, :2].astype(np.float32).copy()
        out[:, 1] = self._map(out[:, 0], out[:, 1], self.ys, self.new_ys)
        return out

    def _map(self, x: FloatArray, y: FloatArray, src: FloatArray, dst: FloatArray) -> FloatArray:
        inside = (x >= self.xs[0]) & (x <= self.xs[-1]) & (y >= src[0].min()) & (y <= src[-1].max())
        if not inside.any():
            return y
        xi, yi = x[inside], y[inside]
        ks = np.stack([np.interp(xi, self.xs, row) for row in src]).astype(np.float32)
        kd = np.stack([np.interp(xi, self.xs, row) for row in dst]).astype(np.float32)
        out = yi.copy()
        for k in range(len(ks) - 1):
            seg = (yi >= ks[k]) & (yi < ks[k + 1])
            if not seg.any():
                continue
            lo, hi = ks[k][seg], ks[k + 1][seg]
            t = (yi[seg] - lo) / np.maximum(hi - lo, 1e-6)
            out[seg] = kd[k][seg] + t * (kd[k + 1][seg] - kd[k][seg])
        result = y.copy()
        result[inside] = out
        return result


def polyline_y(points: FloatArray, xs: FloatArray) -> FloatArray:
    """Height of the polyline through (n, 2) ``points`` (any order) at columns ``xs``."""
    order = np.argsort(points[:, 0])
    return np.interp(xs, points[order, 0], points[order, 1]).astype(np.float32)


def columns(points: FloatArray, step: float = 0.5) -> FloatArray:
    """Sample columns spanning the given points' x range."""
    return np.arange(points[:, 0].min(), points[:, 0].max() + step, step, dtype=np.float32)
