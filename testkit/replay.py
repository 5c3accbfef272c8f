"""A landmarker that hands back recorded landmark arrays, one per call, in order: the
``Landmarker`` protocol's point, for driving ``SessionAnalysis`` without a camera."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from analyzer.landmarks import FloatArray, Landmarks


class Replay:
    def __init__(self, tracks: list[FloatArray]) -> None:
        self.tracks = tracks

    def detect(self, image: npt.NDArray[np.uint8]) -> Landmarks | None:
        return Landmarks(self.tracks.pop(0), width=640, height=480)

    def close(self) -> None:
        pass
