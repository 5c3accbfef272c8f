"""Sunnybrook arithmetic, grade thresholds, the guided assessment and synkinesis rules."""

from __future__ import annotations

import pytest

from analyzer import sunnybrook as sb
from analyzer.assessment import GuidedAssessment
from analyzer.metrics import FEATURES
from analyzer.synkinesis import SynkinesisLimits, detect, ocular_oral, oral_ocular
from shared.messages import Resting

HEALTHY = dict.fromkeys(sb.MOVEMENTS, 5)
NONE = dict.fromkeys(sb.MOVEMENTS, 0)
SYMMETRIC_REST = {"eye": 0, "cheek": 0, "mouth": 0}


def test_a_healthy_face_scores_100() -> None:
    est = sb.composite(SYMMETRIC_REST, HEALTHY, NONE)
    assert (est.voluntary_score, est.resting_score, est.synkinesis_score, est.composite) == (100, 0, 0, 100)
    assert est.estimate is True


def test_the_published_arithmetic() -> None:
    # Worked example: VM (2+3+2+2+3)x4 = 48; RS (1+1+1)x5 = 15; Syn 1+0+2+1+1 = 5 → 28.
    voluntary = dict(zip(sb.MOVEMENTS, (2, 3, 2, 2, 3), strict=True))
    synkinesis = dict(zip(sb.MOVEMENTS, (1, 0, 2, 1, 1), strict=True))
    est = sb.composite({"eye": 1, "cheek": 1, "mouth": 1}, voluntary, synkinesis, "right")
    assert (est.voluntary_score, est.resting_score, est.synkinesis_score) == (48, 15, 5)
    assert est.composite == 28 and est.affected_side == "right"


def test_complete_palsy_is_clipped_at_zero() -> None:
    est = sb.composite(
        {"eye": 1, "cheek": 2, "mouth": 1}, dict.fromkeys(sb.MOVEMENTS, 1), dict.fromkeys(sb.MOVEMENTS, 3)
    )
    assert est.voluntary_score - est.resting_score - est.synkinesis_score == 20 - 20 - 15
    assert est.composite == 0


@pytest.mark.parametrize(
    "bad",
    [
        ({"eye": 2, "cheek": 0, "mouth": 0}, HEALTHY, NONE),
        ({"eye": 0, "cheek": 0}, HEALTHY, NONE),
        (SYMMETRIC_REST, {**HEALTHY, "snarl": 6}, NONE),
        (SYMMETRIC_REST, HEALTHY, {**NONE, "pucker": 4}),
        (SYMMETRIC_REST, {"brow_raise": 5}, NONE),
    ],
)
def test_out_of_range_grades_are_refused(bad: tuple[dict[str, int], ...]) -> None:
    with pytest.raises(ValueError):
        sb.composite(*bad)


@pytest.mark.parametrize(
    ("ratio", "grade"),
    [
        (None, 1),
        (0.0, 1),
        (0.09, 1),
        (0.1, 2),
        (0.34, 2),
        (0.35, 3),
        (0.64, 3),
        (0.65, 4),
        (0.89, 4),
        (0.9, 5),
        (1.0, 5),
    ],
)
def test_voluntary_grades(ratio: float | None, grade: int) -> None:
    assert sb.voluntary_grade(ratio) == grade


@pytest.mark.parametrize(
    ("index", "at_mouth", "grade"),
    [
        (0.05, False, 0),
        (0.1, False, 1),
        (0.25, False, 2),
        (0.5, False, 3),
        (0.1, True, 0),
        (0.3, True, 1),
        (0.5, True, 2),
        (0.9, True, 3),
    ],
)
def test_synkinesis_grades(index: float, at_mouth: bool, grade: int) -> None:
    assert sb.synkinesis_grade(index, at_mouth) == grade


def test_resting_grades_from_millimetres() -> None:
    assert sb.resting_grades(Resting(brow_mm=0.5, eye_mm=0.4, mouth_mm=-0.8)) == SYMMETRIC_REST
    assert sb.resting_grades(Resting(brow_mm=-3, eye_mm=1.8, mouth_mm=-2.5)) == {
        "eye": 1,
        "cheek": 1,
        "mouth": 1,
    }
    assert sb.resting_grades(Resting(brow_mm=-3, eye_mm=-2.0, mouth_mm=4.5)) == {
        "eye": 1,
        "cheek": 2,
        "mouth": 1,
    }


def feats(**values: tuple[float, float]) -> dict[str, dict[str, float]]:
    out = {f: {"left": 0.0, "right": 0.0} for f in FEATURES}
    for name, (left, right) in values.items():
        out[name] = {"left": left, "right": right}
    return out


def test_guided_assessment_of_a_right_sided_palsy_with_synkinesis() -> None:
    """Rest, then five movements; the right side moves at a third of the left and its
    eye narrows during the smile: grades follow, labelled as an estimate."""
    rest = Resting(brow_mm=0.3, eye_mm=-1.8, mouth_mm=2.6)  # right eye wider, right corner lower
    a = GuidedAssessment(0.0, rest, noise_floor_mm=1.5, rest_s=2.0, step_s=6.0, lead_in_s=1.5)
    movement = {
        "brow_raise": feats(brow_lift=(6.0, 2.0)),
        "gentle_eye_closure": feats(eye_closure=(0.9, 0.3)),
        "open_smile": feats(smile=(9.0, 3.0), eye_closure=(0.1, 0.45)),
        "snarl": feats(snarl=(4.0, 4.0)),
        "pucker": feats(pucker=(5.0, 0.2)),
    }
    still = {"left": 0.0, "right": 0.0}
    t = 0.0
    seen = []
    while t < 2.0 + 5 * 6.0 + 0.5:
        state = a.update(t, movement.get(a.steps[min(a._step_at(t)[0], 5)], feats()), still)
        seen.append(state.step)
        t += 1 / 15
    assert seen[0] == "rest" and seen[-1] == "done"
    assert [s for i, s in enumerate(seen) if i == 0 or s != seen[i - 1]] == ["rest", *sb.MOVEMENTS, "done"]
    est = state.estimate
    assert est is not None and est.estimate and est.affected_side == "right"
    assert est.voluntary == {
        "brow_raise": 2,
        "gentle_eye_closure": 2,
        "open_smile": 2,
        "snarl": 5,
        "pucker": 1,
    }
    assert est.resting == {"eye": 1, "cheek": 1, "mouth": 1}
    assert est.synkinesis["open_smile"] == 3 and est.synkinesis["snarl"] == 0
    assert est.composite == 4 * 12 - 15 - sum(est.synkinesis.values())


def test_oral_ocular_synkinesis_compares_the_eyes() -> None:
    limits = SynkinesisLimits()
    # Bell's palsy on the right without synkinesis: only the healthy eye narrows.
    assert oral_ocular({"left": 0.2, "right": 0.0}, "right", limits).index == 0
    # With synkinesis the affected eye narrows more than the healthy one.
    s = oral_ocular({"left": 0.2, "right": 0.45}, "right", limits)
    assert s.index == pytest.approx(0.25) and s.side == "right" and s.alert
    # Side unknown: the larger difference, the narrower eye.
    s = oral_ocular({"left": 0.3, "right": 0.1}, None, limits)
    assert s.index == pytest.approx(0.2) and s.side == "left" and s.alert
    assert not oral_ocular({"left": 0.2, "right": 0.15}, None, limits).alert


def test_ocular_oral_synkinesis_is_mouth_movement_during_eye_closure() -> None:
    limits = SynkinesisLimits()
    s = ocular_oral({"left": 0.5, "right": 4.5}, 1.5, limits)
    assert s.kind == "ocular_oral" and s.side == "right" and s.index == pytest.approx(0.5) and s.alert
    assert ocular_oral({"left": 1.0, "right": 1.2}, 1.5, limits).index == 0


def test_which_pattern_is_read_depends_on_what_moves() -> None:
    still = {"left": 0.0, "right": 0.0}
    assert detect(feats(), still, None, 1.5) is None
    closing = detect(feats(eye_closure=(0.8, 0.7)), {"left": 3.0, "right": 0.0}, None, 1.5)
    assert closing is not None and closing.kind == "ocular_oral"
    smiling = detect(feats(eye_closure=(0.1, 0.3)), {"left": 6.0, "right": 2.0}, "right", 1.5)
    assert smiling is not None and smiling.kind == "oral_ocular" and smiling.side == "right"


def test_mouth_movement_while_only_the_healthy_eye_closes_is_ocular_oral_on_the_weak_side() -> None:
    # Right palsy: the left eye closes, the right hardly (0.15), and the right corner is
    # pulled 3.5 mm. This is ocular-oral synkinesis on the right, not the left eye
    # "narrowing during a mouth movement".
    reading = detect(feats(eye_closure=(0.8, 0.15)), {"left": 0.4, "right": 3.5}, "left", 1.5)
    assert reading is not None and reading.kind == "ocular_oral" and reading.side == "right"
    # The exercise says which movement is voluntary, whatever moves more.
    told = detect(feats(eye_closure=(0.5, 0.5)), {"left": 5.0, "right": 2.0}, "right", 1.5, voluntary="mouth")
    assert told is not None and told.kind == "oral_ocular"
