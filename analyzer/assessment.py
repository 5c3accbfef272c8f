"""The guided assessment: rest, then five movements, each shown for a few seconds,
then a Sunnybrook-style estimate (``analyzer.sunnybrook``) for the therapist to confirm.

Each movement step starts with a short lead-in (read the instruction, get ready) and
then records the peak of the movement on each side, and the peak involuntary movement
elsewhere: the mouth corner during brow lift and eye closure, eye narrowing (one side
against the other) during smile, snarl and pucker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer import sunnybrook
from analyzer.metrics import Side, symmetry
from analyzer.synkinesis import OCULAR_ORAL_FULL_MM
from shared.exercises import get_exercise
from shared.messages import AssessmentState, Resting, SunnybrookEstimate

Features = dict[str, dict[Side, float]]

REST_STEP = "rest"
REST_INSTRUCTIONS = "Keep your face relaxed and look at the camera"


@dataclass(slots=True)
class _StepRecord:
    peak: dict[Side, float] = field(default_factory=lambda: {"left": 0.0, "right": 0.0})
    mouth_peak: dict[Side, float] = field(default_factory=lambda: {"left": 0.0, "right": 0.0})
    # Largest (left closure - right closure) and (right - left) while the target moved.
    narrowing: dict[Side, float] = field(default_factory=lambda: {"left": 0.0, "right": 0.0})


class GuidedAssessment:
    def __init__(
        self,
        started: float,
        resting: Resting,
        noise_floor_mm: float,
        rest_s: float = 2.0,
        step_s: float = 6.0,
        lead_in_s: float = 1.5,
    ) -> None:
        self.started = started
        self.resting = resting
        self.noise_floor_mm = noise_floor_mm
        self.rest_s, self.step_s, self.lead_in_s = rest_s, step_s, lead_in_s
        self.steps = (REST_STEP, *sunnybrook.MOVEMENTS)
        self.records = {name: _StepRecord() for name in sunnybrook.MOVEMENTS}
        self.estimate: SunnybrookEstimate | None = None

    def _step_at(self, t: float) -> tuple[int, float]:
        """(step index, seconds into it); index == len(steps) when finished."""
        elapsed = t - self.started
        if elapsed < self.rest_s:
            return 0, elapsed
        i, into = divmod(elapsed - self.rest_s, self.step_s)
        return min(int(i) + 1, len(self.steps)), into

    def update(self, t: float, features: Features, mouth_excursion: dict[Side, float]) -> AssessmentState:
        index, into = self._step_at(t)
        if index >= len(self.steps):
            if self.estimate is None:
                self.estimate = self.score()
            return AssessmentState(
                step="done",
                index=len(self.steps),
                steps=len(self.steps),
                instructions="Assessment finished: your therapist will review it",
                remaining_s=0.0,
                estimate=self.estimate,
            )
        name = self.steps[index]
        if name == REST_STEP:
            return AssessmentState(
                step=name,
                index=0,
                steps=len(self.steps),
                instructions=REST_INSTRUCTIONS,
                remaining_s=round(self.rest_s - into, 1),
            )
        spec = get_exercise(name)
        if into >= self.lead_in_s:
            self._record(self.records[name], features[spec.measure], features, mouth_excursion, spec.unit)
        return AssessmentState(
            step=name,
            index=index,
            steps=len(self.steps),
            instructions=spec.instructions,
            remaining_s=round(self.step_s - into, 1),
        )

    def _record(
        self,
        record: _StepRecord,
        target: dict[Side, float],
        features: Features,
        mouth: dict[Side, float],
        unit: str,
    ) -> None:
        floor = self.noise_floor_mm if unit == "mm" else 0.08
        for side in ("left", "right"):
            record.peak[side] = max(record.peak[side], target[side])
            record.mouth_peak[side] = max(record.mouth_peak[side], mouth[side])
        if max(target.values()) >= floor:
            closure = features["eye_closure"]
            diff = closure["left"] - closure["right"]
            record.narrowing["left"] = max(record.narrowing["left"], diff)
            record.narrowing["right"] = max(record.narrowing["right"], -diff)

    def score(self) -> SunnybrookEstimate:
        ratios: dict[str, float | None] = {}
        weaker_votes: dict[Side, int] = {"left": 0, "right": 0}
        for name, record in self.records.items():
            unit = get_exercise(name).unit
            floor = self.noise_floor_mm if unit == "mm" else 0.08
            ratio, weaker = symmetry(record.peak["left"], record.peak["right"], floor)
            ratios[name] = ratio
            if weaker is not None:
                weaker_votes[weaker] += 1
        affected: Side | None = None
        if weaker_votes["left"] != weaker_votes["right"]:
            affected = "left" if weaker_votes["left"] > weaker_votes["right"] else "right"
        voluntary = {name: sunnybrook.voluntary_grade(r) for name, r in ratios.items()}
        synkinesis: dict[str, int] = {}
        for name, record in self.records.items():
            if name in sunnybrook.MOUTH_READ:
                mm = record.mouth_peak[affected] if affected else max(record.mouth_peak.values())
                index = max(0.0, mm - self.noise_floor_mm) / OCULAR_ORAL_FULL_MM
                synkinesis[name] = sunnybrook.synkinesis_grade(index, read_at_mouth=True)
            else:
                index = record.narrowing[affected] if affected else max(record.narrowing.values())
                synkinesis[name] = sunnybrook.synkinesis_grade(index, read_at_mouth=False)
        return sunnybrook.composite(
            sunnybrook.resting_grades(self.resting), voluntary, synkinesis, affected
        )
