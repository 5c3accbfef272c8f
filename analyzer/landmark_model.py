"""FaceMesh's own landmark model, run directly through LiteRT on a face region tracked
from the previous frame: the default landmarker (``TELEREHAB_LANDMARKER=tracked``; the
whole graph is ``analyzer.landmarks.FaceMeshLandmarker``).

MediaPipe's FaceMesh graph costs ~2.9 ms a frame on one core here; the landmark model it
wraps costs ~1.2 ms. The rest is the graph: image conversion, the attention model's
refinement of lips, eyes and irises, tensor plumbing and a hand-off between threads.
This backend does what the graph does in tracking mode, with the same model file the
``mediapipe`` wheel ships (``face_landmark.tflite``; nothing is downloaded):

1. the region of interest is the previous frame's landmarks' bounding box, 1.5× larger,
   square, turned so the eye corners (33 → 263) lie level, as in MediaPipe's
   ``face_landmark_landmarks_to_roi`` graph;
2. that region is warped to 192×192 and the model gives 468 points and a face score;
3. when there is no previous frame, or the score drops below ``min_confidence``, the full
   FaceMesh graph finds the face again (``_with_graph``) and the model runs on its region.

The graph also refines eyes, lips and irises with a second model (the attention
model, whose custom operators LiteRT does not have), and the pixel measurement anchors
on those refined points at the neutral (a lid's margin, a mouth corner's droop). So on
the first ``LEARN_FRAMES`` frames of each track the graph runs too, and what its
refinement adds to each point *in the crop's own coordinates* (which move, turn and
scale with the head) is learned per face (``Refinement``) and added on every later frame.
The irises (which the landmark model does not have) are learned the same way, from the
midpoint of their eye's corners. An iris's size relative to the face is a property of the
face; only the millimetre scale (11.7 mm iris) and the framing check read it.

The attention model's refinement is not a constant: it follows the lids as they close.
Learned as an offset it is right for the face it was learned on: a relaxed face, in a
live session (the track's first frames are the calibration). A recorded clip may open
mid-movement (eyes shut, say); learned there, the offset would carry the shut lids into
every later frame, the neutral's included. So ``telerehab analyze`` primes the
landmarker on the neutral frames it found (``prime``) and reads the clip again. The
pixels, not these points, measure each frame's lids.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from importlib import resources
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from analyzer.landmarks import N_POINTS, FaceMeshLandmarker, FloatArray, Landmarker, Landmarks

log = logging.getLogger(__name__)

MODEL_SIZE = 192  # the model's square input, pixels
MESH_POINTS = 468
ROI_SCALE = 1.5  # MediaPipe: the landmarks' box grown by half for the next frame's crop
ROTATION_FROM, ROTATION_TO = 33, 263  # outer eye corners: their line is turned level
LEARN_FRAMES = 15  # a track's first frames (1 s at 15 fps), on which the graph runs too
# Each iris (centre, then four edge points) and the eye corners it is placed from.
IRIS_EYES: tuple[tuple[slice, int, int], ...] = ((slice(468, 473), 33, 133), (slice(473, 478), 362, 263))


def model_path() -> str:
    """The landmark model inside the pinned ``mediapipe`` wheel."""
    return str(resources.files("mediapipe") / "modules" / "face_landmark" / "face_landmark.tflite")


def region(points: FloatArray) -> tuple[float, float, float, float]:
    """(centre x, centre y, side, angle) in pixels: where the next crop is taken."""
    x, y = points[:MESH_POINTS, 0], points[:MESH_POINTS, 1]
    x0, x1, y0, y1 = float(x.min()), float(x.max()), float(y.min()), float(y.max())
    dx = float(points[ROTATION_TO, 0] - points[ROTATION_FROM, 0])
    dy = float(points[ROTATION_TO, 1] - points[ROTATION_FROM, 1])
    side = ROI_SCALE * max(x1 - x0, y1 - y0)
    return (x0 + x1) / 2, (y0 + y1) / 2, side, math.atan2(dy, dx)


Matrix = npt.NDArray[np.float64]  # (2, 3) affine


def crop_matrix(cx: float, cy: float, side: float, angle: float) -> Matrix:
    """The 2×3 affine map from crop pixels to image pixels."""
    scale = side / MODEL_SIZE
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    half = MODEL_SIZE / 2
    return np.array(
        [[cos, -sin, cx - (cos - sin) * half], [sin, cos, cy - (sin + cos) * half]], dtype=np.float64
    )


def to_crop(matrix: Matrix, points: FloatArray) -> npt.NDArray[np.float64]:
    """Image points (n, 3) in the crop's coordinates (z scaled like x)."""
    inverse = cv2.invertAffineTransform(matrix)
    out = np.empty(points.shape, dtype=np.float64)
    out[:, :2] = points[:, :2] @ inverse[:, :2].T + inverse[:, 2]
    out[:, 2] = points[:, 2] * float(np.hypot(inverse[0, 0], inverse[1, 0]))
    return out


def to_image(matrix: Matrix, crop: npt.NDArray[np.float64]) -> FloatArray:
    out = np.empty(crop.shape, dtype=np.float32)
    out[:, :2] = crop[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    out[:, 2] = crop[:, 2] * float(np.hypot(matrix[0, 0], matrix[1, 0]))
    return out


def with_iris_bases(mesh: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The model's 468 points and, in the 10 iris rows, the midpoint of that eye's corners
    (what a learned iris offset is added to)."""
    out = np.empty((N_POINTS, 3), dtype=np.float64)
    out[:MESH_POINTS] = mesh
    for rows, inner, outer in IRIS_EYES:
        out[rows] = (mesh[inner] + mesh[outer]) / 2
    return out


class Refinement:
    """What the graph's refinement adds to each point, learned in crop coordinates on a
    track's first frames (the median: one odd frame does not count)."""

    def __init__(self) -> None:
        self._seen: list[npt.NDArray[np.float64]] = []
        self._offset: npt.NDArray[np.float64] | None = None

    @property
    def learned(self) -> int:
        return len(self._seen)

    def reset(self) -> None:
        self._seen, self._offset = [], None

    def learn(self, graph: npt.NDArray[np.float64], model: npt.NDArray[np.float64]) -> None:
        self._seen.append(graph - model)
        self._offset = None

    def apply(self, model: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if not self._seen:
            return model
        if self._offset is None:
            self._offset = np.median(np.stack(self._seen), axis=0)
        return model + self._offset


class _SharedFinder:
    """The whole graph in static-image mode (no state between calls), one per process and
    confidence, shared by every tracked landmarker: a graph made and closed per session
    left about 4 MB behind each time (MediaPipe's threads and their allocations), which a
    worker taking session after session for days must not. A lock, since the offline
    command and the tests may call from several threads."""

    def __init__(self, min_confidence: float) -> None:
        self._graph = FaceMeshLandmarker(static_image_mode=True, min_confidence=min_confidence)
        self._lock = threading.Lock()

    def detect(self, image: npt.NDArray[np.uint8]) -> Landmarks | None:
        with self._lock:
            return self._graph.detect(image)


_FINDERS: dict[float, _SharedFinder] = {}
_FINDERS_LOCK = threading.Lock()


def _shared_finder(min_confidence: float) -> _SharedFinder:
    with _FINDERS_LOCK:
        if min_confidence not in _FINDERS:
            _FINDERS[min_confidence] = _SharedFinder(min_confidence)
        return _FINDERS[min_confidence]


class TrackedLandmarker:
    """The landmark model on a tracked region, refined as the graph would; the FaceMesh
    graph only to find the face (first frame, lost face) and on a track's first frames.
    One instance per video stream, like the graph in tracking mode."""

    def __init__(self, *, min_confidence: float = 0.5, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter  # heavy import, load lazily

        self._model: Any = Interpreter(model_path=model_path(), num_threads=threads)
        self._model.allocate_tensors()
        (inp,) = self._model.get_input_details()
        outputs = {int(np.prod(d["shape"])): d["index"] for d in self._model.get_output_details()}
        self._input = inp["index"]
        self._mesh_out, self._score_out = outputs[MESH_POINTS * 3], outputs[1]
        self._min_score = min_confidence
        self._finder = _shared_finder(min_confidence)
        self._previous: FloatArray | None = None  # the model's own points: the next region
        self._refinement = Refinement()
        self._graph_runs = 0  # on this track: the graph is given up after 2 x LEARN_FRAMES
        self._primed = False  # learned on given relaxed-face images: kept for every track
        self._tensor = np.empty((1, MODEL_SIZE, MODEL_SIZE, 3), dtype=np.float32)

    def detect(self, image: npt.NDArray[np.uint8]) -> Landmarks | None:
        height, width = image.shape[:2]
        found = self._run(image, self._previous) if self._previous is not None else None
        learning = not self._primed and (
            self._refinement.learned < LEARN_FRAMES and self._graph_runs < 2 * LEARN_FRAMES
        )
        if found is None or learning:
            found = self._with_graph(image, found)
        if found is None:
            self._previous = None
            return None
        crop, matrix = found
        self._previous = to_image(matrix, crop)
        points = to_image(matrix, self._refinement.apply(crop))
        return Landmarks(points=points, width=width, height=height)

    def _with_graph(
        self, image: npt.NDArray[np.uint8], tracked: tuple[npt.NDArray[np.float64], Matrix] | None
    ) -> tuple[npt.NDArray[np.float64], Matrix] | None:
        """The graph finds the face (a new track: the model then reads it from the graph's
        region, so every frame's points come from one model) and its refinement is learned."""
        graph = self._finder.detect(image)
        self._graph_runs += 1
        if graph is None:
            return tracked
        if tracked is None:
            if not self._primed:
                self._refinement.reset()
            self._graph_runs = 1
            tracked = self._run(image, graph.points)
            if tracked is None:
                return None
        if not self._primed:
            crop, matrix = tracked
            self._refinement.learn(to_crop(matrix, graph.points), crop)
        return tracked

    def prime(self, images: Sequence[npt.NDArray[np.uint8]]) -> bool:
        """Learn the refinement from these images of a relaxed face (the neutral a
        recorded clip was found to have), as a live session learns it during calibration,
        and keep it for every later track of this instance (one clip, one face). True if
        anything was learned; the next ``detect`` starts a new track."""
        self._refinement.reset()
        previous: FloatArray | None = None
        for image in images[: 2 * LEARN_FRAMES]:
            graph = self._finder.detect(image)
            if graph is None:
                continue
            # The model on the region the previous image's points give, as a track reads
            # it (its points in a crop of the graph's own region differ a little).
            found = self._run(image, previous if previous is not None else graph.points)
            if found is None:
                continue
            crop, matrix = found
            self._refinement.learn(to_crop(matrix, graph.points), crop)
            previous = to_image(matrix, crop)
        self._primed = self._refinement.learned > 0
        self._previous = None
        return self._primed

    def _run(
        self, image: npt.NDArray[np.uint8], prior: FloatArray
    ) -> tuple[npt.NDArray[np.float64], Matrix] | None:
        """The model on the region ``prior`` gives: (478 points in crop coordinates, iris
        rows at their eye's corners' midpoint; the crop → image map), or None if it sees
        no face there."""
        cx, cy, side, angle = region(prior)
        if side < 8:
            return None
        matrix = crop_matrix(cx, cy, side, angle)
        crop = cv2.warpAffine(
            image,
            matrix,
            (MODEL_SIZE, MODEL_SIZE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        np.multiply(crop, np.float32(1 / 255), out=self._tensor[0], casting="unsafe")
        self._model.set_tensor(self._input, self._tensor)
        self._model.invoke()
        score = 1 / (1 + math.exp(-float(self._model.get_tensor(self._score_out).ravel()[0])))
        if score < self._min_score:
            return None
        raw = self._model.get_tensor(self._mesh_out).reshape(MESH_POINTS, 3).astype(np.float64)
        return with_iris_bases(raw), matrix

    def close(self) -> None:
        pass  # the finder is the process's (_shared_finder); the interpreter goes with us


def make_landmarker(kind: str = "tracked") -> Landmarker:
    """The landmarker ``TELEREHAB_LANDMARKER`` names (shared.settings.LANDMARKERS)."""
    if kind == "facemesh":
        return FaceMeshLandmarker()
    if kind == "tracked":
        return TrackedLandmarker()
    raise ValueError(f"unknown landmarker {kind!r}")
