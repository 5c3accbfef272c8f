"""Questionnaire scoring on known answer sets (pure functions, no database)."""

from __future__ import annotations

import pytest

from services.clinic.questionnaires import (
    FACE_DOMAINS,
    QuestionnaireError,
    score,
    score_face,
    score_fdi,
    score_saq,
)


def test_face_domains_cover_each_of_the_15_items_once() -> None:
    items = sorted(i for domain in FACE_DOMAINS.values() for i in domain)
    assert items == list(range(1, 16))


def test_face_best_and_worst_answers_score_100_and_0() -> None:
    best, worst = score_face([5] * 15), score_face([1] * 15)
    assert all(v == 100.0 for v in best.values()) and all(v == 0.0 for v in worst.values())
    assert set(best) == {*FACE_DOMAINS, "total"}


def test_face_known_answer_set() -> None:
    # items 1..15
    answers = [2, 1, 3, 4, 3, 5, 4, 2, 3, 4, 5, 1, 5, 2, 4]
    s = score_face(answers)
    assert s["facial_movement"] == pytest.approx((2 + 1 + 3 - 3) / 12 * 100, abs=0.05)  # 25.0
    assert s["facial_comfort"] == pytest.approx((4 + 5 + 4 - 3) / 12 * 100, abs=0.05)  # items 4, 6, 10
    assert s["oral_function"] == pytest.approx((4 + 5 - 2) / 8 * 100, abs=0.05)  # items 7, 13
    assert s["eye_comfort"] == pytest.approx((3 + 2 - 2) / 8 * 100, abs=0.05)  # items 5, 14
    assert s["lacrimal_control"] == 0.0  # item 12
    assert s["social_function"] == pytest.approx((2 + 3 + 5 + 4 - 4) / 16 * 100, abs=0.05)  # 8, 9, 11, 15
    assert s["total"] == pytest.approx((sum(answers) - 15) / 60 * 100, abs=0.05)


def test_saq_is_sum_over_45_times_100() -> None:
    assert score_saq([1] * 9) == {"total": 20.0}
    assert score_saq([5] * 9) == {"total": 100.0}
    assert score_saq([1, 2, 3, 4, 5, 1, 2, 3, 4]) == {"total": round(25 / 45 * 100, 1)}  # 55.6


def test_fdi_subscales_leave_out_items_not_done_for_other_reasons() -> None:
    assert score_fdi([5] * 5 + [6] * 5) == {"physical": 100.0, "social": 100.0}
    assert score_fdi([1] * 5 + [1] * 5) == {"physical": 0.0, "social": 0.0}
    # physical: answered 4, 3, 5 (N = 3): (12 - 3) / 3 × 25 = 75; social: (2+3+4+5+6 - 5) / 5 × 20 = 60
    assert score_fdi([4, None, 3, None, 5, 2, 3, 4, 5, 6]) == {"physical": 75.0, "social": 60.0}
    assert score_fdi([None] * 5 + [6] * 5) == {"physical": None, "social": 100.0}


@pytest.mark.parametrize(
    ("kind", "answers"),
    [
        ("face", [5] * 14),
        ("face", [0] + [5] * 14),
        ("face", [None] + [5] * 14),
        ("saq", [6] * 9),
        ("saq", [3] * 10),
        ("fdi", [5] * 5 + [7] * 5),
        ("fdi", [6] * 5 + [6] * 5),
        ("fdi", [5] * 9),
        ("nope", [1]),
    ],
)
def test_incomplete_or_out_of_range_answers_are_refused(kind: str, answers: list[int | None]) -> None:
    with pytest.raises(QuestionnaireError):
        score(kind, answers)
