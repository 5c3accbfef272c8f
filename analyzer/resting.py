"""Resting asymmetry: how the two sides of the neutral face differ, in millimetres."""

from __future__ import annotations

from analyzer.face_points import BROW, CANTHI, MOUTH_CORNER
from analyzer.metrics import Neutral, Side
from shared.messages import Resting


def resting_asymmetry(neutral: Neutral) -> Resting:
    """Left minus right: brow height above its eye, lid-to-lid opening, mouth corner
    height (positive when the left corner sits higher). A drooping side shows as a lower
    brow, a wider eye (the lower lid sags) and a lower mouth corner."""
    down = neutral.axes.to_face(neutral.points[:, :2])[:, 1]
    mm = neutral.mm

    def eye_line(side: Side) -> float:
        return float(down[list(CANTHI[side])].mean())

    def brow_height(side: Side) -> float:
        return eye_line(side) - float(down[list(BROW[side])].mean())

    def corner_height(side: Side) -> float:
        return -float(down[list(MOUTH_CORNER[side])].mean())

    left_eye, right_eye = neutral.apertures
    return Resting(
        brow_mm=round((brow_height("left") - brow_height("right")) * mm, 2),
        eye_mm=round((left_eye - right_eye) * mm, 2),
        mouth_mm=round((corner_height("left") - corner_height("right")) * mm, 2),
    )
