"""Referral rules on constructed histories (pure functions, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.clinic.progress import Grading, History, SessionRecord
from services.clinic.referrals import (
    eye_exposure,
    long_standing,
    new_symptoms,
    no_recovery,
    suggest,
    worsening,
)

TODAY = date(2026, 11, 25)


def at(days_ago: int) -> datetime:
    return datetime(2026, 11, 25, 10, tzinfo=UTC) - timedelta(days=days_ago)


def history(onset_days_ago: int = 120, intake: dict[str, Any] | None = None, **kw: Any) -> History:
    return History(patient_id=1, onset=TODAY - timedelta(days=onset_days_ago), intake=intake or {}, **kw)


def graded(
    *composites: int, source: str = "therapist", hb: int | None = None, every: int = 14
) -> list[Grading]:
    """Gradings ``every`` days apart, the last one ``every`` days ago."""
    n = len(composites)
    return [Grading(at(every * (n - i)), source, c, hb) for i, c in enumerate(composites)]


def smiles(*symmetries: float, every: int = 14) -> list[SessionRecord]:
    n = len(symmetries)
    return [
        SessionRecord(
            at(every * (n - i)), "home", {"exercises": [{"name": "closed_smile", "reps": 5, "symmetry": s}]}
        )
        for i, s in enumerate(symmetries)
    ]


def test_no_recovery_after_four_months_without_gain() -> None:
    flag = no_recovery(history(120, gradings=graded(30, 32, 34)), TODAY)
    assert flag is not None and flag.code == "no_recovery"
    assert "30 on 2026-10-14 → 34 on 2026-11-11" in flag.reason  # the evidence, dated
    assert "17 weeks" in flag.reason


def test_no_recovery_needs_measures_weeks_apart() -> None:
    """Two gradings minutes apart, 17 weeks after onset, said "no recovery" once."""
    minutes_apart = [
        Grading(at(0), "therapist", 30, None),
        Grading(at(0) + timedelta(minutes=3), "therapist", 31, None),
    ]
    assert no_recovery(history(120, gradings=minutes_apart), TODAY) is None
    assert no_recovery(history(120, gradings=graded(30, 31, every=27)), TODAY) is None  # under four weeks
    assert no_recovery(history(120, gradings=graded(30, 31, every=28)), TODAY) is not None
    assert no_recovery(history(120, sessions=smiles(0.40, 0.41, every=1)), TODAY) is None


def test_recovery_signs_or_too_early_give_no_flag() -> None:
    assert no_recovery(history(60, gradings=graded(30, 31)), TODAY) is None  # only 2 months
    assert no_recovery(history(120, gradings=graded(30, 45)), TODAY) is None  # +15 points
    assert no_recovery(history(120, gradings=graded(72, 74)), TODAY) is None  # near normal
    assert no_recovery(history(120, gradings=graded(30)), TODAY) is None  # one grading says nothing
    assert no_recovery(history(120, sessions=smiles(0.4, 0.6)), TODAY) is None  # symmetry +0.2
    improving_hb = [Grading(at(30), "therapist", None, 5), Grading(at(5), "therapist", None, 4)]
    assert no_recovery(history(120, gradings=improving_hb, sessions=smiles(0.4, 0.42)), TODAY) is None


def test_no_recovery_uses_session_symmetry_without_gradings() -> None:
    flag = no_recovery(history(110, sessions=smiles(0.40, 0.42, 0.41)), TODAY)
    assert flag is not None and "symmetry 0.40 on 2026-10-14 → 0.41 on 2026-11-11" in flag.reason


def test_worsening_across_three_gradings_or_sessions() -> None:
    flag = worsening(history(40, gradings=graded(60, 55, 48)), TODAY)
    assert flag is not None and flag.specialty == "neurology"
    assert "60 on 2026-10-14 → 55 on 2026-10-28 → 48 on 2026-11-11" in flag.reason
    assert worsening(history(40, gradings=graded(60, 58, 56)), TODAY) is None  # only 4 points
    assert worsening(history(40, gradings=graded(60, 50, 55)), TODAY) is None  # not monotonic
    assert worsening(history(40, sessions=smiles(0.8, 0.7, 0.6)), TODAY) is not None
    assert worsening(history(40, sessions=smiles(0.8, 0.75, 0.7)), TODAY) is None


def test_estimates_count_only_when_the_therapist_has_graded_less_than_twice() -> None:
    est = graded(60, 55, 48, source="estimate")
    assert worsening(history(40, gradings=est), TODAY) is not None
    both = est + graded(50, 52, 54)
    assert worsening(history(40, gradings=both), TODAY) is None


def test_incomplete_eye_closure_with_eye_symptoms_goes_to_ophthalmology() -> None:
    intake = {"problems": {"eye_closure": True}, "eye_symptoms": ["pain", "blurred_vision"]}
    flag = eye_exposure(history(10, intake), TODAY)
    assert flag is not None and flag.specialty == "ophthalmology" and "pain, blurred vision" in flag.reason
    assert eye_exposure(history(10, {"problems": {"eye_closure": True}, "eye_symptoms": []}), TODAY) is None
    assert (
        eye_exposure(history(10, {"problems": {"eye_closure": False}, "eye_symptoms": ["pain"]}), TODAY)
        is None
    )


def test_new_symptoms_and_long_standing_palsy() -> None:
    flag = new_symptoms(history(10, {"new_symptoms": ["hearing_loss"]}), TODAY)
    assert flag is not None and "hearing loss" in flag.reason
    assert new_symptoms(history(10, {}), TODAY) is None
    old = long_standing(history(400, gradings=graded(35, 38)), TODAY)
    assert old is not None and old.specialty.startswith("plastic surgery")
    assert long_standing(history(400, gradings=graded(60, 70)), TODAY) is None
    assert long_standing(history(200, gradings=graded(35, 38)), TODAY) is None


def test_a_quiet_history_suggests_nothing_and_a_bad_one_several() -> None:
    assert suggest(history(20, {"problems": {"eye_closure": False}}, gradings=graded(50, 60)), TODAY) == []
    bad = history(
        400,
        {"problems": {"eye_closure": True}, "eye_symptoms": ["redness"], "new_symptoms": ["vertigo"]},
        gradings=graded(40, 35, 28),
    )
    assert {s.code for s in suggest(bad, TODAY)} == {
        "no_recovery",
        "worsening",
        "eye_exposure",
        "new_symptoms",
        "long_standing",
    }
