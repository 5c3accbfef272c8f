"""Versioned message schemas: everything that travels through Redis.

Each message is an immutable ``msgspec.Struct`` tagged with its type (field ``t``) and
carrying a schema version (field ``v``). ``shared.codec`` is the only place that turns
them into bytes and back; it validates every field on decode.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

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
Side = Literal["left", "right"]
Phase = Literal["rest", "move", "hold", "release", "set_rest", "done"]


class ExerciseState(msgspec.Struct, frozen=True):
    """Where the patient is in the current exercise (see ``analyzer.exercise``)."""

    name: str
    phase: Phase
    rep: int  # repetitions counted (good form) in the current set
    reps: int
    set: int  # 1-based
    sets: int
    hold_s: float  # seconds held so far in this repetition
    hold_target_s: float
    value: Sides  # per-side amount of the exercise's measure (mm, or fraction for the eye)
    target: float
    unit: Literal["mm", "fraction"]
    symmetry: float | None = None  # min/max of ``value``; None while at rest
    weaker: Side | None = None
    attempts: int = 0  # repetitions tried in all sets, counted or not


class SpasmEvent(msgspec.Struct, frozen=True):
    """One involuntary one-sided twitch at rest (hemifacial spasm: ``analyzer.spasm``):
    when (seconds into the analysis), how long, which side and regions, how far (the
    eye's fraction of its opening lost, the mouth corner's mm); ``sustained`` when it
    lasted longer than a twitch does (tonic spasm, or on purpose: the therapist decides)."""

    start_s: float
    duration_s: float
    side: Side
    regions: Annotated[list[Literal["eye", "mouth"]], msgspec.Meta(max_length=2)]
    peak_eye: float = 0.0
    peak_mouth_mm: float = 0.0
    sustained: bool = False


class SpasmLive(msgspec.Struct, frozen=True):
    """The twitches counted so far this session, and the sides twitching now."""

    count: int
    left: int
    right: int
    active: list[Side] = msgspec.field(default_factory=list)


class SpasmSummary(msgspec.Struct, frozen=True):
    """A session's twitches at rest: how many, per side and region, their total time,
    and the first ones (up to 100) themselves."""

    count: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
    left: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
    right: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
    eye: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
    mouth: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
    total_s: Annotated[float, msgspec.Meta(ge=0, le=1e7)]
    events: Annotated[list[SpasmEvent], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=list)


class Synkinesis(msgspec.Struct, frozen=True):
    """Involuntary movement of one region while another moves.

    ``oral_ocular``: the affected eye narrows more than the healthy one during a mouth
    movement (index = affected eye's closure minus the healthy eye's, 0..1).
    ``ocular_oral``: the mouth corner moves during eye closure (index = corner mm / 6 mm,
    capped at 1).
    """

    kind: Literal["oral_ocular", "ocular_oral"]
    index: float
    side: Side | None
    alert: bool


# Bounds on what a session can leave behind: a summary also arrives from a patient's
# browser (home practice), and the clinic's charts, adherence and referral rules read it.
Count = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
Fraction = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
HoldSeconds = Annotated[float, msgspec.Meta(ge=0.0, le=3600.0)]
SideMm = Annotated[float, msgspec.Meta(ge=-100.0, le=100.0)]  # a face is not wider
Grades = Annotated[dict[str, Annotated[int, msgspec.Meta(ge=0, le=5)]], msgspec.Meta(max_length=5)]


class Resting(msgspec.Struct, frozen=True):
    """Side differences of the neutral face, left minus right, in mm."""

    brow_mm: SideMm  # brow height above the eye line
    eye_mm: SideMm  # lid-to-lid opening
    mouth_mm: SideMm  # mouth corner height (positive: the left corner sits higher)


class SunnybrookEstimate(msgspec.Struct, frozen=True):
    """Sunnybrook-style composite from a guided assessment: an estimate for the
    therapist to confirm, never the record."""

    resting: Grades  # eye 0-1, cheek 0-2, mouth 0-1
    voluntary: Grades  # five movements, 1-5
    synkinesis: Grades  # five movements, 0-3
    resting_score: Annotated[int, msgspec.Meta(ge=0, le=20)]  # sum x 5
    voluntary_score: Annotated[int, msgspec.Meta(ge=0, le=100)]  # sum x 4
    synkinesis_score: Annotated[int, msgspec.Meta(ge=0, le=15)]  # sum
    composite: Annotated[int, msgspec.Meta(ge=0, le=100)]  # voluntary - resting - synkinesis
    affected_side: Side | None = None
    estimate: bool = True


class AssessmentState(msgspec.Struct, frozen=True):
    """Progress of the guided assessment (rest, then five movements)."""

    step: str  # movement name, or "done"
    index: int  # 0-based
    steps: int
    instructions: str
    remaining_s: float
    estimate: SunnybrookEstimate | None = None


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
    exercise: ExerciseState | None = None
    synkinesis: Synkinesis | None = None
    resting: Resting | None = None
    assessment: AssessmentState | None = None
    v: int = 1
    spasm: SpasmLive | None = None  # twitches at rest so far (None: none seen yet)


# watch_rest: the patient rests while the analyzer counts twitches (hemifacial spasm)
CommandName = Literal["start_exercise", "stop_exercise", "start_assessment", "recalibrate", "watch_rest"]


class Command(msgspec.Struct, frozen=True, tag_field="t", tag="command"):
    """From a therapist's (or a practising patient's) page to the session's analyzer."""

    sid: str
    command: CommandName
    issued_ms: int
    exercise: str | None = None  # catalogue name, for start_exercise
    reps: int | None = None  # the therapist's own dose, else the catalogue's
    sets: int | None = None
    hold_s: float | None = None
    v: int = 1


class ExerciseSummary(msgspec.Struct, frozen=True):
    """One exercise of a session, for the clinic's records."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    reps: Count  # counted repetitions (target reached and held with good form)
    attempts: Count
    sets: Count  # sets completed
    mean_hold_s: HoldSeconds
    symmetry: Fraction | None  # median over counted holds
    synkinesis: Fraction | None  # 90th percentile of the index while moving, 0..1
    quality: Fraction  # reps / attempts, 0..1


class SessionSummary(msgspec.Struct, frozen=True, tag_field="t", tag="summary"):
    """What a session leaves behind: no frames, only these figures."""

    sid: str
    frames: Annotated[int, msgspec.Meta(ge=0, le=100_000_000)]
    exercises: Annotated[list[ExerciseSummary], msgspec.Meta(max_length=64)] = msgspec.field(
        default_factory=list
    )
    resting: Resting | None = None
    assessment: SunnybrookEstimate | None = None
    v: int = 1
    spasms: SpasmSummary | None = None  # twitches at rest (hemifacial spasm), if any


class Checkpoint(msgspec.Struct, frozen=True, tag_field="t", tag="checkpoint"):
    """An analyzer's per-session state, enough for another worker to resume."""

    sid: str
    seq: int
    baseline: bytes  # float32 landmarks of the neutral face, row-major (n, 3)
    baseline_points: int
    iris_mm_per_unit: float
    worker: str
    commands_id: str = "0-0"  # last command applied (stream id)
    engine: bytes = b""  # the exercise engine's own state (analyzer.engine), opaque here
    summary: SessionSummary | None = None
    v: int = 1
    # The neutral face's pixels on the analyzer's canvas (analyzer.pixel_motion: 8-bit
    # grey, contrast-normalised, 37 KB), so a successor measures from the same pixels.
    # Lives only as long as the checkpoint key (the session); empty: landmarks only.
    neutral_image: bytes = b""


Message = Frame | SessionEntry | Feedback | Checkpoint | Command | SessionSummary

# The (type, version) pairs this build understands. Bump a version when a field changes
# meaning or a required field is added; old readers then reject it with a clear error.
SUPPORTED_VERSIONS: dict[str, tuple[int, ...]] = {
    "frame": (1,),
    "session": (1,),
    "feedback": (1,),
    "checkpoint": (1,),
    "command": (1,),
    "summary": (1,),
}
