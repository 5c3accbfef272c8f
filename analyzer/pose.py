"""Head pose from landmarks, for gating frames the measures cannot be trusted on.

Angles are in degrees, 0 when facing the camera: yaw positive when the face turns to
the image's right, pitch positive when the chin lifts, roll positive when the eye line
tilts clockwise in the image.
"""

from __future__ import annotations

import math

from analyzer.landmarks import FloatArray
from shared.messages import Pose

RIGHT_EYE_OUTER, LEFT_EYE_OUTER, FOREHEAD, CHIN = 33, 263, 10, 152


def head_pose(points: FloatArray) -> Pose:
    # Plain floats: for four points, numpy's per-call overhead dominates.
    ax, ay, az = (float(v) for v in points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER])
    ux, uy, uz = (float(v) for v in points[FOREHEAD] - points[CHIN])
    # across × up points towards the camera (negative z) for a frontal face.
    nx, ny, nz = ay * uz - az * uy, az * ux - ax * uz, ax * uy - ay * ux
    if nx == ny == nz == 0:
        return Pose(0.0, 0.0, 0.0)
    yaw = math.degrees(math.atan2(nx, -nz))
    pitch = math.degrees(math.atan2(-ny, -nz))
    roll = math.degrees(math.atan2(ay, ax))
    return Pose(yaw=round(yaw, 1), pitch=round(pitch, 1), roll=round(roll, 1))
