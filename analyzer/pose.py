"""Head pose from landmarks, for gating frames the measures cannot be trusted on.

Angles are in degrees, 0 when facing the camera: yaw positive when the face turns to
the image's right, pitch positive when the chin lifts, roll positive when the eye line
tilts clockwise in the image.
"""

from __future__ import annotations

import math

import numpy as np

from analyzer.landmarks import FloatArray
from shared.messages import Pose

RIGHT_EYE_OUTER, LEFT_EYE_OUTER, FOREHEAD, CHIN = 33, 263, 10, 152


def head_pose(points: FloatArray) -> Pose:
    across = points[LEFT_EYE_OUTER].astype(np.float64) - points[RIGHT_EYE_OUTER]
    up = points[FOREHEAD].astype(np.float64) - points[CHIN]
    normal = np.cross(across, up)  # points towards the camera (negative z) for a frontal face
    norm = np.linalg.norm(normal)
    if norm == 0:
        return Pose(0.0, 0.0, 0.0)
    nx, ny, nz = normal / norm
    yaw = math.degrees(math.atan2(nx, -nz))
    pitch = math.degrees(math.atan2(-ny, -nz))
    roll = math.degrees(math.atan2(across[1], across[0]))
    return Pose(yaw=round(yaw, 1), pitch=round(pitch, 1), roll=round(roll, 1))
