"""Versioned message schemas: everything that travels through Redis.

Each message is an immutable ``msgspec.Struct`` tagged with its type (field ``t``) and
carrying a schema version (field ``v``). ``shared.codec`` is the only place that turns
them into bytes and back; it validates every field on decode.
"""

from __future__ import annotations

import time
from typing import Literal

import msgspec

FRAME_ENCODINGS = ("jpeg", "rgb24")


def now_ms() -> int:
    """Wall clock in ms since the epoch: the unit of every timestamp in these messages."""
    return int(time.time() * 1000)


class Frame(msgspec.Struct, frozen=True, tag_field="t", tag="frame"):
    """One sampled patient video frame (already downscaled)."""

    sid: str
    seq: int
    captured_ms: int  # wall clock at sampling, ms since the epoch
    width: int
    height: int
    encoding: Literal["jpeg", "rgb24"]
    data: bytes
    v: int = 1

    def __repr__(self) -> str:  # never print pixels
        return (
            f"Frame(sid={self.sid!r}, seq={self.seq}, {self.width}x{self.height} "
            f"{self.encoding}, {len(self.data)} bytes)"
        )


class SessionEntry(msgspec.Struct, frozen=True, tag_field="t", tag="session"):
    """Entry of the sessions stream: 'this session needs an analyzer'."""

    sid: str
    created_ms: int
    v: int = 1


class Pose(msgspec.Struct, frozen=True):
    yaw: float
    pitch: float
    roll: float


class Sides(msgspec.Struct, frozen=True):
    """One measure on each side of the face (the patient's anatomical left/right)."""

    left: float
    right: float


class RegionMeasure(msgspec.Struct, frozen=True):
    """How far a region moved from the neutral baseline on each side, in mm."""

    excursion: Sides
    symmetry: float | None  # min/max excursion, 1 = symmetric; None while at rest
    weaker: Literal["left", "right"] | None = None


FeedbackStatus = Literal["calibrating", "tracking", "no_face", "bad_pose", "bad_frame"]


class Feedback(msgspec.Struct, frozen=True, tag_field="t", tag="feedback"):
    """The analysis of one frame, for the gateway to fan out to patient and therapist."""

    sid: str
    seq: int
    captured_ms: int
    analysed_ms: int
    worker: str
    status: FeedbackStatus
    face: bool
    calibration: float = 0.0  # 0..1 progress of the neutral-face calibration
    pose: Pose | None = None
    eye_aperture: Sides | None = None  # lid-to-lid aperture as a fraction of neutral
    regions: dict[str, RegionMeasure] = msgspec.field(default_factory=dict)
    cues: list[str] = msgspec.field(default_factory=list)
    dropped: int = 0  # frames skipped as stale since the previous feedback
    v: int = 1


class Checkpoint(msgspec.Struct, frozen=True, tag_field="t", tag="checkpoint"):
    """An analyzer's per-session state, enough for another worker to resume."""

    sid: str
    seq: int
    baseline: bytes  # float32 landmarks of the neutral face, row-major (n, 3)
    baseline_points: int
    iris_mm_per_unit: float
    worker: str
    v: int = 1


Message = Frame | SessionEntry | Feedback | Checkpoint

# The (type, version) pairs this build understands. Bump a version when a field changes
# meaning or a required field is added; old readers then reject it with a clear error.
SUPPORTED_VERSIONS: dict[str, tuple[int, ...]] = {
    "frame": (1,),
    "session": (1,),
    "feedback": (1,),
    "checkpoint": (1,),
}
