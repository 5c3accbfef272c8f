"""The repetition state machine, driven by feature values over time (no camera)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from analyzer.cues import (
    CUE_DONE,
    CUE_HOLD,
    CUE_RELAX,
    CUE_REST,
    CUE_SLOWER,
    CUE_SMALLER,
    CUE_STRONG_SIDE_LESS,
)
from analyzer.exercise import ExerciseTracker
from analyzer.metrics import FEATURES
from shared.exercises import get_exercise
from shared.messages import ExerciseState

FPS = 15.0


def features(**values: tuple[float, float]) -> dict[str, dict[str, float]]:
    out = {f: {"left": 0.0, "right": 0.0} for f in FEATURES}
    for name, (left, right) in values.items():
        out[name] = {"left": left, "right": right}
    return out


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def frames(self, seconds: float) -> Iterator[float]:
        for _ in range(round(seconds * FPS)):
            self.t += 1 / FPS
            yield self.t


def run(
    tracker: ExerciseTracker, clock: Clock, seconds: float, **values: tuple[float, float]
) -> list[tuple[ExerciseState, list[str]]]:
    return [tracker.update(t, features(**values)) for t in clock.frames(seconds)]


def rep(
    tracker: ExerciseTracker,
    clock: Clock,
    amount: float,
    hold: float,
    ramp: float = 2.0,
    **extra: tuple[float, float],
) -> list[tuple[ExerciseState, list[str]]]:
    """Ramp up to ``amount`` mm of smile on both sides over ``ramp`` s, hold, release."""
    out = []
    steps = max(1, round(ramp * FPS))
    for i in range(1, steps + 1):
        clock.t += 1 / FPS
        a = amount * i / steps
        out.append(tracker.update(clock.t, features(smile=(a, a), **extra)))
    out += run(tracker, clock, hold, smile=(amount, amount), **extra)
    out += run(tracker, clock, 1.0)
    return out


@pytest.fixture
def smile() -> ExerciseTracker:
    spec = get_exercise("closed_smile").with_dose(reps=3, sets=2, hold_s=2.0)
    return ExerciseTracker(spec, noise_floor=1.5)


def test_reps_count_only_when_the_target_is_reached_and_held(smile: ExerciseTracker) -> None:
    clock = Clock()
    run(smile, clock, 1.0)
    frames = rep(smile, clock, 5.0, hold=2.3)
    assert smile.rep == 1 and smile.attempts == 1
    phases = [state.phase for state, _ in frames]
    assert phases.index("move") < phases.index("hold") < phases.index("release") < len(phases) - 1
    assert phases[-1] == "rest"
    assert any(CUE_HOLD in cues for _, cues in frames) and any(CUE_RELAX in cues for _, cues in frames)
    # The hold timer counts up towards the target while holding.
    holds = [state.hold_s for state, _ in frames if state.phase == "hold"]
    assert holds == sorted(holds) and holds[-1] >= 1.5

    rep(smile, clock, 2.0, hold=2.3)  # never reaches the 3 mm target: not even an attempt
    assert smile.rep == 1 and smile.attempts == 1
    rep(smile, clock, 5.0, hold=0.8)  # reached but let go too early: an attempt, not a rep
    assert smile.rep == 1 and smile.attempts == 2


def test_a_moving_eye_spoils_the_rep_and_says_so(smile: ExerciseTracker) -> None:
    clock = Clock()
    frames = rep(smile, clock, 5.0, hold=2.3, eye_closure=(0.4, 0.1))
    assert smile.rep == 0 and smile.attempts == 1
    assert any("Keep your eye soft" in cues for _, cues in frames)


def test_too_big_a_movement_is_told_smaller_and_not_counted(smile: ExerciseTracker) -> None:
    clock = Clock()
    frames = rep(smile, clock, 14.0, hold=2.3)
    assert smile.rep == 0
    cues = [c for _, cs in frames for c in cs]
    assert CUE_SMALLER in cues
    # While "smaller" shows, "hold" does not compete with it.
    assert not any(CUE_SMALLER in cs and CUE_HOLD in cs for _, cs in frames)


def test_a_jerky_movement_is_told_slower_but_still_counts(smile: ExerciseTracker) -> None:
    clock = Clock()
    frames = rep(smile, clock, 5.0, hold=2.3, ramp=0.1)
    assert smile.rep == 1
    assert any(CUE_SLOWER in cues for _, cues in frames)
    calm = rep(smile, clock, 5.0, hold=2.3, ramp=2.0)
    assert not any(CUE_SLOWER in cues for _, cues in calm)


def test_the_strong_side_is_asked_to_do_less() -> None:
    tracker = ExerciseTracker(get_exercise("closed_smile").with_dose(reps=1, hold_s=1.0), 1.5)
    clock = Clock()
    run(tracker, clock, 0.5, smile=(2.0, 0.5))
    frames = run(tracker, clock, 1.5, smile=(6.0, 1.0))
    assert any(CUE_STRONG_SIDE_LESS in cues for _, cues in frames)
    assert frames[-1][0].weaker == "right"
    # Brow raise does not ask for symmetry (no min_symmetry in the catalogue).
    brow = ExerciseTracker(get_exercise("brow_raise"), 1.5)
    out = [brow.update(t, features(brow_lift=(6.0, 1.0))) for t in Clock().frames(2.0)]
    assert not any(CUE_STRONG_SIDE_LESS in cues for _, cues in out)


def test_sets_rest_between_and_finish(smile: ExerciseTracker) -> None:
    clock = Clock()
    for _ in range(3):
        rep(smile, clock, 5.0, hold=2.3)
    assert smile.phase == "set_rest" and smile.rep == 3
    state, cues = run(smile, clock, 1.0)[-1]
    assert state.set == 1 and CUE_REST in cues
    run(smile, clock, smile.spec.rest_s)
    assert smile.phase == "rest" and smile.set == 2 and smile.rep == 0
    for _ in range(3):
        rep(smile, clock, 5.0, hold=2.3)
    state, cues = run(smile, clock, 0.5)[-1]
    assert state.phase == "done" and CUE_DONE in cues
    assert smile.record.reps == 6 and smile.record.sets == 2 and smile.record.attempts == 6


def test_eye_closure_counts_in_fractions_of_the_opening() -> None:
    tracker = ExerciseTracker(get_exercise("gentle_eye_closure").with_dose(reps=2, hold_s=1.0), 0.08)
    clock = Clock()
    for _ in range(2):
        for i, t in enumerate(clock.frames(0.6)):  # ease in, below the 0.6 target
            tracker.update(t, features(eye_closure=(0.05 * i, 0.02 * i)))
        run(tracker, clock, 1.3, eye_closure=(0.9, 0.3))  # the right eye does not close well
        run(tracker, clock, 1.0)
    assert tracker.rep == 2
    assert tracker.record.weaker == ["right", "right"]
    assert tracker.record.symmetries and max(tracker.record.symmetries) < 0.4


def test_a_snapshot_resumes_the_count_elsewhere(smile: ExerciseTracker) -> None:
    clock = Clock()
    rep(smile, clock, 5.0, hold=2.3)
    restored = ExerciseTracker.restore(smile.snapshot(), 1.5, smile.record)
    assert (restored.rep, restored.set, restored.spec.reps, restored.spec.hold_s) == (1, 1, 3, 2.0)
    rep(restored, clock, 5.0, hold=2.3)
    assert restored.rep == 2 and restored.record.reps == 2


def test_lip_press_compares_the_sides_now_they_are_read_from_the_pixels() -> None:
    tracker = ExerciseTracker(get_exercise("lip_press").with_dose(reps=1, hold_s=1.0), 1.5)
    clock = Clock()
    frames = run(tracker, clock, 2.0, lip_press=(4.0, 0.5))
    assert tracker.phase in ("hold", "release")
    held = [state for state, _ in frames if state.phase == "hold"]
    assert held and all(s.weaker == "right" and s.symmetry == pytest.approx(0.125) for s in held)
