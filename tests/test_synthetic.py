"""The synthetic face moves what it says it moves, by how much it says, and FaceMesh
sees it: the engine's tests rely on both.

Two kinds of check: the *warp* is exact (a dot drawn at a landmark ends up where
``true_landmarks`` says), and FaceMesh *follows* it on the intended side in the intended
direction while the canthi and nose bridge stay put. FaceMesh follows some movements
only partly (see the README's table): the thresholds below are what it reliably does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest

from analyzer.landmarks import FaceMeshLandmarker, FloatArray
from analyzer.metrics import Side, eye_apertures
from testkit.synthetic import HeadMotion, Movement, SyntheticFace, movement_at, script_frames
from testkit.video import write_mp4, write_video, write_y4m

pytestmark = pytest.mark.slow

STABLE = (33, 133, 362, 263, 168, 6)  # canthi and nose bridge
Image = npt.NDArray[np.uint8]
Vector = npt.NDArray[np.float64]
Head = tuple[tuple[float, float], float, float]  # shift, scale, angle_deg
HEAD = ((6.0, -4.0), 1.05, 3.0)


def head_kwargs(head: Head | None) -> dict[str, Any]:
    return {} if head is None else {"shift": head[0], "scale": head[1], "angle_deg": head[2]}


@pytest.fixture(scope="module")
def landmarker() -> Iterator[FaceMeshLandmarker]:
    mesh = FaceMeshLandmarker(static_image_mode=True)
    yield mesh
    mesh.close()


@pytest.fixture(scope="module")
def neutral(face: SyntheticFace, landmarker: FaceMeshLandmarker) -> FloatArray:
    found = landmarker.detect(face.render(Movement()))
    assert found is not None
    return found.points


def detect(landmarker: FaceMeshLandmarker, image: Image) -> FloatArray:
    found = landmarker.detect(image)
    assert found is not None, "FaceMesh lost the face"
    return found.points


@dataclass(frozen=True)
class Case:
    """A movement on the patient's left, the landmarks that show it on each side (left
    first), the direction they should move on the left (mirrored in x for the right),
    and what FaceMesh reliably does with it."""

    field: str
    amount: float
    left: tuple[int, ...]
    right: tuple[int, ...]
    direction: tuple[float, float]
    min_ratio: float = 3.0  # intended side over the other side
    min_px: float = 1.0


CASES = [
    Case("smile", 10, (291,), (61,), (0.45, -0.89)),
    # Much more and FaceMesh lifts the nose bridge (168) with the brows.
    Case("brow", 6, (300, 293, 334, 296, 336), (70, 63, 105, 66, 107), (0, -1)),
    Case("eye_close", 0.5, (386, 385, 387), (159, 158, 160), (0, 1)),
    Case("pucker", 6, (291,), (61,), (-1, 0)),
    # FaceMesh's nose hardly lateralises: its alae rise together (1.1-2.5x), and only
    # the lateral upper lip tells the sides apart (1.75x on the right, 6x on the left).
    Case("snarl", 8, (269,), (39,), (0, -1), min_ratio=1.5),
    # FaceMesh widens the whole lower face a little when one cheek bulges.
    Case("cheek", 10, (425, 411, 376, 352), (205, 187, 147, 123), (1, 0), min_ratio=2.0),
    # FaceMesh's lip contour is nearly symmetric: a one-sided press shows on both sides.
    Case("lip_press", 4, (267, 269, 270), (37, 39, 40), (0, 1), min_ratio=1.2),
    Case("droop_mouth", 5, (291,), (61,), (0, 1)),
    Case("droop_brow", 5, (300, 293, 334, 296, 336), (70, 63, 105, 66, 107), (0, 1)),
    Case("wide_eye", 3, (374, 380, 373), (145, 153, 144), (0, 1)),
]


def along(moved: FloatArray, base: FloatArray, idx: tuple[int, ...], direction: Vector) -> float:
    """Mean displacement of the points along a direction."""
    return float(np.mean([(moved[i, :2] - base[i, :2]) @ direction for i in idx]))


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.field)
def test_facemesh_follows_each_movement_on_its_own_side(
    face: SyntheticFace, landmarker: FaceMeshLandmarker, neutral: FloatArray, case: Case, side: Side
) -> None:
    move = Movement(**{f"{case.field}_left": case.amount})
    mine, other = case.left, case.right
    direction = np.array(case.direction)
    if side == "right":
        move, mine, other = move.mirrored(), case.right, case.left
        direction = direction * np.array([-1.0, 1.0])
    moved = detect(landmarker, face.render(move))
    on_side = along(moved, neutral, mine, direction)
    # The other side's "same" direction is mirrored in x.
    off_side = along(moved, neutral, other, direction * np.array([-1.0, 1.0]))
    assert on_side >= case.min_px, (on_side, off_side)
    assert on_side >= case.min_ratio * max(abs(off_side), 0.2), (on_side, off_side)
    stable = {i: round(float(np.linalg.norm(moved[i, :2] - neutral[i, :2])), 2) for i in STABLE}
    assert max(stable.values()) < 2.0, stable


def test_lip_press_thins_both_lips_towards_the_seal(
    face: SyntheticFace, landmarker: FaceMeshLandmarker, neutral: FloatArray
) -> None:
    moved = detect(landmarker, face.render(Movement(lip_press_left=4, lip_press_right=4)))
    upper = along(moved, neutral, (0, 37, 267), np.array([0.0, 1.0]))
    lower = along(moved, neutral, (17, 84, 314), np.array([0.0, -1.0]))
    seal = along(moved, neutral, (13, 14), np.array([0.0, 1.0]))
    assert upper > 1.5 and lower > 0.8 and abs(seal) < 1.0, (upper, lower, seal)


def test_lip_press_says_how_far_each_side_really_moved(face: SyntheticFace) -> None:
    # The accuracy benchmark's truth for lip press: a press the vermilion has room for
    # moves as asked, one beyond it is cut short on the side pressed harder.
    room = face.lip_press_limit()
    small = face.lip_press_moved(room, room / 2)
    assert small["left"] == pytest.approx(2 * room, rel=1e-3)
    assert small["right"] == pytest.approx(room, rel=1e-3)
    large = face.lip_press_moved(4 * room, 2 * room)
    assert large["right"] / large["left"] > 0.55, large
    assert large["left"] < 8 * room


def test_eye_closure_is_followed_over_the_documented_range(
    face: SyntheticFace, landmarker: FaceMeshLandmarker, neutral: FloatArray
) -> None:
    rest_left, rest_right = eye_apertures(neutral)
    ratios = []
    for fraction in (0.25, 0.5, 0.75, 1.0):
        left, right = eye_apertures(detect(landmarker, face.render(Movement(eye_close_left=fraction))))
        ratios.append(left / rest_left)
        assert right / rest_right > 0.93, (fraction, right / rest_right)
    # FaceMesh reports about two thirds of the closure (0.84, 0.74, 0.64) and never a
    # fully shut eye (about 0.33 at 1.0): engine tests should expect that, not 1 - f.
    assert all(a > b for a, b in zip(ratios, ratios[1:], strict=False)), ratios
    assert 0.6 < ratios[1] < 0.85 and ratios[-1] < 0.5, ratios


def dot_image(shape: tuple[int, int], point: FloatArray) -> Image:
    """White with one dark Gaussian dot (sigma 1.5 px) at a sub-pixel position."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dot = np.exp(-((xx - point[0]) ** 2 + (yy - point[1]) ** 2) / (2 * 1.5**2))
    gray = (255 * (1 - dot)).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))


def dot_centre(image: Image, near: FloatArray, r: int = 8) -> Vector:
    x0, y0 = int(near[0]) - r, int(near[1]) - r
    patch = 255.0 - image[y0 : y0 + 2 * r, x0 : x0 + 2 * r, 0].astype(np.float64)
    yy, xx = np.mgrid[0 : 2 * r, 0 : 2 * r]
    total = patch.sum()
    return np.array([(xx * patch).sum() / total + x0, (yy * patch).sum() / total + y0])


@pytest.mark.parametrize(
    ("move", "landmark", "head"),
    [
        (Movement(smile_left=12), 291, None),
        (Movement(pucker_right=8), 61, None),
        (Movement(snarl_left=6), 327, None),
        (Movement(cheek_right=10), 147, None),
        (Movement(droop_mouth_right=5, droop_brow_right=4), 61, None),
        (Movement(smile_left=10, droop_mouth_left=4), 291, HEAD),
    ],
)
def test_a_dot_at_a_landmark_ends_up_where_true_landmarks_says(
    face: SyntheticFace, move: Movement, landmark: int, head: Head | None
) -> None:
    dots = copy.copy(face)
    dots.image = dot_image(face.shape, face.landmarks[landmark])
    kwargs = head_kwargs(head)
    expected = face.true_landmarks(move, **kwargs)[landmark, :2]
    assert np.linalg.norm(expected - face.landmarks[landmark, :2]) > 2.5  # it did move
    found = dot_centre(dots.render(move, **kwargs), expected)
    assert np.linalg.norm(found - expected) < 0.3, (found, expected)


ALL_AT_ONCE = Movement(
    smile_left=8,
    brow_right=6,
    eye_close_left=0.6,
    eye_close_right=0.3,
    pucker_right=3,
    snarl_left=4,
    cheek_right=6,
    lip_press_left=2,
    droop_mouth_right=3,
    droop_brow_left=3,
    wide_eye_right=2,
)


@pytest.mark.parametrize("head", [None, HEAD])
@pytest.mark.parametrize(
    "move",
    [Movement(brow_left=8), Movement(lip_press_left=3), Movement(wide_eye_left=3), ALL_AT_ONCE],
    ids=["brow", "lip_press", "wide_eye", "all_at_once"],
)
def test_the_backward_map_sends_true_landmarks_home(
    face: SyntheticFace, move: Movement, head: Head | None
) -> None:
    # Bands (brow, lids, lips) stretch and squeeze unevenly across a knot, which biases
    # a dot's centroid; check the map itself instead, for every landmark. Lid margins
    # of a closing eye come from the lid layer.
    kwargs = head_kwargs(head)
    true = face.true_landmarks(move, **kwargs)
    (sx, sy), _ = face.source(move, true[:, 0].copy(), true[:, 1].copy(), **kwargs)
    error = np.hypot(sx - face.landmarks[:, 0], sy - face.landmarks[:, 1])
    assert float(error.max()) < 0.05, (int(error.argmax()), float(error.max()))


def test_lerp_and_mirror() -> None:
    a, b = Movement(smile_left=10, eye_close_right=0.2), Movement(smile_left=20, pucker_right=4)
    mid = a.lerp(b, 0.5)
    assert mid == Movement(smile_left=15, eye_close_right=0.1, pucker_right=2)
    assert a.lerp(b, 0) == a and a.lerp(b, 1) == b
    assert a.mirrored() == Movement(smile_right=10, eye_close_left=0.2)
    assert a.mirrored().mirrored() == a


def test_a_script_ramps_holds_and_returns() -> None:
    smile = Movement(smile_left=12)
    steps = [(Movement(), 1.0), (smile, 1.0), (smile, 2.0), (Movement(), 1.0)]
    assert movement_at(steps, 0.5) == Movement()
    assert movement_at(steps, 1.5) == Movement(smile_left=6)
    assert movement_at(steps, 3.0) == smile
    assert movement_at(steps, 4.25) == Movement(smile_left=9)
    assert movement_at(steps, 99) == Movement()


def test_script_frames_render_the_script_with_optional_head_sway(face: SyntheticFace) -> None:
    smile = Movement(smile_left=12)
    steps = [(smile, 0.4), (Movement(), 0.4)]
    frames = list(script_frames(face, steps, fps=5))
    assert len(frames) == 4
    assert np.array_equal(frames[1], face.render(Movement(smile_left=6)))
    assert np.array_equal(frames[2], face.render(smile))
    motion = HeadMotion(shift_px=3, angle_deg=3, scale=0.05, seed=7)
    for t in np.linspace(0, 30, 61):
        (sx, sy), scale, angle = motion.at(float(t))
        assert abs(sx) <= 3 and abs(sy) <= 3 and abs(scale - 1) <= 0.05 and abs(angle) <= 3
    swaying = next(script_frames(face, steps, fps=5, motion=motion))
    assert swaying.shape == frames[0].shape and not np.array_equal(swaying, frames[0])


def test_y4m_has_the_header_and_one_i420_frame_per_image(face: SyntheticFace, tmp_path: Path) -> None:
    image = face.render(Movement())
    path = tmp_path / "clip.y4m"
    assert write_video(path, [image] * 3, 15) == 3
    h, w = image.shape[:2]
    data = path.read_bytes()
    header = f"YUV4MPEG2 W{w} H{h} F15:1 Ip A1:1 C420jpeg\n".encode()
    assert data.startswith(header)
    assert len(data) == len(header) + 3 * (len(b"FRAME\n") + w * h * 3 // 2)
    with pytest.raises(ValueError, match="even"):
        write_y4m(tmp_path / "odd.y4m", [image[:-1]], 15)
    with pytest.raises(ValueError, match="no frames"):
        write_y4m(tmp_path / "none.y4m", [], 15)
    assert not (tmp_path / "none.y4m").exists()


def test_mp4_is_h264_that_facemesh_reads_like_the_frames(
    face: SyntheticFace, landmarker: FaceMeshLandmarker, tmp_path: Path
) -> None:
    frames = [face.render(Movement(smile_left=s)) for s in (0, 4, 8, 12, 12, 8, 4, 0)]
    path = tmp_path / "clip.mp4"
    assert write_mp4(path, frames, 15) == len(frames)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.average_rate == Fraction(15)
        decoded = [np.asarray(f.to_ndarray(format="rgb24"), dtype=np.uint8) for f in container.decode(stream)]
    assert len(decoded) == len(frames)
    assert decoded[3].shape == frames[3].shape
    assert float(np.abs(decoded[3].astype(np.int16) - frames[3]).mean()) < 3.0
    want, got = detect(landmarker, frames[3]), detect(landmarker, decoded[3])
    assert float(np.abs(want[:, :2] - got[:, :2]).max()) < 1.5
    with pytest.raises(ValueError, match="cannot write"):
        write_video(tmp_path / "clip.avi", frames, 15)


def test_decoded_mp4_frames_keep_the_smile(face: SyntheticFace, tmp_path: Path) -> None:
    # A regression guard for the encoder settings: the moved corner survives H.264.
    frames = [face.render(Movement()), face.render(Movement(smile_left=12))]
    path = tmp_path / "two.mp4"
    write_mp4(path, frames, 15)
    with av.open(str(path)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    diff = cv2.absdiff(decoded[0], decoded[1]).max(axis=2)
    ys, xs = np.nonzero(diff > 20)
    corner = face.landmarks[291, :2]
    assert len(xs) and np.hypot(xs.mean() - corner[0], ys.mean() - corner[1]) < 30
