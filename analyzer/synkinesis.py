"""Synkinesis: one region moving involuntarily while another moves on purpose.

Two patterns, compared side against side rather than in absolutes (a healthy eye
narrows about 20 % in a big smile):

- oral-ocular: during a mouth movement the affected eye narrows more than the healthy
  one. Index = affected eye's closure (fraction of its neutral opening) minus the
  healthy eye's, 0..1. When the affected side is not known, the larger of the two
  differences counts and the side is the eye that narrowed more.
- ocular-oral: during eye closure a mouth corner moves. Index = corner movement beyond
  the noise floor / 6 mm, capped at 1 (6 mm is about half a healthy smile).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from analyzer.metrics import Side
from shared.messages import Synkinesis

Features = dict[str, dict[Side, float]]

OCULAR_ORAL_FULL_MM = 6.0


@dataclass(frozen=True, slots=True)
class SynkinesisLimits:
    eye_closing: float = 0.4  # an eye closed by this fraction: a voluntary eye closure
    # Affected eye closed this much more than the healthy one (a fraction of its own
    # neutral opening): a 25 % narrowing during a smile reads about 0.2 and alerts.
    oral_ocular_alert: float = 0.15
    ocular_oral_alert: float = 0.33  # 2 mm of corner movement beyond the noise floor


def _other(side: Side) -> Side:
    return "right" if side == "left" else "left"


def oral_ocular(closure: dict[Side, float], affected: Side | None, limits: SynkinesisLimits) -> Synkinesis:
    if affected is not None:
        index = closure[affected] - closure[_other(affected)]
        side: Side | None = affected
    else:
        side = "left" if closure["left"] >= closure["right"] else "right"
        index = abs(closure["left"] - closure["right"])
    index = min(1.0, max(0.0, index))
    return Synkinesis(
        kind="oral_ocular",
        index=round(index, 3),
        side=side if index > 0 else None,
        alert=index >= limits.oral_ocular_alert,
    )


def ocular_oral(mouth_mm: dict[Side, float], noise_floor_mm: float, limits: SynkinesisLimits) -> Synkinesis:
    side: Side = "left" if mouth_mm["left"] >= mouth_mm["right"] else "right"
    index = min(1.0, max(0.0, mouth_mm[side] - noise_floor_mm) / OCULAR_ORAL_FULL_MM)
    return Synkinesis(
        kind="ocular_oral",
        index=round(index, 3),
        side=side if index > 0 else None,
        alert=index >= limits.ocular_oral_alert,
    )


EYE_DRIVE_FULL = 0.6  # eye closure (fraction) that counts as a full voluntary closure
MOUTH_DRIVE_FULL_MM = 6.0  # mouth corner travel that counts as a full voluntary movement


def detect(
    features: Features,
    mouth_excursion: dict[Side, float],
    mouth_weaker: Side | None,
    noise_floor_mm: float,
    limits: SynkinesisLimits | None = None,
    voluntary: Literal["eye", "mouth"] | None = None,
) -> Synkinesis | None:
    """The synkinesis reading of one frame, or None when neither the eyes nor the mouth
    move on purpose. ``mouth_weaker`` (the side whose mouth moves less) stands for the
    affected side of an oral-ocular reading.

    Which movement is the voluntary one comes from the exercise when there is one
    (``voluntary``); otherwise from whichever moves more against a full movement (an
    eye closing 0.6 of its opening, a corner travelling 6 mm). One eye closing is
    enough: the palsied eye may hardly close, and its mouth corner moving then is
    ocular-oral synkinesis, not the other eye narrowing during a smile.
    """
    limits = limits or SynkinesisLimits()
    closure = features["eye_closure"]
    eye_drive = max(closure.values()) / EYE_DRIVE_FULL
    mouth_drive = max(mouth_excursion.values()) / MOUTH_DRIVE_FULL_MM
    if voluntary is None:
        if max(closure.values()) >= limits.eye_closing and eye_drive >= mouth_drive:
            voluntary = "eye"
        elif max(mouth_excursion.values()) >= noise_floor_mm:
            voluntary = "mouth"
    if voluntary == "eye" and max(closure.values()) >= limits.eye_closing:
        return ocular_oral(mouth_excursion, noise_floor_mm, limits)
    if voluntary == "mouth" and max(mouth_excursion.values()) >= noise_floor_mm:
        return oral_ocular(closure, mouth_weaker, limits)
    return None
