"""Sunnybrook grades (Ross et al., 1996) from our measures, as an *estimate*; the
scale's arithmetic itself is ``shared.sunnybrook`` (the clinic scores with it too).
The therapist's own score is the record: this module only turns measured ratios into
the scale's grades, and says it is an estimate.

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

from shared.messages import Resting
from shared.sunnybrook import MOVEMENTS, composite

__all__ = ["MOVEMENTS", "MOUTH_READ", "composite", "resting_grades", "synkinesis_grade", "voluntary_grade"]
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
