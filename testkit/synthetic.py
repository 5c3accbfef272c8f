"""Synthetic faces with known movement, made from a real photo, for tests, benchmarks
and the demo. Local warps move one side's landmark region (a mouth corner, a brow, an
eyelid, a lip) by a known number of pixels; everything else in the photo stays put.

Sides are the patient's anatomical sides, as in ``analyzer.metrics``: in the unmirrored
photo the patient's left is on the image's right.

The warp is applied in three stages, each on the result of the one before, so they
compose the way a face does: the *resting* face (a drooping side), then eye closure,
then the voluntary movements, then a global head motion (shift, scale, rotation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from analyzer.landmarks import FaceMeshLandmarker, FloatArray
from analyzer.metrics import EYELIDS, MOUTH_CORNER, SIDES, Side
from testkit.warp import Band, Bump, Coords, SmoothField, columns, exact_bumps, polyline_y

Image = npt.NDArray[np.uint8]

# Lid margins from canthus to canthus (FaceMesh's eye contour), per side.
UPPER_LID: dict[Side, tuple[int, ...]] = {
    "right": (33, 246, 161, 160, 159, 158, 157, 173, 133),
    "left": (263, 466, 388, 387, 386, 385, 384, 398, 362),
}
LOWER_LID: dict[Side, tuple[int, ...]] = {
    "right": (33, 7, 163, 144, 145, 153, 154, 155, 133),
    "left": (263, 249, 390, 373, 374, 380, 381, 382, 362),
}
# Lip contours from the patient's right corner to the left one.
LIP_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIP_UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIP_LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
LIP_LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
# Upper and lower edge of the brow.
BROW: dict[Side, tuple[int, ...]] = {"right": (70, 63, 105, 66, 107), "left": (300, 293, 334, 296, 336)}
BROW_LOWER: dict[Side, tuple[int, ...]] = {"right": (46, 53, 52, 65, 55), "left": (276, 283, 282, 295, 285)}
UPPER_LIP: dict[Side, int] = {"right": 37, "left": 267}  # outer upper lip, beside the philtrum
UPPER_LIP_LATERAL: dict[Side, int] = {"right": 39, "left": 269}
LIP_LATERAL: dict[Side, int] = {"right": 40, "left": 270}  # where lip press starts tapering
BESIDE_ALA: dict[Side, int] = {"right": 203, "left": 423}  # cheek just lateral to the ala
LOWER_LIP: dict[Side, int] = {"right": 84, "left": 314}
ALA: dict[Side, tuple[int, ...]] = {"right": (98, 129), "left": (327, 358)}  # alar base, ala
CHEEK: dict[Side, tuple[int, ...]] = {"right": (205, 187, 147, 123), "left": (425, 411, 376, 352)}
OUTLINE: dict[Side, int] = {"right": 132, "left": 361}  # face outline at the cheek's height

# Patient's left is the image's right: "out" (lateral) is +x for left, -x for right.
OUT_SIGN: dict[Side, float] = {"left": 1.0, "right": -1.0}
UPPER_LID_SHARE = 0.75  # of an eye closure, the upper lid travels 3/4 of the way


def hopper_face(width: int = 640, height: int = 480) -> Image:
    """matplotlib's bundled portrait of Grace Hopper (public domain, US Navy), cropped to
    the face: an older face with glasses, like many of our patients."""
    from pathlib import Path

    import matplotlib  # a dependency (the clinic's charts); its sample data ships with it

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"matplotlib's sample photo is missing: {path}")
    img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    # The face spans about x 173-356, y 132-334 of the 512x600 photo; a 4:3 crop with a
    # webcam's margin around it.
    crop = img[75:375, 65:465]
    return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_CUBIC))


FACES: dict[str, Callable[[], Image]] = {}  # filled below: name -> base photo


def astronaut_face(width: int = 640, height: int = 480) -> Image:
    """scikit-image's bundled astronaut photo (public domain, NASA), cropped to the face."""
    from skimage import data  # test/benchmark dependency only

    img = data.astronaut()  # type: ignore[no-untyped-call]
    # The face spans about x 179-271, y 71-177 of the 512x512 photo; keep a margin.
    crop = img[20:230, 85:365]
    return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_CUBIC))


@dataclass(frozen=True, slots=True)
class Movement:
    """How far each side's region moves, in pixels of the base image unless noted.

    Field names are ``<movement>_<side>``. Each amount is exact at the named landmarks'
    centre of the base face (what FaceMesh then *reports* is measured in
    tests/test_synthetic.py; see the README's table).
    """

    smile_left: float = 0.0  # mouth corner (291/61) up by the amount and out by half of it
    smile_right: float = 0.0
    brow_left: float = 0.0  # whole brow (both edges) up; lids and canthi stay put
    brow_right: float = 0.0
    # Fraction 0..1 of the resting lid gap; the upper lid does 3/4 of it, the lower 1/4.
    eye_close_left: float = 0.0
    eye_close_right: float = 0.0
    pucker_left: float = 0.0  # mouth corner medially; that side's lips 1/4 as much together
    pucker_right: float = 0.0
    # Ala and alar base (327/358) up; beside the ala (423) 0.8x, the upper lip beside
    # the philtrum and lateral to it (267, 269) 0.5x.
    snarl_left: float = 0.0
    snarl_right: float = 0.0
    # Laterally out, midway between the cheek points (425/411/376/352) and the face
    # outline (361): those points move 0.65-1.0x, the outline 0.95x.
    cheek_left: float = 0.0
    cheek_right: float = 0.0
    # Vermilion thinner: upper outer lip (267/269/270) down and lower (314/405) up by
    # the amount, the midline (0, 17) by half of it; the lip seal line (13/14) stays.
    lip_press_left: float = 0.0
    lip_press_right: float = 0.0
    # Resting asymmetry of a weak side: these change the face the others start from.
    droop_mouth_left: float = 0.0  # mouth corner down
    droop_mouth_right: float = 0.0
    droop_brow_left: float = 0.0  # whole brow down (at most 0.8 of its room above the lid)
    droop_brow_right: float = 0.0
    wide_eye_left: float = 0.0  # lower lid down at the lid pairs (380: 0.9x), wider fissure
    wide_eye_right: float = 0.0

    def amount(self, movement: str, side: Side) -> float:
        value: float = getattr(self, f"{movement}_{side}")
        return value

    def lerp(self, other: Movement, t: float) -> Movement:
        """The movement a fraction ``t`` of the way from this one to ``other``."""
        return Movement(
            **{f.name: (1 - t) * getattr(self, f.name) + t * getattr(other, f.name) for f in fields(Movement)}
        )

    def mirrored(self) -> Movement:
        """The same movement on the other side, so a test can run both sides."""
        values: dict[str, float] = {}
        for f in fields(Movement):
            base, side = f.name.rsplit("_", 1)
            values[f"{base}_{'right' if side == 'left' else 'left'}"] = getattr(self, f.name)
        return Movement(**values)


class SyntheticFace:
    """A photo with its FaceMesh landmarks, rendered with any ``Movement``."""

    def __init__(self, image: Image) -> None:
        self.image = image
        mesh = FaceMeshLandmarker(static_image_mode=True)
        try:
            detected = mesh.detect(image)
        finally:
            mesh.close()
        if detected is None:
            raise ValueError("no face found in the base image")
        self.landmarks: FloatArray = detected.points
        h, w = image.shape[:2]
        self.shape = (h, w)
        self._grid_x, self._grid_y = np.meshgrid(
            np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
        )
        eye_dist = float(np.linalg.norm(self.landmarks[263, :2] - self.landmarks[33, :2]))
        self.sigma = 0.18 * eye_dist

    def _centre(self, idx: Sequence[int], points: FloatArray | None = None) -> FloatArray:
        pts = self.landmarks if points is None else points
        return pts[list(idx), :2].mean(axis=0)  # type: ignore[no-any-return]

    def render(
        self,
        move: Movement,
        shift: tuple[float, float] = (0.0, 0.0),
        scale: float = 1.0,
        angle_deg: float = 0.0,
    ) -> Image:
        """The base photo with the given movement, then a global similarity motion
        (rotation by ``angle_deg`` and ``scale`` about the image centre, then ``shift``)."""
        if move == Movement() and _head_matrix(self.shape, shift, scale, angle_deg) is None:
            return self.image.copy()
        (lid_x, lid_y), eyeball = self.source(move, self._grid_x, self._grid_y, shift, scale, angle_deg)
        lids = cv2.remap(self.image, lid_x, lid_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if eyeball is None:
            return np.asarray(lids, dtype=np.uint8)
        (ball_x, ball_y), ball = eyeball
        balls = cv2.remap(self.image, ball_x, ball_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        out = lids.astype(np.float32) * (1 - ball[..., None]) + balls.astype(np.float32) * ball[..., None]
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def source(
        self,
        move: Movement,
        x: FloatArray,
        y: FloatArray,
        shift: tuple[float, float] = (0.0, 0.0),
        scale: float = 1.0,
        angle_deg: float = 0.0,
    ) -> tuple[Coords, tuple[Coords, FloatArray] | None]:
        """Where in the base photo the rendered image's pixels (x, y) come from: the
        backward map ``render`` samples, exposed so tests can check it against
        ``true_landmarks`` exactly.

        With an eye closing there are two layers: the lids (first) and, where the
        ``alpha`` returned with it is above 0, the eyeball the lids slide over.
        """
        rest, closures, movement = self._stages(move)
        head = _head_matrix(self.shape, shift, scale, angle_deg)
        if head is not None:
            inv = cv2.invertAffineTransform(head)
            x, y = (
                (inv[0, 0] * x + inv[0, 1] * y + inv[0, 2]).astype(np.float32),
                (inv[1, 0] * x + inv[1, 1] * y + inv[1, 2]).astype(np.float32),
            )
        x, y = movement.inverse(x, y)
        # Eye closure: the lids slide over an eyeball that does not move, so the opening
        # keeps its own pixels and only the lid layer is squeezed shut.
        lid_x, lid_y = x, y
        ball = np.zeros_like(x)
        for band in closures:
            lid_x, lid_y = band.inverse(lid_x, lid_y)
            ball = np.maximum(ball, _opening(band, x, y))
        lids = rest.inverse(lid_x, lid_y)
        if not closures:
            return lids, None
        return lids, (rest.inverse(x, y), ball)

    def true_landmarks(
        self,
        move: Movement,
        shift: tuple[float, float] = (0.0, 0.0),
        scale: float = 1.0,
        angle_deg: float = 0.0,
    ) -> FloatArray:
        """Where the warp puts each base landmark (x, y) in ``render``'s image: the ground
        truth to compare a landmarker's answer with (z is kept from the base face)."""
        rest, closures, movement = self._stages(move)
        points = rest.forward_points(self.landmarks)
        for band in closures:
            points = band.forward_points(points)
        points = movement.forward_points(points)
        head = _head_matrix(self.shape, shift, scale, angle_deg)
        if head is not None:
            points = points @ head[:, :2].T.astype(np.float32) + head[:, 2].astype(np.float32)
        out = self.landmarks.copy()
        out[:, :2] = points
        return out

    def _stages(self, move: Movement) -> tuple[_Stage, list[Band], _Stage]:
        """The warp of each stage, each placed on the landmarks the stage before left."""
        rest = self._rest_stage(move)
        rested = rest.forward_points(self.landmarks)
        closures = [c for c in (self._closure(move, side, rested) for side in SIDES) if c is not None]
        return rest, closures, self._movement_stage(move, rested)

    def _rest_stage(self, move: Movement) -> _Stage:
        """Resting droop: the face the patient starts from."""
        bumps: list[Bump] = []
        bands: list[Band] = []
        for side in SIDES:
            if drop := move.amount("droop_mouth", side):
                bumps.append(Bump.at(self._centre(MOUTH_CORNER[side]), 0.0, drop, self.sigma))
            if drop := move.amount("droop_brow", side):
                bands.append(self._brow(side, -drop, self.landmarks))
            if wide := move.amount("wide_eye", side):
                bands.append(self._wide_eye(side, wide))
        return _Stage(bands, SmoothField(bumps, self.shape))

    def _wide_eye(self, side: Side, amount: float) -> Band:
        """Lower lid down by ``amount`` wherever the gap is at least that of the measured
        lid pairs, tapering to nothing at the canthi; the eyeball stretches to fill."""
        upper = self.landmarks[list(UPPER_LID[side]), :2]
        lower = self.landmarks[list(LOWER_LID[side]), :2]
        xs = columns(upper)
        yu, yl = polyline_y(upper, xs), polyline_y(lower, xs)
        gap = np.maximum(yl - yu, 0.0)
        pair_gap = min(float(self.landmarks[lo, 1] - self.landmarks[up, 1]) for up, lo in EYELIDS[side])
        drop = amount * np.minimum(gap / max(pair_gap, 1.0), 1.0)
        tail = max(float(gap.max()), 2.5 * abs(amount))
        zero = np.zeros_like(xs)
        return Band(xs, np.stack([yu, yl, yl + tail]), np.stack([zero, drop, zero]))

    def _closure(self, move: Movement, side: Side, points: FloatArray) -> Band | None:
        """The lid layer of an eye closing by a fraction of its (resting) lid gap."""
        fraction = min(max(move.amount("eye_close", side), 0.0), 1.0)
        if not fraction:
            return None
        upper = points[list(UPPER_LID[side]), :2]
        lower = points[list(LOWER_LID[side]), :2]
        xs = columns(upper)
        yu, yl = polyline_y(upper, xs), polyline_y(lower, xs)
        gap = np.maximum(yl - yu, 0.0)
        down = fraction * UPPER_LID_SHARE * gap
        up = fraction * (1 - UPPER_LID_SHARE) * gap
        # The lid skin up to about one and a half gaps above the margin stretches to
        # follow, but not the brow; the lower lid drags less skin with it.
        brow = polyline_y(points[list(BROW_LOWER[side]), :2], xs)
        above = np.maximum(np.minimum(1.5 * gap.max(), 0.85 * (yu - brow)), 1.3 * down + 1.0)
        below = float(gap.max())
        zero = np.zeros_like(xs)
        return Band(xs, np.stack([yu - above, yu, yl, yl + below]), np.stack([zero, down, -up, zero]))

    def _brow(self, side: Side, lift: float, points: FloatArray) -> Band:
        """The whole brow up by ``lift`` (down if negative), tapering off beyond its ends.

        A band rather than a bump, so the skin between brow and upper lid stretches or
        folds while the lids and canthi stay put: a bump big enough to move the brow
        would drag the eye with it and upset alignment on the canthi.
        """
        top = points[list(BROW[side]), :2]
        bottom = points[list(BROW_LOWER[side]), :2]
        ends = np.concatenate([top, bottom])
        x0, x1 = float(ends[:, 0].min()), float(ends[:, 0].max())
        taper = 0.5 * self.sigma
        xs = np.arange(x0 - taper, x1 + taper + 0.5, 0.5, dtype=np.float32)
        y_top, y_bottom = polyline_y(top, xs), polyline_y(bottom, xs)
        y_lid = polyline_y(points[list(UPPER_LID[side]), :2], xs)  # canthus height beyond the eye
        room = y_lid - y_bottom
        profile = np.interp(xs, [x0 - taper, x0, x1, x1 + taper], [0.0, 1.0, 1.0, 0.0]).astype(np.float32)
        dy = -lift * profile
        if lift < 0:  # a drooping brow cannot sink into the lid
            dy = np.minimum(dy, 0.8 * room)
        above = max(1.5 * float(room.max()), 2.5 * abs(lift))
        zero = np.zeros_like(xs)
        return Band(xs, np.stack([y_top - above, y_top, y_bottom, y_lid]), np.stack([zero, dy, dy, zero]))

    def _movement_stage(self, move: Movement, rested: FloatArray) -> _Stage:
        """Voluntary movements, placed on the resting face's landmarks ``rested``: first
        the bands (brow, lip press), then the bumps on where the bands left the points."""
        bands = [
            self._brow(side, move.amount("brow", side), rested) for side in SIDES if move.amount("brow", side)
        ]
        if move.lip_press_left or move.lip_press_right:
            bands.append(self._lip_press(move.lip_press_left, move.lip_press_right, rested))
        points = _Stage(bands, SmoothField([], self.shape)).forward_points(rested)
        s = self.sigma
        bumps: list[Bump] = []
        for side in SIDES:
            out = OUT_SIGN[side]
            corner = self._centre(MOUTH_CORNER[side], points)
            if amount := move.amount("smile", side):
                bumps.append(Bump.at(corner, out * amount * 0.5, -amount, s))
            if amount := move.amount("pucker", side):
                bumps.append(Bump.at(corner, -out * amount, 0.0, s))
                bumps.append(Bump.at(points[UPPER_LIP[side], :2], 0.0, 0.25 * amount, 0.5 * s))
                bumps.append(Bump.at(points[LOWER_LIP[side], :2], 0.0, -0.25 * amount, 0.5 * s))
            if amount := move.amount("snarl", side):
                # Levator labii: a strip from the ala down to the lateral upper lip. FaceMesh
                # ties the two alae together; lifting the lip beside them too is what
                # makes it see one side move (see tests/test_synthetic.py).
                strip = [
                    Bump.at(self._centre(ALA[side], points), 0.0, -amount, 0.6 * s),
                    Bump.at(points[BESIDE_ALA[side], :2], 0.0, -0.8 * amount, 0.6 * s),
                    Bump.at(points[UPPER_LIP[side], :2], 0.0, -0.5 * amount, 0.5 * s),
                    Bump.at(points[UPPER_LIP_LATERAL[side], :2], 0.0, -0.5 * amount, 0.5 * s),
                ]
                bumps.extend(exact_bumps(strip))
            if amount := move.amount("cheek", side):
                # Centred between the cheek points and the face outline beside them: the
                # outline bulging is most of what FaceMesh sees of a puffed cheek.
                cheek = self._centre(CHEEK[side], points)
                outline = points[OUTLINE[side], :2]
                bumps.append(Bump.at((cheek + outline) / 2, out * amount, 0.0, 1.25 * s))
        return _Stage(bands, SmoothField(bumps, self.shape))

    def lip_press_limit(self) -> float:
        """The largest press (px, both sides alike) the warp moves exactly over the part
        of this face's resting lips that each side presses fully (``lip_press_moved``)."""
        xs, profile, room_down, room_up = self._lip_press_room(1.0, 1.0, self.landmarks)
        pressed = self._fully_pressed(xs)
        room = np.minimum(room_down[pressed], room_up[pressed])
        return float(np.min(room / profile[pressed]))

    def _fully_pressed(self, xs: FloatArray, side: Side | None = None) -> npt.NDArray[np.bool_]:
        """Which lip columns ``xs`` a side presses with its full amount (from the lateral
        knot to beside the philtrum), that ``side``'s or either's."""
        points = self.landmarks
        mask = np.zeros(xs.shape, dtype=bool)
        for one in SIDES if side is None else (side,):
            lo, hi = sorted((points[LIP_LATERAL[one], 0], points[UPPER_LIP[one], 0]))
            mask |= (xs >= lo) & (xs <= hi)
        return mask

    def lip_press_moved(self, left: float, right: float) -> dict[Side, float]:
        """How far (px) the warp really thins each side's lips for a press of ``left`` and
        ``right``: the upper and the lower edge together, the mean over the part of the
        lip each side presses fully (from the lateral knot to beside the philtrum). A thin
        lip runs out of vermilion (the band keeps a fifth of it), so a side can move less
        than it was asked to, and the healthy side of a palsy face more often than the
        affected one."""
        xs, profile, room_down, room_up = self._lip_press_room(left, right, self.landmarks)
        moved = np.minimum(profile, room_down) + np.minimum(profile, room_up)
        return {side: float(moved[self._fully_pressed(xs, side)].mean()) for side in SIDES}

    def _lip_press_room(
        self, left: float, right: float, points: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Per column of the lips: x, the press asked for, and how far the upper and the
        lower outer edge can move towards the seal (four fifths of the vermilion)."""
        uo, ui = points[list(LIP_UPPER_OUTER), :2], points[list(LIP_UPPER_INNER), :2]
        li, lo = points[list(LIP_LOWER_INNER), :2], points[list(LIP_LOWER_OUTER), :2]
        xs = columns(np.concatenate([uo, lo]))
        y_uo, y_ui, y_li, y_lo = (polyline_y(c, xs) for c in (uo, ui, li, lo))
        # Per side: the full amount from beside the philtrum to the lateral lip, half at
        # the midline (so both sides together press it fully), none at the corners.
        knots = (61, LIP_LATERAL["right"], UPPER_LIP["right"], 0, UPPER_LIP["left"], LIP_LATERAL["left"], 291)
        amounts = [0.0, right, right, (left + right) / 2, left, left, 0.0]
        profile = np.interp(xs, [points[i, 0] for i in knots], amounts).astype(np.float32)
        room_down = 0.8 * np.maximum(y_ui - y_uo, 0.0)
        room_up = 0.8 * np.maximum(y_lo - y_li, 0.0)
        return xs, profile, room_down, room_up

    def _lip_press(self, left: float, right: float, points: FloatArray) -> Band:
        """Outer lip contours towards the seal line: the vermilion gets thinner."""
        xs, profile, room_down, room_up = self._lip_press_room(left, right, points)
        uo, lo = points[list(LIP_UPPER_OUTER), :2], points[list(LIP_LOWER_OUTER), :2]
        li = points[list(LIP_LOWER_INNER), :2]
        y_uo, y_lo, y_li = polyline_y(uo, xs), polyline_y(lo, xs), polyline_y(li, xs)
        y_ui = polyline_y(points[list(LIP_UPPER_INNER), :2], xs)
        down = np.minimum(profile, room_down)
        up = np.minimum(profile, room_up)
        tail = max(1.5 * float(np.max(y_lo - y_li)), 2.5 * max(left, right))
        zero = np.zeros_like(xs)
        return Band(
            xs,
            np.stack([y_uo - tail, y_uo, y_ui, y_li, y_lo, y_lo + tail]),
            np.stack([zero, down, zero, zero, -up, zero]),
        )


@dataclass(frozen=True, slots=True)
class _Stage:
    """One stage of the warp: bands, then a smooth field on top (forward order)."""

    bands: list[Band]
    field: SmoothField

    def forward_points(self, points: FloatArray) -> FloatArray:
        moved = points[:, :2].astype(np.float32)
        for band in self.bands:
            moved = band.forward_points(moved)
        return self.field.forward_points(moved)

    def inverse(self, x: FloatArray, y: FloatArray) -> Coords:
        x, y = self.field.inverse(x, y)
        for band in reversed(self.bands):
            x, y = band.inverse(x, y)
        return x, y


def _head_matrix(
    shape: tuple[int, int], shift: tuple[float, float], scale: float, angle_deg: float
) -> npt.NDArray[np.float64] | None:
    """The 2x3 forward matrix of a head motion about the image centre, or None for none."""
    if shift == (0.0, 0.0) and scale == 1.0 and angle_deg == 0.0:
        return None
    h, w = shape
    m = np.asarray(cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, scale), dtype=np.float64)
    m[:, 2] += shift
    return m


def _opening(band: Band, x: FloatArray, y: FloatArray) -> FloatArray:
    """1 inside a closing eye's remaining opening, 0 outside, with a one-pixel soft edge."""
    alpha = np.zeros_like(x)
    inside = (x >= band.xs[0]) & (x <= band.xs[-1]) & (y >= band.ys[0].min()) & (y <= band.ys[-1].max())
    if inside.any():
        knots = band.knots_at(x[inside], new=True)
        top, bottom = knots[1], knots[2]
        yi = y[inside]
        alpha[inside] = np.clip(np.minimum(yi - top, bottom - yi) + 0.5, 0.0, 1.0)
    return alpha


@dataclass(frozen=True, slots=True)
class HeadMotion:
    """Slow, smooth sway of a head in front of a camera, for realistic clips.

    Each component is a sum of two sines at unrelated frequencies (with phases from
    ``seed``), so the motion never repeats within a clip and never jumps.
    """

    shift_px: float = 2.0
    angle_deg: float = 3.0
    scale: float = 0.05  # relative, e.g. 0.05 = +-5 %
    seed: int = 0

    def at(self, t: float) -> tuple[tuple[float, float], float, float]:
        """(shift, scale, angle_deg) at time ``t`` seconds."""
        phases = np.random.default_rng(self.seed).uniform(0, 2 * math.pi, size=8)

        def wave(i: int, f1: float, f2: float) -> float:
            a = math.sin(2 * math.pi * f1 * t + phases[2 * i])
            b = math.sin(2 * math.pi * f2 * t + phases[2 * i + 1])
            return 0.6 * a + 0.4 * b

        shift = (self.shift_px * wave(0, 0.23, 0.61), self.shift_px * wave(1, 0.17, 0.53))
        return shift, 1.0 + self.scale * wave(2, 0.11, 0.37), self.angle_deg * wave(3, 0.13, 0.41)


def movement_at(steps: Sequence[tuple[Movement, float]], t: float, start: Movement | None = None) -> Movement:
    """The movement at time ``t`` of a script: from ``start`` (neutral by default), each
    step ramps linearly to its movement over its seconds (a hold repeats a movement)."""
    current = start or Movement()
    elapsed = 0.0
    for target, seconds in steps:
        if t < elapsed + seconds:
            return current.lerp(target, (t - elapsed) / seconds) if seconds > 0 else target
        current, elapsed = target, elapsed + seconds
    return current


def script_frames(
    face: SyntheticFace,
    steps: Sequence[tuple[Movement, float]],
    fps: float,
    motion: HeadMotion | None = None,
    start: Movement | None = None,
) -> Iterator[Image]:
    """Frames of a scripted clip at ``fps``: e.g. one rep of a smile is
    ``[(Movement(), 1), (smile, 1), (smile, 2), (Movement(), 1)]`` (rest, ramp up, hold,
    ramp down). ``motion`` adds head sway on top; frames are made lazily, one at a time.
    """
    total = sum(seconds for _, seconds in steps)
    for i in range(round(total * fps)):
        t = i / fps
        kwargs: dict[str, Any] = {}
        if motion is not None:
            shift, scale, angle = motion.at(t)
            kwargs = {"shift": shift, "scale": scale, "angle_deg": angle}
        yield face.render(movement_at(steps, t, start), **kwargs)


FACES.update(astronaut=astronaut_face, hopper=hopper_face)
