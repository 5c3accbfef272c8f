"""``telerehab analyze``: the engine over real video files made from a real photo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analyzer.offline import AnalyzeError, analyze
from analyzer.synthetic import HeadMotion, Movement, SyntheticFace, script_frames
from analyzer.video import write_video

pytestmark = pytest.mark.slow

FPS = 15.0
TRUE_RATIO = 0.4  # the right mouth corner moves 40 % as far as the left


def reps_script(move: Movement, reps: int, hold: float = 3.5) -> list[tuple[Movement, float]]:
    """2 s relaxed (calibration), then ``reps`` × (rest, ease in, hold, release)."""
    steps = [(Movement(), 2.0)]
    for _ in range(reps):
        steps += [(Movement(), 0.8), (move, 1.2), (move, hold), (Movement(), 1.0)]
    return steps


@pytest.fixture(scope="module")
def smile_clip(face: SyntheticFace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "smile.mp4"
    smile = Movement(smile_left=14, smile_right=14 * TRUE_RATIO)
    write_video(path, script_frames(face, reps_script(smile, 3), FPS, HeadMotion(seed=3)), FPS)
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GLOG_minloglevel": "2"}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "analyze", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_a_weak_right_smile_is_counted_and_named(smile_clip: Path) -> None:
    report = analyze(smile_clip, "closed_smile")
    s = report["summary"]
    assert s["exercise"] == "closed_smile" and not s["exercise_detected"]
    assert s["reps"] == 3 and s["attempts"] == 3
    assert s["affected_side"] == "right"
    # FaceMesh's shape prior drags the still corner along (~2 px per 14 px): the
    # measured ratio sits above the warp's; the README reports the error per movement.
    assert abs(s["symmetry"] - TRUE_RATIO) < 0.2
    assert 0.0 <= s["synkinesis"] <= 1.0
    assert set(s["regions"]) == {"brow", "eye", "mouth", "nose"}
    assert s["regions"]["mouth"]["weaker"] == "right"
    assert set(s["resting_asymmetry_mm"]) == {"brow", "eye", "mouth"}
    series = report["series"]
    # The neutral is found in the clip first, so every frame is measured against it.
    assert len(series) == report["frames"] and series[0]["status"] == "tracking"
    phases = [p["exercise"]["phase"] for p in series if "exercise" in p]
    assert phases.count("hold") > 3 * 2.5 * FPS  # three holds of ~3 s
    assert max(p["exercise"]["rep"] for p in series if "exercise" in p) == 3


def test_the_exercise_is_detected_when_not_named(smile_clip: Path) -> None:
    s = analyze(smile_clip)["summary"]
    assert s["exercise"] in ("closed_smile", "open_smile") and s["exercise_detected"]
    assert s["reps"] == 3


def test_cli_prints_one_json_document_and_progress_on_stderr(smile_clip: Path) -> None:
    result = run_cli(str(smile_clip), "--exercise", "closed_smile", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    required = ("exercise", "symmetry", "affected_side", "reps", "synkinesis")
    required += ("resting_asymmetry_mm", "regions")
    for key in required:
        assert key in doc["summary"], key
    assert doc["summary"]["reps"] == 3 and doc["summary"]["affected_side"] == "right"
    assert "100%" in result.stderr and "finding the face" in result.stderr and "measuring" in result.stderr


def test_cli_refuses_an_unknown_exercise_with_the_known_names(smile_clip: Path) -> None:
    result = run_cli(str(smile_clip), "--exercise", "moonwalk")
    assert result.returncode == 2
    assert "unknown exercise 'moonwalk'" in result.stderr and "closed_smile" in result.stderr
    assert result.stdout == ""


def test_cli_refuses_a_file_that_is_not_a_video(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("this is not a video")
    result = run_cli(str(bogus), "--json")
    assert result.returncode == 2 and "cannot read" in result.stderr and result.stdout == ""
    missing = run_cli(str(tmp_path / "absent.mp4"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_a_video_without_a_face_says_so(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = (rng.integers(60, 200, size=(240, 320, 3), dtype=np.uint8) for _ in range(20))
    path = tmp_path / "wall.mp4"
    write_video(path, frames, FPS)
    with pytest.raises(AnalyzeError) as err:
        analyze(path)
    assert err.value.exit_code == 3 and "no face found" in str(err.value)


def synkinesis_clip(face: SyntheticFace, path: Path, affected_eye: float, healthy_eye: float) -> Path:
    """Three smiles, the right side weak; the right eye narrows by ``affected_eye`` of its
    opening while smiling (synkinesis), the left by ``healthy_eye`` (healthy eyes narrow
    a little in a big smile too)."""
    smile = Movement(smile_left=14, smile_right=5, eye_close_right=affected_eye, eye_close_left=healthy_eye)
    write_video(path, script_frames(face, reps_script(smile, 3), FPS, HeadMotion(seed=5)), FPS)
    return path


def test_eye_narrowing_on_the_weak_side_while_smiling_is_synkinesis(
    face: SyntheticFace, tmp_path: Path
) -> None:
    with_synkinesis = analyze(synkinesis_clip(face, tmp_path / "synk.mp4", 0.6, 0.15), "closed_smile")
    without = analyze(synkinesis_clip(face, tmp_path / "plain.mp4", 0.15, 0.15), "closed_smile")
    s, plain = with_synkinesis["summary"], without["summary"]
    assert s["affected_side"] == plain["affected_side"] == "right"
    assert s["synkinesis"] >= 0.15, s["synkinesis"]
    assert plain["synkinesis"] < 0.1, plain["synkinesis"]
    alerts = [
        p["synkinesis"] for p in with_synkinesis["series"] if p.get("synkinesis", {}).get("index", 0) >= 0.15
    ]
    assert (
        alerts and {a["side"] for a in alerts} == {"right"} and {a["kind"] for a in alerts} == {"oral_ocular"}
    )
    # The eye moving spoils the form: the catalogue's control asks to keep it soft.
    assert any("Keep your eye soft" in p["cues"] for p in with_synkinesis["series"])
    assert s["reps"] < plain["reps"] == 3
