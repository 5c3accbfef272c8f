"""Short spoken/written cues and the rules that pick them. Pure functions.

Cues are few and plain: patients are often tired and older, and many have an eye that
does not close, so each cue is a handful of words. For synkinesis the cues ask for
less, slower and more even movement, never "more". When several rules fire, the
most important wins (``prioritise``): a face the camera cannot see well comes first,
then anything that spoils the repetition's form, then timing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.messages import Pose

# Frame-quality gates: the numbers cannot be trusted until these are fixed.
CUE_NO_FACE = "We cannot see your face: move into the middle of the picture"
CUE_LIGHT = "Move into the light"
CUE_FACE_CAMERA = "Face the camera"
CUE_CLOSER = "Move a little closer to the camera"
CUE_FARTHER = "Move a little further from the camera"
CUE_CENTRE = "Move into the middle of the picture"
CUE_CALIBRATE = "Relax your face and look at the camera"
# The neutral face cannot support the exercise's measure (analyzer.metrics.unmeasurable).
CUE_EYES_UNMEASURED = "Eye closure cannot be measured: calibrate again with your eyes open"
# Form during an exercise.
CUE_SMALLER = "Smaller"
CUE_STRONG_SIDE_LESS = "Let the strong side do less"
CUE_SLOWER = "Slower"
# Phases.
CUE_HOLD = "Hold"
# The patient's exercise card names each phase in these same words (PHASES in
# gateway/static/telerehab.js): the big cue and the card never disagree.
CUE_RELAX = "Let go slowly"
CUE_REST = "Rest before the next set"
CUE_DONE = "Well done: exercise finished"
CUE_WATCH_REST = "Rest your face, eyes open, and look at the camera"

# Lower number = more important. Control cues from the catalogue ("Keep your eye
# soft") rank with "smaller": both mean the repetition's form is off.
_PRIORITY: dict[str, int] = {
    CUE_NO_FACE: 0,
    CUE_LIGHT: 0,
    CUE_FACE_CAMERA: 1,
    CUE_CENTRE: 1,
    CUE_CLOSER: 2,
    CUE_FARTHER: 2,
    CUE_CALIBRATE: 3,
    CUE_EYES_UNMEASURED: 3,
    CUE_SMALLER: 4,
    CUE_STRONG_SIDE_LESS: 6,
    CUE_SLOWER: 7,
    CUE_HOLD: 8,
    CUE_RELAX: 8,
    CUE_REST: 9,
    CUE_DONE: 9,
    CUE_WATCH_REST: 9,
}
_CONTROL_PRIORITY = 5
MAX_CUES = 2


def prioritise(cues: Iterable[str], limit: int = MAX_CUES) -> list[str]:
    """At most ``limit`` distinct cues, most important first (stable among equals)."""
    unique = list(dict.fromkeys(cues))
    return sorted(unique, key=lambda c: _PRIORITY.get(c, _CONTROL_PRIORITY))[:limit]


@dataclass(frozen=True, slots=True)
class GateLimits:
    max_yaw_deg: float = 25.0
    max_pitch_deg: float = 30.0  # head_pose reads about -9 for a frontal face
    max_roll_deg: float = 30.0
    min_face_fraction: float = 0.12  # inter-pupil distance / image width
    max_face_fraction: float = 0.6
    min_brightness: float = 40.0  # mean luma 0..255
    # Share of landmarks that may fall outside the image (a cut-off chin tip is fine).
    edge_margin: float = 0.02


def brightness_cue(mean_luma: float, limits: GateLimits) -> str | None:
    return CUE_LIGHT if mean_luma < limits.min_brightness else None


def pose_cue(pose: Pose, limits: GateLimits) -> str | None:
    if (
        abs(pose.yaw) > limits.max_yaw_deg
        or abs(pose.pitch) > limits.max_pitch_deg
        or abs(pose.roll) > limits.max_roll_deg
    ):
        return CUE_FACE_CAMERA
    return None


def framing_cue(face_fraction: float, outside_fraction: float, limits: GateLimits) -> str | None:
    """``face_fraction``: inter-pupil distance / image width; ``outside_fraction``: the
    share of landmarks that fall outside the image (a face partly out of frame)."""
    if outside_fraction > limits.edge_margin:
        return CUE_CENTRE
    if face_fraction < limits.min_face_fraction:
        return CUE_CLOSER
    if face_fraction > limits.max_face_fraction:
        return CUE_FARTHER
    return None


def form_cues(
    amount: float,
    maximum: float | None,
    symmetry: float | None,
    min_symmetry: float,
    broken_controls: Iterable[str],
) -> list[str]:
    """What is wrong with the movement right now (empty when the form is good).

    ``amount`` is the stronger side's movement; past the exercise's ``maximum`` the
    cue is "smaller". ``broken_controls`` are the catalogue cues of regions that
    should stay still but moved. Asymmetry below ``min_symmetry`` asks the strong side
    to do less (only for exercises that set it: synkinesis retraining).
    """
    cues = list(broken_controls)
    if maximum is not None and amount > maximum:
        cues.append(CUE_SMALLER)
    if min_symmetry > 0 and symmetry is not None and symmetry < min_symmetry:
        cues.append(CUE_STRONG_SIDE_LESS)
    return cues


def tempo_cue(move_seconds: float, tempo_s: float) -> str | None:
    """Reaching the target faster than the exercise's tempo asks for slower movement."""
    return CUE_SLOWER if tempo_s > 0 and move_seconds < tempo_s else None
