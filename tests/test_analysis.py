"""The per-frame measures on a real face photo with known, synthetic movement."""

from __future__ import annotations

import cv2
import msgspec
import numpy as np
import pytest

from analyzer.alignment import align
from analyzer.analysis import AnalysisConfig, SessionAnalysis
from analyzer.cues import CUE_FACE_CAMERA
from analyzer.frames import encode_jpeg
from analyzer.landmarks import FaceMeshLandmarker, Landmarks
from analyzer.metrics import Neutral, measure, mm_per_unit
from analyzer.pixel_motion import CANVAS_H, CANVAS_W
from shared.messages import Feedback, Frame
from testkit.synthetic import FACES, Movement, SyntheticFace

pytestmark = pytest.mark.slow


def frame(image: np.ndarray, seq: int) -> Frame:
    small = cv2.resize(image, (320, 240), interpolation=cv2.INTER_AREA)
    return Frame(
        sid="unit-test-1",
        seq=seq,
        captured_ms=0,
        width=320,
        height=240,
        encoding="jpeg",
        data=encode_jpeg(small, 85),
    )


def settle(analysis: SessionAnalysis, image: np.ndarray, n: int = 8) -> Feedback:
    result = None
    for i in range(n):
        result = analysis.process(frame(image, i))
    assert result is not None
    return result


_FACES: dict[str, SyntheticFace] = {}


@pytest.fixture(params=["astronaut", "hopper"])
def any_face(request: pytest.FixtureRequest, face: SyntheticFace) -> SyntheticFace:
    """Both bundled photos: a younger man, and an older woman with glasses."""
    if request.param == "astronaut":
        return face
    if request.param not in _FACES:
        _FACES[request.param] = SyntheticFace(FACES[request.param]())
    return _FACES[request.param]


@pytest.fixture
def calibrated(any_face: SyntheticFace) -> SessionAnalysis:
    analysis = SessionAnalysis("unit-test-1", "w", FaceMeshLandmarker())
    result = settle(analysis, any_face.render(Movement()), 25)
    assert result.status == "tracking"
    return analysis


def test_still_neutral_face_is_at_rest_even_when_the_head_moves(
    calibrated: SessionAnalysis, any_face: SyntheticFace
) -> None:
    for shift, scale, angle in (((20.0, 10.0), 1.0, 0.0), ((0.0, 0.0), 1.15, 0.0), ((-10.0, 5.0), 0.9, 8.0)):
        result = settle(calibrated, any_face.render(Movement(), shift=shift, scale=scale, angle_deg=angle))
        assert result.status == "tracking", (result.cues, shift, scale, angle)
        for name, region in result.regions.items():
            assert region.symmetry is None or region.symmetry > 0.5, (name, shift, scale, angle, region)
            assert max(region.excursion.left, region.excursion.right) < 2.0, (name, region)


def test_one_sided_smile_names_the_weaker_side(calibrated: SessionAnalysis, any_face: SyntheticFace) -> None:
    left = settle(calibrated, any_face.render(Movement(smile_left=14)))
    mouth = left.regions["mouth"]
    assert mouth.weaker == "right" and mouth.symmetry is not None and mouth.symmetry < 0.5
    right = settle(calibrated, any_face.render(Movement(smile_right=14)))
    assert right.regions["mouth"].weaker == "left"
    both = settle(calibrated, any_face.render(Movement(smile_left=14, smile_right=14)))
    assert both.regions["mouth"].symmetry is not None and both.regions["mouth"].symmetry > 0.8


def test_brow_raise_on_one_side(calibrated: SessionAnalysis, any_face: SyntheticFace) -> None:
    result = settle(calibrated, any_face.render(Movement(brow_right=12)))
    brow = result.regions["brow"]
    assert brow.weaker == "left" and brow.excursion.right > brow.excursion.left


def test_a_tilted_head_is_gated_with_a_cue(calibrated: SessionAnalysis, any_face: SyntheticFace) -> None:
    tilted = any_face.render(Movement(), angle_deg=45)
    for seq in (97, 98, 99):  # FaceMesh's tracking takes a frame or two to catch up
        result = calibrated.process(frame(tilted, seq))
    assert result.status == "bad_pose" and result.cues == [CUE_FACE_CAMERA]


def test_alignment_removes_rotation_scale_and_translation(face: SyntheticFace) -> None:
    neutral = face.landmarks
    theta = np.radians(12)
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    moved = (1.3 * neutral @ rot.T + np.array([40.0, -25.0, 3.0])).astype(np.float32)
    aligned = align(moved, neutral)
    assert np.abs(aligned - neutral).max() < 1e-3
    m = measure(aligned, Neutral.of(neutral, mm_per_unit(neutral)))
    assert all(v < 1e-3 for sides in m.excursion.values() for v in sides.values())


def test_millimetres_come_from_the_iris(face: SyntheticFace) -> None:
    # Iris ≈ 11.7 mm; the photo's inter-pupil distance should come out at an adult's 55-75 mm.
    pts = face.landmarks
    ipd_mm = float(np.linalg.norm(pts[468, :2] - pts[473, :2])) * mm_per_unit(pts)
    assert 50 < ipd_mm < 80


def test_fast_landmark_parsing_matches_the_protobuf_objects() -> None:
    from mediapipe.framework.formats import landmark_pb2

    from analyzer.landmarks import landmarks_to_array

    rng = np.random.default_rng(1)
    msg = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in rng.normal(size=(478, 3)):
        msg.landmark.add(x=x, y=y, z=z)
    expected = np.array([(p.x, p.y, p.z) for p in msg.landmark], dtype=np.float32)
    assert np.array_equal(landmarks_to_array(msg), expected)
    msg.landmark[5].visibility = 0.5  # another layout: the general path must take it
    assert np.array_equal(landmarks_to_array(msg), expected)


def test_resting_droop_on_one_side_is_measured_in_millimetres(face: SyntheticFace) -> None:
    def resting(move: Movement) -> tuple[float, float, float, float]:
        analysis = SessionAnalysis("unit-test-1", "w", FaceMeshLandmarker())
        settle(analysis, face.render(move), 25)
        assert analysis.engine is not None and analysis.baseline is not None
        r = analysis.engine.resting
        return r.brow_mm, r.eye_mm, r.mouth_mm, analysis.baseline.mm_per_unit

    brow0, eye0, mouth0, _ = resting(Movement())
    drooping = Movement(droop_mouth_right=6, droop_brow_right=5, wide_eye_right=2)
    brow, eye, mouth, mm_per_unit = resting(drooping)
    mm_per_px = mm_per_unit * 320 / 640  # warps are in the 640 px photo; analysis sees 320 px
    # The right side sags: its mouth corner and brow sit lower, its eye is wider.
    assert mouth - mouth0 == pytest.approx(6 * mm_per_px, abs=1.0)
    # FaceMesh follows a brow at 0.6-1.0 of the warp (README, synthetic faces).
    assert 0.5 * 5 * mm_per_px < brow - brow0 < 1.2 * 5 * mm_per_px
    assert eye - eye0 < -0.5


def test_a_still_corner_reads_still_while_the_other_smiles(
    calibrated: SessionAnalysis, any_face: SyntheticFace
) -> None:
    # FaceMesh drags a still corner along with a moving one; the pixels do not move.
    settle(calibrated, any_face.render(Movement(smile_left=14)), 12)
    assert calibrated.engine is not None
    smile = calibrated.engine.last_features["smile"]
    assert smile["left"] > 3.0 and smile["right"] < 0.1 * smile["left"], smile


def test_eye_closure_reads_the_lids_as_the_pixels_show_them(
    calibrated: SessionAnalysis, any_face: SyntheticFace
) -> None:
    settle(calibrated, any_face.render(Movement(eye_close_left=0.8, eye_close_right=0.4)), 12)
    assert calibrated.engine is not None
    closure = calibrated.engine.last_features["eye_closure"]
    assert abs(closure["left"] - 0.8) < 0.2 and abs(closure["right"] - 0.4) < 0.15, closure
    assert abs(closure["right"] / closure["left"] - 0.5) < 0.15, closure


def test_the_checkpoint_carries_the_neutral_pixels_and_a_successor_measures_alike(
    calibrated: SessionAnalysis, any_face: SyntheticFace
) -> None:
    checkpoint = calibrated.checkpoint()
    assert checkpoint is not None and len(checkpoint.neutral_image) == CANVAS_W * CANVAS_H
    successor = SessionAnalysis("unit-test-1", "w2", FaceMeshLandmarker(), checkpoint=checkpoint)
    image = any_face.render(Movement(smile_left=14, smile_right=7))
    settle(calibrated, image, 10)
    settle(successor, image, 10)
    assert calibrated.engine is not None and successor.engine is not None
    first, second = calibrated.engine.last_features["smile"], successor.engine.last_features["smile"]
    assert abs(first["left"] - second["left"]) < 0.5 and abs(first["right"] - second["right"]) < 0.5
    broken = msgspec.structs.replace(checkpoint, neutral_image=b"short")
    with pytest.raises(ValueError, match="neutral image"):
        SessionAnalysis("unit-test-1", "w3", FaceMeshLandmarker(), checkpoint=broken)


class CountingLandmarker:
    """The real landmarker, counting its runs."""

    def __init__(self) -> None:
        self.inner = FaceMeshLandmarker()
        self.runs = 0

    def detect(self, image: np.ndarray) -> Landmarks | None:
        self.runs += 1
        return self.inner.detect(image)

    def close(self) -> None:
        self.inner.close()


def test_landmarks_every_other_frame_and_the_pixels_measure_between(face: SyntheticFace) -> None:
    counting = CountingLandmarker()
    analysis = SessionAnalysis("unit-test-1", "w", counting, AnalysisConfig(landmark_every=2))
    settle(analysis, face.render(Movement()), 20)
    assert analysis.engine is not None and counting.runs == 20  # calibration: every frame
    # A smile while the head drifts 1.5 px and 0.4 degrees a frame (fast for a face doing
    # an exercise): the frames without their own landmarks measure it as well.
    readings = []
    for i in range(12):
        image = face.render(
            Movement(smile_left=14, smile_right=7), shift=(1.5 * i, 0.5 * i), angle_deg=0.4 * i
        )
        result = analysis.process(frame(image, 20 + i))
        assert result.status == "tracking"
        readings.append(dict(analysis.engine.last_features["smile"]))
    assert counting.runs == 26  # 6 of the 12 frames
    for fresh, reused in zip(readings[6::2], readings[7::2], strict=True):
        assert abs(fresh["left"] - reused["left"]) < 0.6 and abs(fresh["right"] - reused["right"]) < 0.6
    last = readings[-1]
    assert abs(last["right"] / last["left"] - 0.5) < 0.12, last
    # A frame that is not measured (no face) makes the next one find its own landmarks.
    analysis.process(frame(np.zeros_like(face.render(Movement())), 40))
    runs = counting.runs
    analysis.process(frame(face.render(Movement(smile_left=14, smile_right=7)), 41))
    assert counting.runs == runs + 1
