"""The engine on landmark tracks (no camera): reps from moving landmarks, and a
checkpoint that carries exercise progress and the summary to another worker."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.analysis import SessionAnalysis
from analyzer.baseline import Baseline
from analyzer.cues import CUE_EYES_UNMEASURED
from analyzer.engine import FaceEngine
from analyzer.face_points import EYELIDS
from analyzer.landmarks import FloatArray
from analyzer.metrics import mm_per_unit
from shared.exercises import get_exercise
from shared.messages import Checkpoint, Command
from testkit.replay import Replay
from testkit.synthetic import SyntheticFace

FPS = 15.0


@pytest.fixture
def neutral(face: SyntheticFace) -> FloatArray:
    return face.landmarks.astype(np.float32)


def smiling(neutral: FloatArray, left_px: float, right_px: float) -> FloatArray:
    out = neutral.copy()
    out[291, :2] += (left_px * 0.5, -left_px)  # patient's left corner: image right, up
    out[61, :2] += (-right_px * 0.5, -right_px)
    return out


def play_reps(engine: FaceEngine, neutral: FloatArray, reps: int, t: float = 0.0) -> float:
    for _ in range(reps):
        for i in range(30):  # 2 s ease in
            t += 1 / FPS
            engine.step(smiling(neutral, 14 * i / 29, 6 * i / 29), t)
        for _ in range(round(1.5 * FPS)):  # hold
            t += 1 / FPS
            engine.step(smiling(neutral, 14, 6), t)
        for _ in range(15):
            t += 1 / FPS
            engine.step(neutral, t)
    return t


def test_reps_from_a_landmark_track_and_a_restored_engine_goes_on_counting(neutral: FloatArray) -> None:
    engine = FaceEngine(Baseline(neutral, mm_per_unit(neutral)))
    engine.start_exercise(get_exercise("closed_smile").with_dose(reps=4, hold_s=1.0))
    t = play_reps(engine, neutral, 2)
    assert engine.tracker is not None and engine.tracker.rep == 2

    successor = FaceEngine(Baseline(neutral, mm_per_unit(neutral)))
    successor.restore(engine.to_bytes())
    assert successor.tracker is not None
    resumed = successor.tracker
    assert (resumed.spec.name, resumed.rep, resumed.spec.reps) == ("closed_smile", 2, 4)
    play_reps(successor, neutral, 2, t)
    (summary,) = successor.summary("abcdefgh1", 100).exercises
    assert (summary.reps, summary.attempts) == (4, 4) and summary.sets == 1
    assert summary.symmetry is not None and summary.symmetry < 0.7  # the right side moves less


def test_a_bad_engine_checkpoint_is_refused_clearly(neutral: FloatArray) -> None:
    engine = FaceEngine(Baseline(neutral, mm_per_unit(neutral)))
    with pytest.raises(ValueError, match="engine checkpoint unreadable"):
        engine.restore(b"\x93 not the engine's state")


def test_a_session_checkpoint_resumes_the_exercise_and_the_commands_position(neutral: FloatArray) -> None:
    image = np.full((480, 640, 3), 128, dtype=np.uint8)
    analysis = SessionAnalysis("abcdefgh1", "w1", Replay([neutral] * 25))
    analysis.apply(Command(sid="abcdefgh1", command="start_exercise", issued_ms=0, exercise="pucker"), "5-0")
    for i in range(25):
        fb = analysis.analyse_image(image, i, i * 66)
    assert fb.exercise is not None and fb.exercise.name == "pucker"  # applied once calibrated
    checkpoint = analysis.checkpoint()
    assert isinstance(checkpoint, Checkpoint) and checkpoint.commands_id == "5-0"
    resumed = SessionAnalysis("abcdefgh1", "w2", Replay([neutral]), checkpoint=checkpoint)
    fb = resumed.analyse_image(image, 26, 26 * 66)
    assert fb.status == "tracking" and fb.exercise is not None and fb.exercise.name == "pucker"
    assert resumed.commands_id == "5-0"


def test_a_guided_assessment_runs_on_the_frame_clock_and_lands_in_the_summary(neutral: FloatArray) -> None:
    engine = FaceEngine(Baseline(neutral, mm_per_unit(neutral)))
    engine.apply(Command(sid="abcdefgh1", command="start_assessment", issued_ms=0))
    steps: list[str] = []
    t = 100.0  # any clock: the assessment starts on its first frame
    for i in range(round(33 * FPS)):
        into = i / FPS
        smile = 14.0 < into < 20.0  # the open-smile step (rest 2 s, then 6 s per movement)
        frame = engine.step(smiling(neutral, 14, 5) if smile else neutral, t + into)
        assert frame.assessment is not None
        if not steps or steps[-1] != frame.assessment.step:
            steps.append(frame.assessment.step)
    assert steps == ["rest", "brow_raise", "gentle_eye_closure", "open_smile", "snarl", "pucker", "done"]
    estimate = engine.estimate
    assert estimate is not None and estimate.estimate and estimate.affected_side == "right"
    assert estimate.voluntary["open_smile"] in (2, 3)  # the right corner moved about a third
    assert all(grade == 1 for name, grade in estimate.voluntary.items() if name != "open_smile")
    assert engine.summary("abcdefgh1", 1).assessment == estimate


def narrowed(points: FloatArray, fraction: float, right: float | None = None) -> FloatArray:
    """``points`` with the upper lids lowered by ``fraction`` of their gap (eyes nearly
    closed: looking down, a drooping lid), the right one by ``right`` if given."""
    out = points.copy()
    for side in ("left", "right"):
        amount = right if side == "right" and right is not None else fraction
        for upper, lower in EYELIDS[side]:  # type: ignore[index]
            out[upper, :2] += (points[lower, :2] - points[upper, :2]) * amount
    return out


def test_eyes_nearly_closed_at_rest_are_not_measured_and_the_engine_says_why(neutral: FloatArray) -> None:
    squint = narrowed(neutral, 0.85)
    engine = FaceEngine(Baseline(squint, mm_per_unit(squint)))
    reason = engine.unmeasured["eye_closure"]
    assert "open only" in reason and "eyes open" in reason
    assert FaceEngine(Baseline(neutral, mm_per_unit(neutral))).unmeasured == {}  # open eyes
    engine.start_exercise(get_exercise("gentle_eye_closure").with_dose(reps=2, hold_s=1.0))
    t = 0.0
    for frame in [squint] * 10 + [narrowed(neutral, 0.97)] * 40 + [squint] * 20:  # "closing"
        t += 1 / FPS
        result = engine.step(frame, t)
        assert result.exercise is None and result.cues == [CUE_EYES_UNMEASURED]
    assert engine.records["gentle_eye_closure"].attempts == 0
    # A smile with the weaker side's eye "narrowing" is no synkinesis reading either:
    # there is no opening to narrow.
    engine.start_exercise(get_exercise("closed_smile").with_dose(reps=1, hold_s=1.0))
    for i in range(30):
        frame = smiling(
            narrowed(neutral, 0.85, 0.85 + 0.13 * (i > 5)), 14 * min(i, 10) / 10, 6 * min(i, 10) / 10
        )
        result = engine.step(frame, t := t + 1 / FPS)
        assert result.synkinesis is None or result.synkinesis.index < 0.05, result.synkinesis
    assert result.exercise is not None and result.exercise.value.left > 3.0  # the smile is measured
