"""How far each eyelid margin travelled, read from the pixels above and below it.

A lid slides over an eyeball that stays where it is, so a window on the margin holds
two motions at once (the lid's and the still iris's) and a tracker like Lucas-Kanade
settles in between: it read an eye closing 80 % of its gap as about 35 %. Here each lid
is modelled as it moves: along the line through the lid point, perpendicular to the eye
(the canvas' vertical), the skin outside the opening stretches from a fixed point out
to the margin, the margin travels by ``d`` towards the other lid, and inside the new
margin the eyeball shows as it did. The ``d`` whose prediction, made from the neutral
canvas, best matches the current canvas is the lid's travel. The margin itself is
searched within a pixel of the landmark (a model's guess). Profiles are the mean of
three columns, so one lash or speck of noise does not decide.

Every prediction depends on the neutral face only, so ``LidModel`` makes them once
(at calibration); a frame then costs one ``cv2.remap`` and two matrix products.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]
Coords = npt.NDArray[np.float32]

SKIN_SPAN = (1.2, 0.8)  # (upper, lower) lid: skin beyond the margin that follows it, of the gap
OPENING_SHOWN_PX = 2.0  # of the eyeball beside the new margin, compared too
MOST_OPEN, MOST_CLOSED = -0.3, 0.95  # range of travel searched, as fractions of the gap
CANDIDATES = 32
SAMPLES = 40
MARGIN_OFFSETS = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])  # px around the landmark's margin
SLACK_PX = 1.0
COLUMNS = np.array([-1.0, 0.0, 1.0])  # px either side of the lid point, averaged


class LidModel:
    """The predicted profiles of every lid point for every travel, from the neutral."""

    def __init__(self, neutral: Gray, lids: npt.NDArray[np.float32], gaps: npt.NDArray[np.float64]) -> None:
        n = len(lids)
        upper = np.arange(n) % 2 == 0  # lids alternate: upper, lower
        self.sign = np.where(upper, 1.0, -1.0)  # towards the opening, on the canvas' y
        span = np.where(upper, SKIN_SPAN[0], SKIN_SPAN[1]) * gaps
        # (n, D) travels searched; (n, S) sample positions v along the column, from the
        # landmark's margin towards the opening.
        self.cands = np.linspace(MOST_OPEN, MOST_CLOSED, CANDIDATES)[None, :] * gaps[:, None]
        v_end = self.cands[:, -1] + OPENING_SHOWN_PX + SLACK_PX
        self.v = (
            np.linspace(0.0, 1.0, SAMPLES)[None, :] * (v_end + span + SLACK_PX)[:, None]
            - (span + SLACK_PX)[:, None]
        )
        self.lids = lids.astype(np.float64)
        self.where = self._sample_points()  # canvas (x, y) of every profile sample
        neutral_profiles = self.profiles(neutral)  # (n, S)

        o = MARGIN_OFFSETS[None, :, None, None]  # (1, O, 1, 1)
        d = self.cands[:, None, :, None]  # (n, 1, D, 1)
        v = self.v[:, None, None, :]  # (n, 1, 1, S)
        sp = span[:, None, None, None]
        u = v - o  # from the margin
        # Skin and margin stretch from -span (fixed) out to d; beyond d the eyeball as it was.
        source = o + np.where(u <= d, -sp + (u + sp) * sp / (sp + d), u)
        predicted = np.empty(source.shape)
        for i in range(n):  # np.interp is 1-D: once per lid point, at calibration only
            predicted[i] = np.interp(source[i], self.v[i], neutral_profiles[i])
        mask = (u >= -sp) & (u <= d + OPENING_SHOWN_PX)
        weight = mask / np.maximum(mask.sum(axis=3, keepdims=True), 1)  # (n, O, D, S)
        # A frame's cost, sum w (c - p)^2, is  w @ c^2 - 2 (w p) @ c + sum w p^2: two
        # matrix products per frame instead of an (n, O, D, S) array.
        rows = (n, len(MARGIN_OFFSETS) * CANDIDATES, -1)
        self._weight = weight.reshape(rows)
        self._weighted = (weight * predicted).reshape(rows)
        self._constant = (weight * predicted * predicted).sum(axis=3).reshape(n, -1)

    def _sample_points(self) -> tuple[Coords, Coords]:
        """Canvas (x, y) of every profile sample: (n * columns, S) each."""
        n, shape = len(self.lids), (len(self.lids), len(COLUMNS), self.v.shape[1])
        x = np.broadcast_to(self.lids[:, 0, None, None] + COLUMNS[None, :, None], shape)
        y = np.broadcast_to(self.lids[:, 1, None, None] + (self.sign[:, None] * self.v)[:, None, :], shape)
        return (
            x.reshape(n * len(COLUMNS), -1).astype(np.float32),
            y.reshape(n * len(COLUMNS), -1).astype(np.float32),
        )

    def profiles(self, image: Gray, where: tuple[Coords, Coords] | None = None) -> npt.NDArray[np.float32]:
        """(n, S) profiles of ``image``, at ``where`` (default: the neutral's own places)."""
        x, y = where if where is not None else self.where
        sampled = cv2.remap(image, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out: npt.NDArray[np.float32] = (
            np.asarray(sampled, dtype=np.float32).reshape(len(self.lids), len(COLUMNS), -1).mean(axis=1)
        )
        return out

    def positions(self, travel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Where the lid points are after ``travel`` (canvas (n, 2))."""
        moved = self.lids.copy()
        moved[:, 1] += travel * self.sign
        return moved

    def travel(self, current: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Each lid point's travel (canvas px) towards the other lid, negative: opening,
        from the current frame's (n, S) profiles."""
        c = current.astype(np.float64)[:, :, None]  # (n, S, 1)
        cost = (self._weight @ (c * c) - 2 * (self._weighted @ c))[:, :, 0] + self._constant
        cost = cost.reshape(len(c), len(MARGIN_OFFSETS), CANDIDATES)  # (n, O, D)
        rows = cost[np.arange(len(cost)), np.argmin(cost.min(axis=2), axis=1)]  # (n, D)
        best = np.argmin(rows, axis=1)
        inner = np.clip(best, 1, rows.shape[1] - 2)
        idx = np.arange(len(rows))
        c0, c1, c2 = rows[idx, inner - 1], rows[idx, inner], rows[idx, inner + 1]
        denom = c0 - 2 * c1 + c2
        shift = np.where((best == inner) & (denom > 0), 0.5 * (c0 - c2) / np.where(denom > 0, denom, 1), 0.0)
        step = self.cands[:, 1] - self.cands[:, 0]
        return np.asarray(self.cands[idx, best] + shift * step, dtype=np.float64)
