"""The patient's neutral face: collected during calibration, then the reference for
every measure of the session (its landmarks, and its pixels for ``pixel_motion``).
"""

from __future__ import annotations

import numpy as np

from analyzer.alignment import align
from analyzer.landmarks import N_POINTS, FloatArray
from analyzer.metrics import Neutral, mm_per_unit
from analyzer.pixel_motion import Gray, NeutralImage


class Baseline:
    """The neutral face in its own (first calibration frame's) coordinates."""

    def __init__(self, points: FloatArray, mm_per_unit: float, image: NeutralImage | None = None) -> None:
        self.neutral = Neutral.of(points, mm_per_unit)  # what every frame is measured against
        self.image = image  # the neutral's pixels; None: landmarks only (tests, old checkpoints)

    @property
    def points(self) -> FloatArray:
        return self.neutral.points

    @property
    def mm_per_unit(self) -> float:
        return self.neutral.mm

    def aligned(self, points: FloatArray, gray: Gray | None) -> FloatArray:
        """A frame's landmarks in the neutral's frame, each measured point moved to where
        its pixels went when the neutral's pixels and the frame's are known."""
        return self.placed(points, gray)[0]

    def placed(self, points: FloatArray, gray: Gray | None) -> tuple[FloatArray, float | None]:
        """``aligned``, and how far (canvas px) the pixels found the landmarks had
        misplaced the face (``NeutralImage.track``; None without pixels)."""
        aligned = align(points, self.points)
        if self.image is None or gray is None:
            return aligned, None
        return self.image.track(gray, points, aligned)

    def to_bytes(self) -> bytes:
        return self.points.astype(np.float32).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, n_points: int, mm: float, image: bytes = b"") -> Baseline:
        if n_points != N_POINTS or len(data) != n_points * 3 * 4:
            raise ValueError("baseline checkpoint has the wrong shape")
        points = np.frombuffer(data, dtype=np.float32).reshape(n_points, 3).copy()
        return cls(points, mm, NeutralImage.from_bytes(points, image) if image else None)


class Calibration:
    """Collects relaxed-face frames; the median of the aligned frames is the baseline."""

    def __init__(self, frames_needed: int) -> None:
        self.frames_needed = frames_needed
        self._samples: list[FloatArray] = []
        self._frames: list[tuple[FloatArray, Gray]] = []  # raw landmarks and pixels

    @property
    def progress(self) -> float:
        return min(1.0, len(self._samples) / self.frames_needed)

    def add(self, points: FloatArray, gray: Gray | None = None) -> Baseline | None:
        """Add a good frame; returns the baseline once enough frames were seen."""
        ref = self._samples[0] if self._samples else points
        self._samples.append(align(points, ref))
        if gray is not None:
            self._frames.append((points, gray))
        if len(self._samples) < self.frames_needed:
            return None
        neutral = np.median(np.stack(self._samples), axis=0).astype(np.float32)
        image = NeutralImage.from_frames(neutral, self._frames) if self._frames else None
        self._frames = []  # the pixels are not kept beyond the neutral canvas
        return Baseline(neutral, mm_per_unit(neutral), image)
