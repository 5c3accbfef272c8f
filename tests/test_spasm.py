"""Twitches at rest (hemifacial spasm): one side moving on its own is counted, with its
side, regions and duration; a blink, a two-sided movement, one noisy frame or any
movement during an exercise is not; a checkpoint carries the tally to another worker."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.analysis import AnalysisConfig, SessionAnalysis
from analyzer.baseline import Baseline
from analyzer.cues import CUE_WATCH_REST
from analyzer.engine import FaceEngine
from analyzer.face_points import EYELIDS
from analyzer.landmarks import FloatArray
from analyzer.metrics import Side, mm_per_unit
from analyzer.spasm import SpasmDetector
from shared.exercises import get_exercise
from shared.messages import Command
from testkit.replay import Replay
from testkit.synthetic import SyntheticFace

FPS = 15.0
STILL: dict[Side, float] = {"left": 0.0, "right": 0.0}


def play(
    detector: SpasmDetector, frames: list[tuple[dict[Side, float], dict[Side, float]]], t: float = 0.0
) -> float:
    for eye, mouth in frames:
        t += 1 / FPS
        detector.update(t, eye, mouth)
    return t


def test_one_sided_twitches_are_counted_and_blinks_and_noise_are_not() -> None:
    d = SpasmDetector()
    right_eye = {"left": 0.02, "right": 0.6}
    blink = {"left": 0.9, "right": 0.85}
    left_mouth = {"left": 2.5, "right": 0.3}
    frames = (
        [(STILL, STILL)] * 10
        + [(right_eye, STILL)] * 6  # 0.4 s: a twitch of the right eye
        + [(STILL, STILL)] * 10
        + [(blink, STILL)] * 4  # both eyes: a blink
        + [(STILL, STILL)] * 10
        + [(right_eye, STILL)] * 1  # one frame: noise
        + [(STILL, STILL)] * 10
        + [(STILL, left_mouth)] * 5  # the left mouth corner pulls
        + [(STILL, {"left": 2.5, "right": 2.2})] * 5  # both corners: a smile, not a twitch
        + [(STILL, STILL)] * 10
    )
    play(d, frames)
    s = d.summary()
    assert s is not None and s.count == 2, s
    assert (s.left, s.right, s.eye, s.mouth) == (1, 1, 1, 1)
    eye_event, mouth_event = s.events
    assert eye_event.side == "right" and eye_event.regions == ["eye"] and eye_event.peak_eye == 0.6
    assert eye_event.duration_s == pytest.approx(5 / FPS, abs=0.01)
    assert mouth_event.side == "left" and mouth_event.regions == ["mouth"] and not mouth_event.sustained


def test_a_long_contraction_is_kept_and_called_sustained() -> None:
    d = SpasmDetector()
    play(d, [(STILL, STILL)] * 5 + [({"left": 0.7, "right": 0.0}, STILL)] * 90 + [(STILL, STILL)] * 5)
    s = d.summary()
    assert s is not None and s.count == 1 and s.events[0].sustained and s.events[0].duration_s > 5


@pytest.fixture
def engine(face: SyntheticFace) -> tuple[FaceEngine, FloatArray]:
    neutral = face.landmarks.astype(np.float32)
    return FaceEngine(Baseline(neutral, mm_per_unit(neutral))), neutral


def twitching(points: FloatArray, fraction: float) -> FloatArray:
    """The right upper lid lowered by ``fraction`` of its gap."""
    out = points.copy()
    for upper, lower in EYELIDS["right"]:
        out[upper, :2] += (points[lower, :2] - points[upper, :2]) * fraction
    return out


def twitch_three_times(engine: FaceEngine, neutral: FloatArray, t: float = 0.0) -> float:
    for _ in range(3):
        for frame in [neutral] * 10 + [twitching(neutral, 0.7)] * 5 + [neutral] * 10:
            t += 1 / FPS
            engine.step(frame, t)
    return t


def test_the_engine_counts_twitches_only_while_the_patient_rests_and_a_checkpoint_keeps_them(
    engine: tuple[FaceEngine, FloatArray],
) -> None:
    eng, neutral = engine
    # Not asked to rest (talking, smiling on one side): nothing is counted.
    t = twitch_three_times(eng, neutral)
    assert eng.step(neutral, t + 1 / FPS).spasm is None
    eng.apply(Command(sid="s", command="watch_rest", issued_ms=0))
    t = twitch_three_times(eng, neutral, t + 1)
    frame = eng.step(neutral, t + 1 / FPS)
    assert frame.spasm is not None and (frame.spasm.count, frame.spasm.right) == (3, 3)
    assert CUE_WATCH_REST in frame.cues  # the patient is told to rest
    # During an exercise the face is meant to move: nothing is counted.
    eng.start_exercise(get_exercise("gentle_eye_closure"))
    t = twitch_three_times(eng, neutral, t + 1)
    eng.watch_rest()
    # Another worker resumes from the checkpoint, still watching, and goes on counting.
    again = FaceEngine(eng.baseline)
    again.restore(eng.to_bytes())
    twitch_three_times(again, neutral, t + 1)
    summary = again.summary("s", 100).spasms
    assert summary is not None and summary.count == 6 and summary.right == 6 and summary.eye == 6, summary
    assert eng.summary("s", 100).spasms is not None


def pulled(points: FloatArray) -> FloatArray:
    """The patient's left mouth corner pulled up and out (a flat test image has no lids
    for the pixel eyelid model to read, so the mouth twitches here)."""
    out = points.copy()
    out[291, :2] += (4.0, -8.0)
    return out


def test_the_twitches_counted_survive_a_recalibration(engine: tuple[FaceEngine, FloatArray]) -> None:
    _, neutral = engine
    twitches = ([neutral] * 10 + [pulled(neutral)] * 5 + [neutral] * 10) * 3
    tracks = [neutral] * 25 + twitches + [neutral] * 25 + twitches
    analysis = SessionAnalysis("abcdefgh1", "w1", Replay(list(tracks)), AnalysisConfig(landmark_every=1))
    image = np.full((480, 640, 3), 128, dtype=np.uint8)
    watch = Command(sid="abcdefgh1", command="watch_rest", issued_ms=0)
    analysis.apply(watch, "1-0")
    for i in range(25 + len(twitches)):
        analysis.analyse_image(image, i, i * 66)
    assert (s := analysis.summary().spasms) is not None and s.count == 3, s
    analysis.apply(Command(sid="abcdefgh1", command="recalibrate", issued_ms=0), "2-0")
    analysis.apply(watch, "3-0")
    for i in range(25 + len(twitches)):
        analysis.analyse_image(image, 1000 + i, (1000 + i) * 66)
    after = analysis.summary().spasms
    assert after is not None and after.count == 6, after  # the first three kept
