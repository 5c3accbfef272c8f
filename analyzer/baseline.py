"""The patient's neutral face: collected during calibration, then the reference for
every measure of the session.
"""

from __future__ import annotations

import numpy as np

from analyzer.alignment import align
from analyzer.landmarks import N_POINTS, FloatArray
from analyzer.metrics import Neutral, mm_per_unit


class Baseline:
    """The neutral face in its own (first calibration frame's) coordinates."""

    def __init__(self, points: FloatArray, mm_per_unit: float) -> None:
        self.neutral = Neutral.of(points, mm_per_unit)  # what every frame is measured against

    @property
    def points(self) -> FloatArray:
        return self.neutral.points

    @property
    def mm_per_unit(self) -> float:
        return self.neutral.mm

    def to_bytes(self) -> bytes:
        return self.points.astype(np.float32).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, n_points: int, mm: float) -> Baseline:
        if n_points != N_POINTS or len(data) != n_points * 3 * 4:
            raise ValueError("baseline checkpoint has the wrong shape")
        return cls(np.frombuffer(data, dtype=np.float32).reshape(n_points, 3).copy(), mm)


class Calibration:
    """Collects relaxed-face frames; the median of the aligned frames is the baseline."""

    def __init__(self, frames_needed: int) -> None:
        self.frames_needed = frames_needed
        self._samples: list[FloatArray] = []

    @property
    def progress(self) -> float:
        return min(1.0, len(self._samples) / self.frames_needed)

    def add(self, points: FloatArray) -> Baseline | None:
        """Add a good frame; returns the baseline once enough frames were seen."""
        ref = self._samples[0] if self._samples else points
        self._samples.append(align(points, ref))
        if len(self._samples) < self.frames_needed:
            return None
        neutral = np.median(np.stack(self._samples), axis=0).astype(np.float32)
        return Baseline(neutral, mm_per_unit(neutral))
