"""The Sunnybrook Facial Grading System's arithmetic (Ross, Fradet & Nedzelski 1996), in
one place: the clinic scores a therapist's grading with it and the analyzer its
estimate (``analyzer.sunnybrook`` maps measures to grades). The dashboard's grading form
previews the same sums in JavaScript; a browser test holds it to this module.

composite = voluntary movement (five movements graded 1-5, sum x 4)
          - resting symmetry ((eye 0-1 + cheek 0-2 + mouth 0-1) x 5)
          - synkinesis (five movements graded 0-3, summed)

The published range is 0..100 (a healthy face scores 100); full paralysis with
synkinesis could go below 0 arithmetically, so the composite is clipped to 0..100.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from shared.messages import SunnybrookEstimate

# The five movements, named as in the exercise catalogue.
MOVEMENTS = ("brow_raise", "gentle_eye_closure", "open_smile", "snarl", "pucker")
RESTING_MAX = {"eye": 1, "cheek": 2, "mouth": 1}  # cheek: the nasolabial fold
VOLUNTARY_RANGE = (1, 5)
SYNKINESIS_RANGE = (0, 3)


def composite(
    resting: Mapping[str, int],
    voluntary: Mapping[str, int],
    synkinesis: Mapping[str, int],
    affected_side: Literal["left", "right"] | None = None,
    *,
    estimate: bool = True,
) -> SunnybrookEstimate:
    """Check every grade and add them up as the scale prescribes; ValueError names the
    first grade that is missing or out of range."""
    if set(resting) != set(RESTING_MAX):
        raise ValueError(f"resting needs exactly {', '.join(RESTING_MAX)}")
    for key, top in RESTING_MAX.items():
        if not 0 <= resting[key] <= top:
            raise ValueError(f"resting {key} must be 0 to {top}")
    for name, part, (lo, hi) in (
        ("voluntary", voluntary, VOLUNTARY_RANGE),
        ("synkinesis", synkinesis, SYNKINESIS_RANGE),
    ):
        if set(part) != set(MOVEMENTS):
            raise ValueError(f"{name} needs exactly {', '.join(MOVEMENTS)}")
        for key in MOVEMENTS:
            if not lo <= part[key] <= hi:
                raise ValueError(f"{name} {key} must be {lo} to {hi}")
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
        estimate=estimate,
    )
