"""The live landmarker (FaceMesh's landmark model on a tracked region) finds what the
whole FaceMesh graph finds, follows a moving head, gives the irises the millimetre scale
needs, and says "no face" when the face goes and finds it again when it comes back."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from analyzer.landmark_model import LEARN_FRAMES, MODEL_SIZE, TrackedLandmarker, crop_matrix, region
from analyzer.landmarks import FaceMeshLandmarker, FloatArray
from analyzer.metrics import Neutral, inter_pupil_distance, mm_per_unit
from testkit.synthetic import Movement, SyntheticFace


@pytest.fixture(scope="module")
def graph_points(face: SyntheticFace) -> Iterator[FloatArray]:
    mesh = FaceMeshLandmarker(static_image_mode=True)
    found = mesh.detect(face.render(Movement()))
    mesh.close()
    assert found is not None
    yield found.points


def track(landmarker: TrackedLandmarker, images: list[np.ndarray]) -> list[FloatArray | None]:
    out: list[FloatArray | None] = []
    for image in images:
        found = landmarker.detect(image)
        out.append(None if found is None else found.points)
    return out


def test_crop_matrix_maps_the_crop_centre_to_the_region_centre_and_turns_with_it() -> None:
    m = crop_matrix(100.0, 80.0, 96.0, math.radians(30))
    centre = m[:, :2] @ np.array([MODEL_SIZE / 2, MODEL_SIZE / 2]) + m[:, 2]
    assert np.allclose(centre, [100.0, 80.0])
    # The crop's x axis points along the region's angle, one crop pixel = side/192 px.
    step = m[:, :2] @ np.array([1.0, 0.0])
    assert np.allclose(step, [0.5 * math.cos(math.radians(30)), 0.5 * math.sin(math.radians(30))])


def test_region_is_the_landmarks_box_grown_by_half_and_level_with_the_eyes(graph_points: FloatArray) -> None:
    cx, cy, side, angle = region(graph_points)
    box = graph_points[:468, :2]
    assert side == pytest.approx(1.5 * max(np.ptp(box[:, 0]), np.ptp(box[:, 1])))
    assert (box.min(0) < [cx, cy]).all() and ([cx, cy] < box.max(0)).all()
    assert abs(math.degrees(angle)) < 5  # the photo is upright


def test_a_still_face_reads_as_the_facemesh_graph_reads_it_irises_included(
    face: SyntheticFace, graph_points: FloatArray
) -> None:
    landmarker = TrackedLandmarker()
    try:
        points = track(landmarker, [face.render(Movement())] * 12)
    finally:
        landmarker.close()
    assert all(p is not None for p in points)
    last = points[-1]
    assert last is not None
    # On a still face the learned refinement is exactly what the graph adds, irises
    # included: the neutral's points, the mm scale and the framing read the same.
    assert np.abs(last[:, :2] - graph_points[:, :2]).max() < 0.5
    assert inter_pupil_distance(last) == pytest.approx(inter_pupil_distance(graph_points), rel=0.01)
    assert mm_per_unit(last) == pytest.approx(mm_per_unit(graph_points), rel=0.01)


def test_tracking_follows_a_head_that_moves_and_turns(face: SyntheticFace) -> None:
    images = [face.render(Movement(), shift=(2.0 * k, 1.0 * k), angle_deg=0.5 * k) for k in range(16)]
    landmarker, mesh = TrackedLandmarker(), FaceMeshLandmarker(static_image_mode=True)
    try:
        points = track(landmarker, images)
        found = mesh.detect(images[-1])
    finally:
        landmarker.close()
        mesh.close()
    first, last = points[0], points[-1]
    assert first is not None and last is not None and found is not None
    # 30 px and 7.5 degrees later, it still sits where the graph (finding the face from
    # scratch) puts it.
    span = inter_pupil_distance(found.points)
    assert np.linalg.norm(last[:468, :2] - first[:468, :2], axis=1).mean() > 0.25 * span
    assert np.abs(last[:468, :2] - found.points[:468, :2]).mean() < 0.03 * span
    assert region(last)[3] == pytest.approx(region(found.points)[3], abs=math.radians(1))
    assert abs(region(last)[3] - region(first)[3]) > math.radians(5)


def test_no_face_is_said_and_the_face_is_found_again_when_it_returns(face: SyntheticFace) -> None:
    landmarker = TrackedLandmarker()
    image = face.render(Movement())
    blank = np.full_like(image, 128)
    try:
        points = track(landmarker, [image, image, blank, blank, image])
    finally:
        landmarker.close()
    assert points[0] is not None and points[1] is not None
    assert points[2] is None and points[3] is None
    assert points[4] is not None
    assert np.abs(points[4][:468, :2] - points[1][:468, :2]).mean() < 1.0


def test_priming_on_the_relaxed_face_undoes_what_a_movement_taught(face: SyntheticFace) -> None:
    """Learned on shut eyes (a clip that opens mid-movement), the offsets carry the shut
    lids into later frames; primed on the relaxed face, open eyes read open."""
    shut = face.render(Movement(eye_close_left=0.9, eye_close_right=0.9))
    rest = face.render(Movement())

    def opening_mm(landmarker: TrackedLandmarker) -> float:
        points = track(landmarker, [rest] * 3)[-1]
        assert points is not None
        neutral = Neutral.of(points.astype(np.float64), mm_per_unit(points.astype(np.float64)))
        return min(neutral.apertures) * neutral.mm

    taught_shut = TrackedLandmarker()
    track(taught_shut, [shut] * (LEARN_FRAMES + 1))
    primed = TrackedLandmarker()
    track(primed, [shut] * (LEARN_FRAMES + 1))
    assert primed.prime([rest] * 5)
    graph = FaceMeshLandmarker()
    truth = graph.detect(rest)
    graph.close()
    assert truth is not None
    expected = Neutral.of(truth.points.astype(np.float64), mm_per_unit(truth.points.astype(np.float64)))
    expected_mm = min(expected.apertures) * expected.mm
    assert opening_mm(taught_shut) < 0.8 * expected_mm  # the shut lids carried over
    assert abs(opening_mm(primed) - expected_mm) < 0.15 * expected_mm
    # Primed, it keeps what it learned when it finds the face again (one clip, one face).
    assert track(primed, [np.zeros_like(rest)])[-1] is None
    assert abs(opening_mm(primed) - expected_mm) < 0.15 * expected_mm
    assert not TrackedLandmarker().prime([np.zeros_like(rest)])  # no face: nothing learned
