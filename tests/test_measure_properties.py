"""Property tests on landmark sets: head motion leaves every measure unchanged, and a
mirror image swaps the sides exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.alignment import align
from analyzer.face_points import BROW, CHEEK, LIP_EDGES, MIRROR, MOUTH_CORNER, NASAL_ALA
from analyzer.landmarks import FloatArray
from analyzer.metrics import FEATURES, REGIONS, FaceMeasures, Neutral, measure, mm_per_unit, symmetry
from testkit.synthetic import SyntheticFace

GROUPS = (BROW, MOUTH_CORNER, NASAL_ALA, CHEEK)
MOVABLE = [
    *(i for group in GROUPS for side in group.values() for i in side),
    *(i for side in LIP_EDGES.values() for pair in side for i in pair),
]
MOVABLE += [159, 145, 386, 374, 158, 153, 385, 380, 160, 144, 387, 373]  # eyelids


@pytest.fixture(scope="module")
def neutral(face: SyntheticFace) -> FloatArray:
    return face.landmarks.astype(np.float32)


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    y, p, r = np.radians([yaw, pitch, roll])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return rz @ ry @ rx


def measures(frame: FloatArray, base: FloatArray) -> FaceMeasures:
    return measure(align(frame, base), Neutral.of(base, mm_per_unit(base)))


def mirror(points: FloatArray) -> FloatArray:
    out = points.copy()
    for i, j in MIRROR.items():
        out[i] = points[j]
    out[:, 0] *= -1
    return out


movements = st.lists(
    st.tuples(st.sampled_from(MOVABLE), st.floats(-6, 6), st.floats(-6, 6)), min_size=1, max_size=12
)


def moved(base: FloatArray, moves: list[tuple[int, float, float]]) -> FloatArray:
    out = base.copy()
    for i, dx, dy in moves:
        out[i, 0] += dx
        out[i, 1] += dy
    return out


@settings(max_examples=60, deadline=None)
@given(
    moves=movements,
    yaw=st.floats(-15, 15),
    pitch=st.floats(-15, 15),
    roll=st.floats(-30, 30),
    scale=st.floats(0.5, 2.0),
    shift=st.tuples(st.floats(-200, 200), st.floats(-200, 200), st.floats(-50, 50)),
)
def test_head_rotation_scale_and_translation_leave_measures_unchanged(
    neutral: FloatArray,
    moves: list[tuple[int, float, float]],
    yaw: float,
    pitch: float,
    roll: float,
    scale: float,
    shift: tuple[float, float, float],
) -> None:
    frame = moved(neutral, moves)
    expected = measures(frame, neutral)
    transformed = (scale * frame.astype(np.float64) @ rotation(yaw, pitch, roll).T + np.array(shift)).astype(
        np.float32
    )
    got = measures(transformed, neutral)
    for name in FEATURES:
        for side in ("left", "right"):
            tol = 2e-3 if name == "eye_closure" else 0.02  # fraction / mm
            assert got.features[name][side] == pytest.approx(expected.features[name][side], abs=tol), name
    for region in REGIONS:
        for side in ("left", "right"):
            assert got.excursion[region][side] == pytest.approx(expected.excursion[region][side], abs=0.02)


@settings(max_examples=60, deadline=None)
@given(moves=movements)
def test_a_mirror_image_swaps_the_sides(neutral: FloatArray, moves: list[tuple[int, float, float]]) -> None:
    frame = moved(neutral, moves)
    plain = measures(frame, neutral)
    flipped = measures(mirror(frame), mirror(neutral))
    for name in FEATURES:
        tol = 2e-3 if name == "eye_closure" else 0.02
        assert flipped.features[name]["left"] == pytest.approx(plain.features[name]["right"], abs=tol), name
        assert flipped.features[name]["right"] == pytest.approx(plain.features[name]["left"], abs=tol), name
    for region in REGIONS:
        assert flipped.excursion[region]["left"] == pytest.approx(plain.excursion[region]["right"], abs=0.02)
    a = plain.features["smile"]
    b = flipped.features["smile"]
    _, weaker = symmetry(a["left"], a["right"], 1.5)
    _, weaker_flipped = symmetry(b["left"], b["right"], 1.5)
    assert {weaker, weaker_flipped} in ({None}, {"left", "right"})
