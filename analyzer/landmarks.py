"""Face landmarks behind a small interface, so another model (or recorded landmarks in
tests) can slot in. The default backend is MediaPipe FaceMesh with refined irises.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

N_POINTS = 478  # 468 mesh points + 10 iris points (refine_landmarks=True)


@dataclass(frozen=True, slots=True)
class Landmarks:
    """Face landmarks in image pixels: x right, y down, z depth scaled like x."""

    points: FloatArray  # shape (N_POINTS, 3)
    width: int
    height: int


class Landmarker(Protocol):
    def detect(self, image: npt.NDArray[np.uint8]) -> Landmarks | None:
        """Landmarks of the most prominent face in an RGB image, or None."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Primable(Protocol):
    """A landmarker that learns something per face (``analyzer.landmark_model``): told
    which images show the face relaxed, it learns from those, as a live session's
    calibration teaches it. False: nothing learned (nothing to learn, or no face)."""

    def prime(self, images: Sequence[npt.NDArray[np.uint8]]) -> bool: ...


# Wire layout of one NormalizedLandmark with x, y, z set (and nothing else):
# 0x0a <len 15> | 0x0d <f32 x> | 0x15 <f32 y> | 0x1d <f32 z>  — 17 bytes.
_WIRE_LANDMARK = np.dtype(
    [
        ("key", "u1"),
        ("len", "u1"),
        ("kx", "u1"),
        ("x", "<f4"),
        ("ky", "u1"),
        ("y", "<f4"),
        ("kz", "u1"),
        ("z", "<f4"),
    ]
)


def landmarks_to_array(landmark_list: Any) -> FloatArray:
    """(n, 3) float32 from a NormalizedLandmarkList.

    Reading 478 protobuf objects attribute by attribute costs ~0.4 ms a frame (6 % of
    FaceMesh itself); parsing the serialised message with numpy costs ~0.03 ms. Any
    message that does not have the expected fixed layout takes the slow, general path.
    """
    data = landmark_list.SerializeToString()
    if len(data) % _WIRE_LANDMARK.itemsize == 0:
        wire = np.frombuffer(data, dtype=_WIRE_LANDMARK)
        if (
            (wire["key"] == 0x0A).all()
            and (wire["len"] == 15).all()
            and (wire["kx"] == 0x0D).all()
            and (wire["ky"] == 0x15).all()
            and (wire["kz"] == 0x1D).all()
        ):
            out = np.empty((len(wire), 3), dtype=np.float32)
            out[:, 0], out[:, 1], out[:, 2] = wire["x"], wire["y"], wire["z"]
            return out
    lms = landmark_list.landmark
    return np.fromiter(
        (c for p in lms for c in (p.x, p.y, p.z)), dtype=np.float32, count=len(lms) * 3
    ).reshape(-1, 3)


class FaceMeshLandmarker:
    """MediaPipe FaceMesh (the model ships inside the ``mediapipe`` wheel; nothing is
    downloaded). Tracking mode: keep one instance per video stream so it can follow the
    face from frame to frame instead of re-detecting it every time.
    """

    def __init__(self, *, static_image_mode: bool = False, min_confidence: float = 0.5) -> None:
        from mediapipe.python.solutions import face_mesh  # heavy import, load lazily

        self._mesh: Any = face_mesh.FaceMesh(
            static_image_mode=static_image_mode,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )

    def detect(self, image: npt.NDArray[np.uint8]) -> Landmarks | None:
        height, width = image.shape[:2]
        result = self._mesh.process(image)
        if not result.multi_face_landmarks:
            return None
        points = landmarks_to_array(result.multi_face_landmarks[0])
        if points.shape[0] != N_POINTS:
            log.warning("landmarker returned %d points, expected %d", points.shape[0], N_POINTS)
            return None
        points *= np.array([width, height, width], dtype=np.float32)
        return Landmarks(points=points, width=width, height=height)

    def close(self) -> None:
        self._mesh.close()
