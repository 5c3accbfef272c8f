"""Every cue rule, one by one, and which cue wins when several fire."""

from __future__ import annotations

import pytest

from analyzer import cues as c
from shared.messages import Pose

LIMITS = c.GateLimits()


def test_too_dark_asks_for_light() -> None:
    assert c.brightness_cue(20.0, LIMITS) == c.CUE_LIGHT
    assert c.brightness_cue(120.0, LIMITS) is None


@pytest.mark.parametrize(
    ("pose", "cue"),
    [
        (Pose(0, 0, 0), None),
        (Pose(28, 0, 0), c.CUE_FACE_CAMERA),
        (Pose(-28, 0, 0), c.CUE_FACE_CAMERA),
        (Pose(0, 33, 0), c.CUE_FACE_CAMERA),
        (Pose(0, 0, -33), c.CUE_FACE_CAMERA),
        (Pose(15, -15, 20), None),
    ],
)
def test_a_turned_head_is_asked_to_face_the_camera(pose: Pose, cue: str | None) -> None:
    assert c.pose_cue(pose, LIMITS) == cue


@pytest.mark.parametrize(
    ("face_fraction", "outside", "cue"),
    [
        (0.2, 0.0, None),
        (0.05, 0.0, c.CUE_CLOSER),
        (0.8, 0.0, c.CUE_FARTHER),
        (0.2, 0.01, None),  # a chin tip out of the picture is fine
        (0.2, 0.1, c.CUE_CENTRE),  # partly out of the picture wins over size
        (0.05, 0.1, c.CUE_CENTRE),
    ],
)
def test_framing(face_fraction: float, outside: float, cue: str | None) -> None:
    assert c.framing_cue(face_fraction, outside, LIMITS) == cue


def test_form_cues() -> None:
    assert c.form_cues(5.0, 12.0, 0.9, 0.6, []) == []
    assert c.form_cues(13.0, 12.0, 0.9, 0.6, []) == [c.CUE_SMALLER]
    assert c.form_cues(13.0, None, 0.9, 0.6, []) == []  # no maximum set
    assert c.form_cues(5.0, 12.0, 0.4, 0.6, []) == [c.CUE_STRONG_SIDE_LESS]
    assert c.form_cues(5.0, 12.0, 0.4, 0.0, []) == []  # symmetry not asked for
    assert c.form_cues(5.0, 12.0, None, 0.6, []) == []  # at rest: no index
    assert c.form_cues(5.0, 12.0, 0.9, 0.6, ["Keep your eye soft"]) == ["Keep your eye soft"]


def test_tempo_cue() -> None:
    assert c.tempo_cue(0.2, 0.4) == c.CUE_SLOWER
    assert c.tempo_cue(0.5, 0.4) is None
    assert c.tempo_cue(0.0, 0.0) is None  # no tempo set


def test_the_most_important_cues_win_and_repeats_go() -> None:
    assert c.prioritise([c.CUE_HOLD, c.CUE_SLOWER, c.CUE_SMALLER]) == [c.CUE_SMALLER, c.CUE_SLOWER]
    assert c.prioritise([c.CUE_HOLD, "Keep your eye soft", c.CUE_STRONG_SIDE_LESS]) == [
        "Keep your eye soft",
        c.CUE_STRONG_SIDE_LESS,
    ]
    assert c.prioritise([c.CUE_RELAX, c.CUE_RELAX]) == [c.CUE_RELAX]
    assert c.prioritise([c.CUE_HOLD, c.CUE_LIGHT, c.CUE_FACE_CAMERA], limit=1) == [c.CUE_LIGHT]
