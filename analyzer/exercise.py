"""One exercise's repetitions: rest → move → hold → release, per set.

A repetition counts only when the movement reaches the exercise's target, is held for
the hold time with good form (no control region moving, not past the maximum), and is
then released. Pure state machine: time comes in with each frame (seconds on the
frame's own clock), so the same code runs on a live stream and on a video file.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from analyzer.cues import (
    CUE_DONE,
    CUE_HOLD,
    CUE_RELAX,
    CUE_REST,
    CUE_SLOWER,
    CUE_SMALLER,
    form_cues,
    tempo_cue,
)
from analyzer.metrics import Side, symmetry
from shared.exercises import ExerciseSpec, get_exercise
from shared.messages import ExerciseState, Phase, Sides

Features = dict[str, dict[Side, float]]

START_FRACTION = 0.35  # of the target: movement has begun / has been released
HOLD_FRACTION = 0.8  # of the target: still holding (hysteresis below the target itself)
SLOWER_SHOWN_S = 1.5  # how long "slower" stays up after a too-quick movement
SYNKINESIS_BINS = 20


class ExerciseRecord(msgspec.Struct):
    """What one exercise added up to in a session (kept in the checkpoint)."""

    name: str
    reps: int = 0
    attempts: int = 0
    sets: int = 0
    hold_seconds: float = 0.0  # summed over counted repetitions
    symmetries: list[float] = msgspec.field(default_factory=list)  # one per counted rep
    weaker: list[str] = msgspec.field(default_factory=list)  # one per counted rep
    # Histogram of the synkinesis index (0..1) while the target moves: constant size.
    synkinesis_hist: list[int] = msgspec.field(default_factory=lambda: [0] * SYNKINESIS_BINS)

    def add_synkinesis(self, index: float) -> None:
        self.synkinesis_hist[min(SYNKINESIS_BINS - 1, max(0, int(index * SYNKINESIS_BINS)))] += 1

    def synkinesis_p90(self) -> float | None:
        total = sum(self.synkinesis_hist)
        if total == 0:
            return None
        seen = 0
        for i, count in enumerate(self.synkinesis_hist):
            seen += count
            if seen >= 0.9 * total:
                return (i + 0.5) / SYNKINESIS_BINS
        return 1.0


class TrackerSnapshot(msgspec.Struct, frozen=True):
    """Enough to resume counting after a worker takeover (the phase restarts at rest)."""

    name: str
    reps: int
    sets: int
    hold_s: float
    set: int
    rep: int
    attempts: int
    done: bool


@dataclass(slots=True)
class _Rep:
    move_started: float
    hold_started: float | None = None
    form_ok: bool = True
    symmetry_sum: float = 0.0
    symmetry_n: int = 0
    weaker_left: int = 0
    weaker_right: int = 0


class ExerciseTracker:
    def __init__(self, spec: ExerciseSpec, noise_floor: float, record: ExerciseRecord | None = None) -> None:
        self.spec = spec
        self.noise_floor = noise_floor
        self.record = record or ExerciseRecord(name=spec.name)
        self.phase: Phase = "rest"
        self.set = 1
        self.rep = 0
        self.attempts = 0
        self._current: _Rep | None = None
        self._phase_since = 0.0
        self._slower_until = -1.0
        self._hold_s = 0.0

    # -- checkpoint -------------------------------------------------------------------
    def snapshot(self) -> TrackerSnapshot:
        s = self.spec
        return TrackerSnapshot(
            name=s.name,
            reps=s.reps,
            sets=s.sets,
            hold_s=s.hold_s,
            set=self.set,
            rep=self.rep,
            attempts=self.attempts,
            done=self.phase == "done",
        )

    @classmethod
    def restore(
        cls, snap: TrackerSnapshot, noise_floor: float, record: ExerciseRecord | None
    ) -> ExerciseTracker:
        spec = get_exercise(snap.name).with_dose(reps=snap.reps, sets=snap.sets, hold_s=snap.hold_s)
        tracker = cls(spec, noise_floor, record)
        tracker.set, tracker.rep, tracker.attempts = snap.set, snap.rep, snap.attempts
        tracker.phase = "done" if snap.done else "rest"
        return tracker

    # -- per frame --------------------------------------------------------------------
    def amount(self, features: Features) -> tuple[float, float]:
        value = features[self.spec.measure]
        return value["left"], value["right"]

    def update(
        self, t: float, features: Features, synkinesis: float | None = None
    ) -> tuple[ExerciseState, list[str]]:
        """Advance on one analysed frame at time ``t`` (seconds); returns the state and cues."""
        spec = self.spec
        left, right = self.amount(features)
        amount = max(left, right)
        index, weaker = symmetry(left, right, self.noise_floor)
        broken = [c.cue for c in spec.controls if max(features[c.measure].values()) > c.max]
        cues: list[str] = []
        start_level = max(START_FRACTION * spec.target, self.noise_floor)
        hold_level = max(HOLD_FRACTION * spec.target, self.noise_floor)
        moving = self.phase in ("move", "hold")
        if moving:
            cues += form_cues(amount, spec.max, index, spec.min_symmetry, broken)
            if synkinesis is not None:
                self.record.add_synkinesis(synkinesis)

        if self.phase == "rest":
            if amount >= start_level:
                self._enter("move", t)
                self._current = _Rep(move_started=t)
        elif self.phase == "move":
            rep = self._current
            assert rep is not None
            if amount >= spec.target:
                self._enter("hold", t)
                rep.hold_started = t
                if tempo_cue(t - rep.move_started, spec.tempo_s):
                    self._slower_until = t + SLOWER_SHOWN_S  # a cue only: the rep still counts
            elif amount < start_level:
                self._enter("rest", t)  # it never reached the target: not an attempt
                self._current = None
        elif self.phase == "hold":
            rep = self._current
            assert rep is not None and rep.hold_started is not None
            if broken or (spec.max is not None and amount > spec.max):
                rep.form_ok = False
            if index is not None:
                rep.symmetry_sum += index
                rep.symmetry_n += 1
            if weaker == "left":
                rep.weaker_left += 1
            elif weaker == "right":
                rep.weaker_right += 1
            self._hold_s = t - rep.hold_started
            if self._hold_s >= spec.hold_s:
                self._finish_rep(rep, counted=rep.form_ok)
                self._enter("release", t)
            elif amount < hold_level:
                self._finish_rep(rep, counted=False)  # let go too early
                self._enter("release", t)
            else:
                cues.append(CUE_HOLD)
        elif self.phase == "release":
            if amount < start_level:
                if self.rep >= spec.reps:
                    self.record.sets += 1
                    self._enter("done" if self.set >= spec.sets else "set_rest", t)
                else:
                    self._enter("rest", t)
            else:
                cues.append(CUE_RELAX)
        elif self.phase == "set_rest":
            if t - self._phase_since >= spec.rest_s:
                self.set += 1
                self.rep = 0
                self._enter("rest", t)
            else:
                cues.append(CUE_REST)
        elif self.phase == "done":
            cues.append(CUE_DONE)

        if t < self._slower_until:
            cues.append(CUE_SLOWER)
        if self.phase == "release" and CUE_RELAX not in cues:
            cues.append(CUE_RELAX)
        if CUE_SMALLER in cues and CUE_HOLD in cues:
            cues.remove(CUE_HOLD)
        state = ExerciseState(
            name=spec.name,
            phase=self.phase,
            rep=self.rep,
            reps=spec.reps,
            set=self.set,
            sets=spec.sets,
            hold_s=round(self._hold_s if self.phase == "hold" else 0.0, 2),
            hold_target_s=spec.hold_s,
            value=Sides(left=round(left, 3), right=round(right, 3)),
            target=spec.target,
            unit=spec.unit,
            symmetry=None if index is None else round(index, 3),
            weaker=weaker,
            attempts=self.attempts,
        )
        return state, cues

    def _enter(self, phase: Phase, t: float) -> None:
        self.phase = phase
        self._phase_since = t
        if phase != "hold":
            self._hold_s = 0.0

    def _finish_rep(self, rep: _Rep, counted: bool) -> None:
        self.attempts += 1
        self.record.attempts += 1
        if counted:
            self.rep += 1
            self.record.reps += 1
            self.record.hold_seconds += self._hold_s
            if rep.symmetry_n:
                self.record.symmetries.append(rep.symmetry_sum / rep.symmetry_n)
            if rep.weaker_left or rep.weaker_right:
                self.record.weaker.append("left" if rep.weaker_left > rep.weaker_right else "right")
        self._current = None
