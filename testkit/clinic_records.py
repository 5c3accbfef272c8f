"""Clinic records that look real: an intake, a programme, a Sunnybrook grading and an
analyzer's session summary (with or without its estimate)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import msgspec

from shared.messages import (
    ExerciseSummary,
    Resting,
    SessionSummary,
    SpasmEvent,
    SpasmSummary,
    SunnybrookEstimate,
)

INTAKE: dict[str, Any] = {
    "onset_date": (date.today() - timedelta(days=20)).isoformat(),
    "diagnosis": "bells_palsy",
    "affected_side": "right",
    "course": "improving",
    "treatments": {"corticosteroids": True, "antivirals": False, "surgery": False},
    "problems": {"eye_closure": True, "eating_drinking": True, "speaking": False},
    "eye_care": {"drops": True, "ointment": True, "taping": False},
    "eye_symptoms": ["dryness"],
    "imaging": "MRI 2026-10-01: no lesion",
    "goals": ["symmetric smile", "close my eye"],
}

PROGRAMME: dict[str, Any] = {
    "exercises": [
        {"name": "closed_smile", "reps": 8, "sets": 2, "hold_s": 4, "times_per_day": 2, "days_per_week": 5},
        {"name": "brow_raise"},
    ],
    "self_care": [
        {"key": "eye_drops", "kind": "eye_care", "title": "Eye drops", "when": "day", "times_per_day": 4},
        {"key": "eye_ointment", "kind": "eye_care", "title": "Ointment and tape", "when": "night"},
        {"key": "massage", "kind": "massage", "title": "Self-massage", "duration_min": 5},
    ],
    "education": [{"key": "recovery_stages", "title": "Stages of recovery", "text": "Movement first."}],
    "eye_protection": ["Wear glasses outdoors."],
    "reminder_times": ["08:30", "18:00"],
}

SUNNYBROOK = {
    "resting": {"eye": 1, "cheek": 1, "mouth": 0},
    "voluntary": {"brow_raise": 2, "gentle_eye_closure": 3, "open_smile": 2, "snarl": 2, "pucker": 3},
    "synkinesis": {"brow_raise": 0, "gentle_eye_closure": 1, "open_smile": 1, "snarl": 0, "pucker": 0},
}


def summary(sid: str, symmetry: float = 0.7, estimate: bool = False, twitches: int = 0) -> dict[str, Any]:
    """A session's summary as the analyzer sends it; ``twitches``: that many twitches of
    the right eye at rest (hemifacial spasm)."""
    events = [
        SpasmEvent(start_s=10.0 + 5 * i, duration_s=0.4, side="right", regions=["eye"], peak_eye=0.6)
        for i in range(twitches)
    ]
    s = SessionSummary(
        sid=sid,
        frames=900,
        exercises=[
            ExerciseSummary(
                "closed_smile",
                reps=8,
                attempts=10,
                sets=1,
                mean_hold_s=3.2,
                symmetry=symmetry,
                synkinesis=0.2,
                quality=0.8,
            ),
            ExerciseSummary(
                "brow_raise",
                reps=10,
                attempts=10,
                sets=1,
                mean_hold_s=3.0,
                symmetry=0.9,
                synkinesis=None,
                quality=1.0,
            ),
        ],
        resting=Resting(brow_mm=-1.5, eye_mm=2.0, mouth_mm=-2.5),
        assessment=SunnybrookEstimate(
            resting={"eye": 1, "cheek": 1, "mouth": 1},
            voluntary={"brow_raise": 3, "gentle_eye_closure": 3, "open_smile": 2, "snarl": 3, "pucker": 3},
            synkinesis={"brow_raise": 0, "gentle_eye_closure": 0, "open_smile": 1, "snarl": 0, "pucker": 1},
            resting_score=15,
            voluntary_score=56,
            synkinesis_score=2,
            composite=39,
            affected_side="right",
        )
        if estimate
        else None,
        spasms=SpasmSummary(
            count=twitches,
            left=0,
            right=twitches,
            eye=twitches,
            mouth=0,
            total_s=0.4 * twitches,
            events=events,
        )
        if twitches
        else None,
    )
    out: dict[str, Any] = msgspec.to_builtins(s)
    return out
