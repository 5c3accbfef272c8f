"""One session's analysis state: calibration, baseline, smoothing, frame → feedback.

``SessionAnalysis.process`` is CPU work (JPEG decode, FaceMesh, numpy); the runner
calls it in the worker's analysis thread, never on the event loop. Frames of one
session are processed in order, one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.alignment import align
from analyzer.baseline import Baseline, Calibration
from analyzer.frames import BadFrame, decode_frame
from analyzer.landmarks import N_POINTS, Landmarker
from analyzer.metrics import REGIONS, inter_pupil_distance, measure, symmetry
from analyzer.pose import head_pose
from shared.messages import Checkpoint, Feedback, FeedbackStatus, Frame, Pose, RegionMeasure, Sides, now_ms

CUE_CALIBRATE = "Relax your face and look at the camera"
CUE_NO_FACE = "We cannot see your face: move into the middle of the picture"
CUE_FACE_CAMERA = "Face the camera"
CUE_CLOSER = "Move a little closer to the camera"
CUE_LIGHT = "Move into the light"


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    calibration_frames: int = 20  # ~1.3 s at 15 fps
    max_yaw_deg: float = 20.0
    max_pitch_deg: float = 20.0
    max_roll_deg: float = 25.0
    min_face_fraction: float = 0.12  # inter-pupil distance / image width
    min_brightness: float = 40.0  # mean luma 0..255
    noise_floor_mm: float = 1.5  # FaceMesh brow points jitter ~1 mm under head motion
    ema_alpha: float = 0.5
    max_frame_bytes: int = 1_000_000


class SessionAnalysis:
    def __init__(
        self,
        sid: str,
        worker: str,
        landmarker: Landmarker,
        config: AnalysisConfig | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.sid = sid
        self.worker = worker
        self.landmarker = landmarker
        self.config = config or AnalysisConfig()
        self.calibration = Calibration(self.config.calibration_frames)
        self.baseline: Baseline | None = None
        self.last_seq = -1
        self._ema: dict[str, dict[str, float]] = {}
        if checkpoint is not None:
            self.baseline = Baseline.from_bytes(
                checkpoint.baseline, checkpoint.baseline_points, checkpoint.iris_mm_per_unit
            )
            self.last_seq = checkpoint.seq

    def checkpoint(self) -> Checkpoint | None:
        if self.baseline is None:
            return None
        return Checkpoint(
            sid=self.sid,
            seq=self.last_seq,
            baseline=self.baseline.to_bytes(),
            baseline_points=N_POINTS,
            iris_mm_per_unit=self.baseline.mm_per_unit,
            worker=self.worker,
        )

    def close(self) -> None:
        self.landmarker.close()

    def process(self, frame: Frame, dropped: int = 0) -> Feedback:
        self.last_seq = frame.seq

        def result(
            status: FeedbackStatus,
            face: bool,
            *,
            pose: Pose | None = None,
            cues: list[str] | None = None,
            eye: Sides | None = None,
            regions: dict[str, RegionMeasure] | None = None,
        ) -> Feedback:
            return Feedback(
                sid=self.sid,
                seq=frame.seq,
                captured_ms=frame.captured_ms,
                analysed_ms=now_ms(),
                worker=self.worker,
                status=status,
                face=face,
                calibration=1.0 if self.baseline else self.calibration.progress,
                pose=pose,
                eye_aperture=eye,
                regions=regions or {},
                cues=cues or [],
                dropped=dropped,
            )

        try:
            image = decode_frame(frame, self.config.max_frame_bytes)
        except BadFrame:
            return result("bad_frame", False)
        if float(image[::4, ::4].mean()) < self.config.min_brightness:  # a subsample is plenty
            return result("no_face", False, cues=[CUE_LIGHT])
        landmarks = self.landmarker.detect(image)
        if landmarks is None:
            return result("no_face", False, cues=[CUE_NO_FACE])

        points = landmarks.points
        pose = head_pose(points)
        cues = self._gate(pose, inter_pupil_distance(points) / landmarks.width)
        if cues:
            return result("bad_pose", True, pose=pose, cues=cues)
        if self.baseline is None:
            self.baseline = self.calibration.add(points)
            return result("calibrating", True, pose=pose, cues=[CUE_CALIBRATE])

        aligned = align(points, self.baseline.points)
        measures = measure(
            aligned, self.baseline.points, self.baseline.mm_per_unit, self.baseline.eye_apertures
        )
        regions: dict[str, RegionMeasure] = {}
        for region in REGIONS:
            left = self._smooth(region, "left", measures.excursion[region]["left"])
            right = self._smooth(region, "right", measures.excursion[region]["right"])
            index, weaker = symmetry(left, right, self.config.noise_floor_mm)
            regions[region] = RegionMeasure(
                excursion=Sides(left=round(left, 2), right=round(right, 2)),
                symmetry=None if index is None else round(index, 3),
                weaker=weaker,
            )
        ratio = measures.eye_aperture_ratio
        eye = Sides(left=round(ratio["left"], 3), right=round(ratio["right"], 3))
        return result("tracking", True, pose=pose, eye=eye, regions=regions)

    def _gate(self, pose: Pose, face_fraction: float) -> list[str]:
        c = self.config
        if (
            abs(pose.yaw) > c.max_yaw_deg
            or abs(pose.pitch) > c.max_pitch_deg
            or abs(pose.roll) > c.max_roll_deg
        ):
            return [CUE_FACE_CAMERA]
        if face_fraction < c.min_face_fraction:
            return [CUE_CLOSER]
        return []

    def _smooth(self, region: str, side: str, value: float) -> float:
        """Short exponential moving average, so a still face gives steady numbers."""
        prev = self._ema.setdefault(region, {}).get(side)
        out = value if prev is None else prev + self.config.ema_alpha * (value - prev)
        self._ema[region][side] = out
        return out
