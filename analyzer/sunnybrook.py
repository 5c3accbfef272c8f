"""Sunnybrook facial grading arithmetic (Ross et al., 1996), as an *estimate*.

composite = voluntary movement (five movements graded 1-5, sum x 4)
          - resting symmetry ((eye 0-1 + cheek 0-2 + mouth 0-1) x 5)
          - synkinesis (five movements graded 0-3, summed)
Range 0..100; a healthy face scores 100. The therapist's own score is the record: this
module only turns measured ratios into the scale's grades, and says it is an estimate.

The grade thresholds below map our measures onto the scale's verbal anchors; they are
our choice, not part of the published scale, and are pinned by tests:

- voluntary movement, from the affected/healthy excursion ratio: < 0.10 "unable to
  initiate" (1), < 0.35 "initiates slight movement" (2), < 0.65 "initiated movement
  with mild excursion" (3), < 0.90 "movement almost complete" (4), else complete (5);
- resting eye: 1 when the lid openings differ by ≥ 1.5 mm (narrow or wide);
- resting cheek (nasolabial fold): not measurable from 2-D landmarks; we use the
  mouth-corner height difference as its proxy: ≥ 2 mm → 1 ("less pronounced"),
  ≥ 4 mm → 2 ("absent");
- resting mouth: 1 when the corners' heights differ by ≥ 2 mm (drooped or pulled up);
- synkinesis, from the synkinesis index (shared.messages.Synkinesis): < 0.10 none (0),
  < 0.20 mild (1), < 0.35 moderate (2), else severe (3) for eye narrowing;
  corner movement during brow lift / eye closure graded on the same 0..1 index scale
  with thresholds 1/6, 2.5/6, 4/6 (i.e. 1, 2.5 and 4 mm beyond the noise floor).
"""

from __future__ import annotations

from collections.abc import Mapping

from analyzer.metrics import Side
from shared.messages import Resting, SunnybrookEstimate

MOVEMENTS = ("brow_raise", "gentle_eye_closure", "open_smile", "snarl", "pucker")
# Movements whose synkinesis is read at the mouth corner (the rest: eye narrowing).
MOUTH_READ = ("brow_raise", "gentle_eye_closure")


def voluntary_grade(ratio: float | None) -> int:
    """1..5 from affected/healthy excursion; None (neither side moved) grades 1."""
    if ratio is None or ratio < 0.10:
        return 1
    if ratio < 0.35:
        return 2
    if ratio < 0.65:
        return 3
    if ratio < 0.90:
        return 4
    return 5


def synkinesis_grade(index: float, read_at_mouth: bool) -> int:
    limits = (1 / 6, 2.5 / 6, 4 / 6) if read_at_mouth else (0.10, 0.20, 0.35)
    return sum(index >= limit for limit in limits)


def resting_grades(resting: Resting) -> dict[str, int]:
    mouth = abs(resting.mouth_mm)
    return {
        "eye": int(abs(resting.eye_mm) >= 1.5),
        "cheek": 2 if mouth >= 4.0 else int(mouth >= 2.0),
        "mouth": int(mouth >= 2.0),
    }


def composite(
    resting: Mapping[str, int],
    voluntary: Mapping[str, int],
    synkinesis: Mapping[str, int],
    affected_side: Side | None = None,
) -> SunnybrookEstimate:
    """Validate the grades and add them up as the scale prescribes."""
    if set(resting) != {"eye", "cheek", "mouth"}:
        raise ValueError("resting grades need eye, cheek and mouth")
    if set(voluntary) != set(MOVEMENTS) or set(synkinesis) != set(MOVEMENTS):
        raise ValueError(f"voluntary and synkinesis grades need the movements {MOVEMENTS}")
    if not (0 <= resting["eye"] <= 1 and 0 <= resting["cheek"] <= 2 and 0 <= resting["mouth"] <= 1):
        raise ValueError("resting grades out of range (eye 0-1, cheek 0-2, mouth 0-1)")
    if any(not 1 <= g <= 5 for g in voluntary.values()) or any(not 0 <= g <= 3 for g in synkinesis.values()):
        raise ValueError("voluntary grades are 1-5 and synkinesis grades 0-3")
    resting_score = 5 * sum(resting.values())
    voluntary_score = 4 * sum(voluntary.values())
    synkinesis_score = sum(synkinesis.values())
    return SunnybrookEstimate(
        resting=dict(resting),
        voluntary=dict(voluntary),
        synkinesis=dict(synkinesis),
        resting_score=resting_score,
        voluntary_score=voluntary_score,
        synkinesis_score=synkinesis_score,
        composite=max(0, min(100, voluntary_score - resting_score - synkinesis_score)),
        affected_side=affected_side,
    )
