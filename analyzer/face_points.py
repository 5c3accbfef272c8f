"""Which FaceMesh landmarks make up each region, per side, in one place.

Indices are MediaPipe FaceMesh's (478 points with ``refine_landmarks=True``).
MediaPipe's "left" is the subject's left, and so is ours: in an unmirrored camera image
the patient's left side appears on the image's right.
"""

from __future__ import annotations

from typing import Literal

Side = Literal["left", "right"]
SIDES: tuple[Side, Side] = ("left", "right")

# The eyebrow, upper edge then lower edge: it moves as one piece, and ten points give the
# median something to reject (an edge hidden under a fringe or a hat brim).
BROW: dict[Side, tuple[int, ...]] = {
    "right": (70, 63, 105, 66, 107, 46, 53, 52, 65, 55),
    "left": (300, 293, 334, 296, 336, 276, 283, 282, 295, 285),
}
MOUTH_CORNER: dict[Side, tuple[int, ...]] = {"right": (61,), "left": (291,)}
# (upper lid, lower lid) pairs across the palpebral fissure, from the outer to the inner
# third of the eye: five, so one pair misread (a lash, a fold) cannot move the median.
EYELIDS: dict[Side, tuple[tuple[int, int], ...]] = {
    "right": ((161, 163), (160, 144), (159, 145), (158, 153), (157, 154)),
    "left": ((388, 390), (387, 373), (386, 374), (385, 380), (384, 381)),
}
# Corners of each eye; their line is the face's horizontal axis.
CANTHI: dict[Side, tuple[int, int]] = {"right": (33, 133), "left": (362, 263)}
NASAL_ALA: dict[Side, tuple[int, ...]] = {"right": (98, 129), "left": (327, 358)}
CHEEK: dict[Side, tuple[int, ...]] = {"right": (205, 187, 147, 123), "left": (425, 411, 376, 352)}
# (upper lip outer edge, lower lip outer edge) pairs, from beside the philtrum to halfway
# to the corner: three columns of the vermilion, so one edge misread cannot move the mean.
LIP_EDGES: dict[Side, tuple[tuple[int, int], ...]] = {
    "right": ((37, 84), (39, 181), (40, 91)),
    "left": ((267, 314), (269, 405), (270, 321)),
}

IRIS_CENTRES: dict[Side, int] = {"right": 468, "left": 473}
# Iris edge pairs (horizontal and vertical) for the refined iris landmarks.
IRIS_EDGES: tuple[tuple[int, int], ...] = ((469, 471), (470, 472), (474, 476), (475, 477))

# Canthi, nose bridge, forehead, temples: stable under brow, eye and mouth movement.
STABLE_POINTS: tuple[int, ...] = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 127, 356, 234, 454)

MIDLINE: tuple[int, ...] = (168, 6, 197, 195, 5, 4, 9, 8, 10, 151, 152, 1, 0, 13, 14, 17)

# Left/right partners of every landmark the measures read: a mirror image of a face
# swaps these (the property tests rely on it).
_PAIRS: tuple[tuple[int, int], ...] = (
    *zip(BROW["right"], BROW["left"], strict=True),
    *zip(MOUTH_CORNER["right"], MOUTH_CORNER["left"], strict=True),
    *(
        pair
        for (r_up, r_low), (l_up, l_low) in zip(EYELIDS["right"], EYELIDS["left"], strict=True)
        for pair in ((r_up, l_up), (r_low, l_low))
    ),
    (33, 263),
    (133, 362),
    *zip(NASAL_ALA["right"], NASAL_ALA["left"], strict=True),
    *zip(CHEEK["right"], CHEEK["left"], strict=True),
    *(
        pair
        for (r_up, r_low), (l_up, l_low) in zip(LIP_EDGES["right"], LIP_EDGES["left"], strict=True)
        for pair in ((r_up, l_up), (r_low, l_low))
    ),
    (468, 473),
    (469, 474),
    (470, 475),
    (471, 476),
    (472, 477),
    (127, 356),
    (234, 454),
)
MIRROR: dict[int, int] = {
    **{m: m for m in MIDLINE},
    **dict(_PAIRS),
    **{left: right for right, left in _PAIRS},
}
