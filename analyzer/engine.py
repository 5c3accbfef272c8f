"""The facial analysis engine: one calibrated face's frames → measures, exercise state,
synkinesis, guided assessment and the session's summary.

Pure computation on aligned landmarks and the frame's time; no I/O. The live worker
(``analyzer.analysis``) and the offline ``telerehab analyze`` command both drive it,
so a video file and a live session are measured by the same code.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from analyzer.assessment import GuidedAssessment
from analyzer.baseline import Baseline
from analyzer.cues import CUE_EYES_UNMEASURED, CUE_WATCH_REST, prioritise
from analyzer.exercise import ExerciseRecord, ExerciseTracker, TrackerSnapshot
from analyzer.landmarks import FloatArray
from analyzer.metrics import FEATURES, REGIONS, SIDES, Side, measure, symmetry, unmeasurable
from analyzer.resting import resting_asymmetry
from analyzer.spasm import SpasmDetector, SpasmLimits, SpasmState
from analyzer.synkinesis import SynkinesisLimits, detect
from shared.exercises import ExerciseSpec, get_exercise, load_catalogue
from shared.messages import (
    AssessmentState,
    Command,
    ExerciseState,
    ExerciseSummary,
    RegionMeasure,
    Resting,
    SessionSummary,
    Sides,
    SpasmLive,
    SunnybrookEstimate,
    Synkinesis,
)

Features = dict[str, dict[Side, float]]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    noise_floor_mm: float = 1.5  # FaceMesh brow points jitter ~1 mm under head motion
    noise_floor_fraction: float = 0.08  # eye closure, as a fraction of the neutral opening
    ema_alpha: float = 0.5  # at 15 fps: ~0.1 s time constant, steady but not sluggish
    synkinesis: SynkinesisLimits = field(default_factory=SynkinesisLimits)
    spasm: SpasmLimits = field(default_factory=SpasmLimits)

    def floor(self, unit: str) -> float:
        return self.noise_floor_mm if unit == "mm" else self.noise_floor_fraction


@dataclass(frozen=True, slots=True)
class EngineFrame:
    """What one frame produced (smoothed)."""

    regions: dict[str, RegionMeasure]
    eye_aperture: Sides
    features: Features
    exercise: ExerciseState | None
    synkinesis: Synkinesis | None
    assessment: AssessmentState | None
    cues: list[str]
    spasm: SpasmLive | None = None  # twitches at rest so far; None until the first


class EngineState(msgspec.Struct):
    """The engine's part of a checkpoint: enough to resume counting elsewhere."""

    records: dict[str, ExerciseRecord] = msgspec.field(default_factory=dict)
    exercise: TrackerSnapshot | None = None
    estimate: SunnybrookEstimate | None = None
    spasm: SpasmState | None = None
    watching: bool = False


_state_encoder = msgspec.msgpack.Encoder()
_state_decoder = msgspec.msgpack.Decoder(EngineState)


class FaceEngine:
    def __init__(self, baseline: Baseline, config: EngineConfig | None = None) -> None:
        self.baseline = baseline
        self.config = config or EngineConfig()
        self.resting: Resting = resting_asymmetry(baseline.neutral)
        # Measures this neutral cannot support (eyes nearly closed at rest), with the
        # reason: their exercises count nothing and say why instead of a number.
        self.unmeasured: dict[str, str] = unmeasurable(baseline.neutral)
        self.records: dict[str, ExerciseRecord] = {}
        self.tracker: ExerciseTracker | None = None
        self.observers: list[ExerciseTracker] = []  # offline: every exercise, to find which was done
        self.peaks: dict[str, float] = {}  # observers' peak amount, per exercise
        self.assessment: GuidedAssessment | None = None
        self.estimate: SunnybrookEstimate | None = None
        self._assessment_pending = False
        self._ema: dict[tuple[str, str], float] = {}
        self.last_features: Features = {}
        self.spasm = SpasmDetector(self.config.spasm)
        # Twitches are counted only while the patient is asked to rest ("watch_rest";
        # offline: --exercise rest): at other times a palsy face talking or smiling on
        # its own moves one side only, and that is not a spasm.
        self.watching = False

    # -- control ----------------------------------------------------------------------
    def start_exercise(self, spec: ExerciseSpec) -> None:
        self.assessment = None
        self.watching = False
        record = self.records.setdefault(spec.name, ExerciseRecord(name=spec.name))
        self.tracker = ExerciseTracker(spec, self.config.floor(spec.unit), record)

    def stop(self) -> None:
        self.tracker = None
        self.assessment = None
        self._assessment_pending = False
        self.watching = False

    def start_assessment(self) -> None:
        self.tracker = None
        self.watching = False
        self._assessment_pending = True  # starts on the next frame, on that frame's clock

    def watch_rest(self) -> None:
        """The patient rests, face still: count the twitches (hemifacial spasm)."""
        self.stop()
        self.watching = True

    def apply(self, command: Command) -> None:
        """Apply a therapist's command (unknown exercise names raise CatalogueError)."""
        if command.command == "start_exercise":
            spec = get_exercise(command.exercise or "")
            self.start_exercise(spec.with_dose(reps=command.reps, sets=command.sets, hold_s=command.hold_s))
        elif command.command == "start_assessment":
            self.start_assessment()
        elif command.command == "stop_exercise":
            self.stop()
        elif command.command == "watch_rest":
            self.watch_rest()

    def observe_all(self) -> None:
        """Offline, with no exercise named: count every catalogue exercise side by side."""
        self.observers = [
            ExerciseTracker(spec, self.config.floor(spec.unit), ExerciseRecord(name=spec.name))
            for spec in load_catalogue().values()
        ]

    # -- per frame --------------------------------------------------------------------
    def step(self, aligned: FloatArray, t: float) -> EngineFrame:
        """One tracked frame, already aligned to the baseline, at time ``t`` seconds."""
        raw = measure(aligned, self.baseline.neutral)
        features = {f: {s: self._smooth(f, s, raw.features[f][s]) for s in SIDES} for f in FEATURES}
        excursion = {r: {s: self._smooth(r + ":x", s, raw.excursion[r][s]) for s in SIDES} for r in REGIONS}
        self.last_features = features

        regions: dict[str, RegionMeasure] = {}
        for region in REGIONS:
            left, right = excursion[region]["left"], excursion[region]["right"]
            index, weaker = symmetry(left, right, self.config.noise_floor_mm)
            regions[region] = RegionMeasure(
                excursion=Sides(left=round(left, 2), right=round(right, 2)),
                symmetry=None if index is None else round(index, 3),
                weaker=weaker,
            )
        synk = detect(
            self._measurable(features),
            excursion["mouth"],
            regions["mouth"].weaker,
            self.config.noise_floor_mm,
            self.config.synkinesis,
            _voluntary(self.tracker.spec.region if self.tracker else None),
        )
        cues: list[str] = []
        exercise: ExerciseState | None = None
        if self.tracker is not None and self.tracker.spec.measure in self.unmeasured:
            cues = [CUE_EYES_UNMEASURED]
        elif self.tracker is not None:
            exercise, cues = self.tracker.update(t, features, self._synkinesis_for(self.tracker, synk))
        for observer in self.observers:
            if observer.spec.measure in self.unmeasured:
                continue
            observer.update(t, features, self._synkinesis_for(observer, synk))
            amount = max(features[observer.spec.measure].values()) / observer.spec.target
            self.peaks[observer.spec.name] = max(self.peaks.get(observer.spec.name, 0.0), amount)

        assessment: AssessmentState | None = None
        if self._assessment_pending:
            self._assessment_pending = False
            self.assessment = GuidedAssessment(t, self.resting, self.config.noise_floor_mm)
        if self.assessment is not None:
            assessment = self.assessment.update(t, features, excursion["mouth"])
            if assessment.estimate is not None:
                self.estimate = assessment.estimate
        if synk is not None and synk.alert and self.tracker is not None:
            cues.extend(c.cue for c in self.tracker.spec.controls if c.region in ("eye", "mouth"))
        if self.at_rest:
            # Only while the face is meant to be still: a palsy face's own voluntary
            # movement is one-sided too (analyzer.spasm).
            self.spasm.update(t, self._measurable(features)["eye_closure"], excursion["mouth"])
            cues.append(CUE_WATCH_REST)
        live = self.spasm.live()
        ratio = raw.eye_aperture_ratio
        return EngineFrame(
            regions=regions,
            eye_aperture=Sides(left=round(ratio["left"], 3), right=round(ratio["right"], 3)),
            features=features,
            exercise=exercise,
            synkinesis=synk,
            assessment=assessment,
            cues=prioritise(cues),
            spasm=live if live.count or live.active else None,
        )

    @property
    def at_rest(self) -> bool:
        """Asked to rest, with no exercise, guided assessment or exercise search running."""
        return (
            self.watching
            and self.tracker is None
            and self.assessment is None
            and not self._assessment_pending
            and not self.observers
        )

    def _measurable(self, features: Features) -> Features:
        """``features`` with what cannot be measured held at rest, for synkinesis: an eye
        nearly closed at rest has no narrowing to read, and no closing to time."""
        if "eye_closure" not in self.unmeasured:
            return features
        return {**features, "eye_closure": {"left": 0.0, "right": 0.0}}

    @staticmethod
    def _synkinesis_for(tracker: ExerciseTracker, synk: Synkinesis | None) -> float | None:
        """The reading that belongs to this exercise: eye narrowing for mouth work,
        mouth movement for brow and eye work."""
        if synk is None:
            return None
        wanted = "ocular_oral" if tracker.spec.region in ("eye", "brow") else "oral_ocular"
        return synk.index if synk.kind == wanted else None

    def _smooth(self, name: str, side: str, value: float) -> float:
        """Short exponential moving average, so a still face gives steady numbers."""
        key = (name, side)
        prev = self._ema.get(key)
        out = value if prev is None else prev + self.config.ema_alpha * (value - prev)
        self._ema[key] = out
        return out

    # -- checkpoint and summary -------------------------------------------------------
    def to_bytes(self) -> bytes:
        return _state_encoder.encode(
            EngineState(
                records=self.records,
                exercise=self.tracker.snapshot() if self.tracker else None,
                estimate=self.estimate,
                spasm=self.spasm.state,
                watching=self.watching,
            )
        )

    def restore(self, data: bytes) -> None:
        """Resume from ``to_bytes`` output (a takeover); bad data raises ValueError."""
        try:
            state = _state_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ValueError(f"engine checkpoint unreadable: {exc}") from None
        self.records = state.records
        self.estimate = state.estimate
        if state.spasm is not None:
            self.spasm = SpasmDetector(self.config.spasm, state.spasm)
        self.watching = state.watching
        if state.exercise is not None:
            snap = state.exercise
            record = self.records.setdefault(snap.name, ExerciseRecord(name=snap.name))
            floor = self.config.floor(get_exercise(snap.name).unit)
            self.tracker = ExerciseTracker.restore(snap, floor, record)

    def summary(self, sid: str, frames: int) -> SessionSummary:
        exercises = [exercise_summary(r) for r in self.records.values() if r.attempts or r.reps]
        return SessionSummary(
            sid=sid,
            frames=frames,
            exercises=exercises,
            resting=self.resting,
            assessment=self.estimate,
            spasms=self.spasm.summary(),
        )


def _voluntary(region: str | None) -> Literal["eye", "mouth"] | None:
    """Which movement an exercise asks for, as synkinesis detection needs to know."""
    if region == "eye":
        return "eye"
    if region in ("mouth", "nose", "cheek", "lips"):
        return "mouth"
    return None


def exercise_summary(record: ExerciseRecord) -> ExerciseSummary:
    synk = record.synkinesis_p90()
    return ExerciseSummary(
        name=record.name,
        reps=record.reps,
        attempts=record.attempts,
        sets=record.sets,
        mean_hold_s=round(min(3600.0, record.hold_seconds / record.reps), 2) if record.reps else 0.0,
        symmetry=round(statistics.median(record.symmetries), 3) if record.symmetries else None,
        synkinesis=None if synk is None else round(synk, 3),
        quality=round(min(1.0, record.reps / record.attempts), 3) if record.attempts else 0.0,
    )
