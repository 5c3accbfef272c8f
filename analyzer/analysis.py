"""One session's analysis: frame gating, calibration, then the engine; frame → feedback.

``SessionAnalysis.process`` is CPU work (JPEG decode, FaceMesh, numpy); the runner
calls it in the worker's analysis thread, never on the event loop. Frames of one
session are processed in order, one at a time. ``analyse_image`` is the same path for
an already decoded image (the offline ``telerehab analyze`` command uses it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import msgspec
import numpy as np
import numpy.typing as npt

from analyzer.baseline import Baseline, Calibration
from analyzer.cues import (
    CUE_CALIBRATE,
    CUE_NO_FACE,
    GateLimits,
    brightness_cue,
    framing_cue,
    pose_cue,
    prioritise,
)
from analyzer.engine import EngineConfig, FaceEngine
from analyzer.exercise import ExerciseRecord
from analyzer.frames import BadFrame, decode_frame
from analyzer.landmarks import N_POINTS, Landmarker, Landmarks
from analyzer.metrics import inter_pupil_distance
from analyzer.pixel_motion import to_gray
from analyzer.pose import head_pose
from analyzer.spasm import SpasmDetector, SpasmState
from shared.exercises import CatalogueError
from shared.messages import (
    Checkpoint,
    Command,
    Feedback,
    FeedbackStatus,
    Frame,
    Pose,
    SessionSummary,
    now_ms,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    calibration_frames: int = 20  # ~1.3 s at 15 fps
    # Landmarks are found on every n-th measured frame; in between the last ones place
    # the regions and the pixels measure (see SessionAnalysis._landmarks). 1: every frame.
    landmark_every: int = 3
    gates: GateLimits = field(default_factory=GateLimits)
    engine: EngineConfig = field(default_factory=EngineConfig)
    max_frame_bytes: int = 1_000_000


# Kept landmarks serve while the pixels find them misplacing the face by at most this
# (canvas px, 96 between the outer eye corners: about 1.3 mm); beyond, the head moved
# too far since and the frame finds its own.
REUSE_MISPLACED_PX = 3.5


def brighten(image: npt.NDArray[np.uint8], brightness: float, target: float = 110.0) -> npt.NDArray[np.uint8]:
    """An under-exposed frame with its tones lifted by a gamma curve so the mean comes
    near ``target``: FaceMesh finds faces in a dim room it would otherwise miss, and the
    shadows keep their order (the pixel tracker normalises contrast on its own)."""
    mean = max(brightness, 1.0) / 255.0
    gamma = float(np.clip(np.log(target / 255.0) / np.log(mean), 0.3, 1.0))
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8)
    return np.asarray(cv2.LUT(image, lut), dtype=np.uint8)


def prepare(image: npt.NDArray[np.uint8], gates: GateLimits) -> tuple[npt.NDArray[np.uint8], str | None]:
    """The image FaceMesh sees, and the light cue if the room is dim: a dim frame is
    brightened and still measured; only if no face is found then is it refused."""
    brightness = float(image[::4, ::4].mean())  # a subsample is plenty
    dark = brightness_cue(brightness, gates)
    return (brighten(image, brightness), dark) if dark else (image, None)


def gate(landmarks: Landmarks, gates: GateLimits) -> tuple[Pose, str | None]:
    """The head pose, and the cue if the face is turned away or badly framed (then the
    frame is not measured)."""
    pose = head_pose(landmarks.points)
    bad = pose_cue(pose, gates) or framing_cue(
        inter_pupil_distance(landmarks.points) / landmarks.width, outside_fraction(landmarks), gates
    )
    return pose, bad


def outside_fraction(landmarks: Landmarks) -> float:
    """Share of landmarks outside the image: the face is partly out of frame."""
    p = landmarks.points
    out = (p[:, 0] < 0) | (p[:, 0] >= landmarks.width) | (p[:, 1] < 0) | (p[:, 1] >= landmarks.height)
    return float(out.mean())


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
        self.engine: FaceEngine | None = None
        self.last_seq = -1
        self.frames = 0  # frames measured against the baseline
        self.commands_id = "0-0"  # the last command applied (commands stream id)
        self._pending: list[Command] = []  # commands that arrived before calibration
        self._carry_records: dict[str, ExerciseRecord] = {}  # kept across a recalibration
        self._carry_spasms: SpasmState | None = None  # so are the twitches counted
        self._landmarks_kept: Landmarks | None = None  # the last measured frame's
        self._landmarks_age = 0  # frames they have been reused for
        self._landmarks_reused: Landmarks | None = None  # this frame's, when reused
        if checkpoint is not None:
            self.baseline = Baseline.from_bytes(
                checkpoint.baseline,
                checkpoint.baseline_points,
                checkpoint.iris_mm_per_unit,
                checkpoint.neutral_image,
            )
            self.last_seq = checkpoint.seq
            self.commands_id = checkpoint.commands_id
            self.engine = FaceEngine(self.baseline, self.config.engine)
            if checkpoint.engine:
                try:
                    self.engine.restore(checkpoint.engine)
                except (ValueError, CatalogueError) as exc:
                    log.warning("session %s: exercise progress not restored: %s", sid, exc)
            if checkpoint.summary is not None:
                self.frames = checkpoint.summary.frames

    # -- commands ---------------------------------------------------------------------
    def apply(self, command: Command, command_id: str) -> None:
        """Apply a command from the session's commands stream (in stream order)."""
        self.commands_id = command_id
        if command.command == "recalibrate":
            records = self.engine.records if self.engine else {}
            spasms = self.engine.spasm.state if self.engine else None
            self.calibration = Calibration(self.config.calibration_frames)
            self.baseline = None
            self.engine = None
            self._carry_records = records
            self._carry_spasms = spasms
            return
        if self.engine is None:
            self._pending.append(command)
        else:
            self._apply_to(self.engine, command)

    def _apply_to(self, engine: FaceEngine, command: Command) -> None:
        try:
            engine.apply(command)
        except CatalogueError as exc:
            log.warning("session %s: command %s ignored: %s", self.sid, command.command, exc)

    # -- per frame --------------------------------------------------------------------
    def process(self, frame: Frame, dropped: int = 0) -> Feedback:
        try:
            image = decode_frame(frame, self.config.max_frame_bytes)
        except BadFrame:
            self.last_seq = frame.seq
            return self._feedback(frame.seq, frame.captured_ms, "bad_frame", False, dropped=dropped)
        return self.analyse_image(image, frame.seq, frame.captured_ms, dropped)

    def analyse_image(
        self, image: npt.NDArray[np.uint8], seq: int, captured_ms: int, dropped: int = 0
    ) -> Feedback:
        self.last_seq = seq
        gates = self.config.gates

        image, dark = prepare(image, gates)
        # A dim frame is still measured, and "move into the light" is said first.
        advice = [dark] if dark else []

        def gated(status: FeedbackStatus, face: bool, cue: str, pose: Pose | None = None) -> Feedback:
            cues = prioritise([*advice, cue])
            return self._feedback(seq, captured_ms, status, face, pose=pose, cues=cues, dropped=dropped)

        gray = to_gray(image)
        fresh = False
        while True:  # twice at most: kept landmarks the head has moved away from, then fresh
            landmarks = self._landmarks(image, fresh)
            if landmarks is None:
                return gated("no_face", False, dark or CUE_NO_FACE)
            points = landmarks.points
            pose, bad = gate(landmarks, gates)
            if bad:
                return gated("bad_pose", True, bad, pose)
            if self.baseline is None or self.engine is None:
                self.baseline = self.calibration.add(points, gray)
                if self.baseline is None:
                    return gated("calibrating", True, CUE_CALIBRATE, pose)
                self._start_engine(self.baseline)
                return gated("calibrating", True, CUE_CALIBRATE, pose)
            aligned, misplaced = self.baseline.placed(points, gray)
            reused = landmarks is self._landmarks_reused
            if not reused or (misplaced is not None and misplaced <= REUSE_MISPLACED_PX):
                break
            fresh = True

        assert self.engine is not None
        self.frames += 1
        result = self.engine.step(aligned, captured_ms / 1000.0)
        self._landmarks_kept = landmarks  # measured: the next frames may place by them
        return msgspec.structs.replace(
            self._feedback(
                seq,
                captured_ms,
                "tracking",
                True,
                pose=pose,
                cues=prioritise([*advice, *result.cues]),
                dropped=dropped,
            ),
            eye_aperture=result.eye_aperture,
            regions=result.regions,
            exercise=result.exercise,
            synkinesis=result.synkinesis,
            resting=self.engine.resting,
            assessment=result.assessment,
            spasm=result.spasm,
        )

    def _landmarks(self, image: npt.NDArray[np.uint8], fresh: bool = False) -> Landmarks | None:
        """The landmarker's answer, or, between its runs, the last measured frame's.

        The landmarks only place things (the canvas, the regions, the pose gate); what
        moved is read from the pixels, and the canvas placement is corrected by the
        pixels of the points that never move (``analyzer.pixel_motion``), which absorbs
        a frame's head motion. So after calibration the landmarker runs on every
        ``landmark_every``-th frame (at 3, two thirds of its cost saved). A frame that
        was not measured (no face, turned away, calibrating) makes the next one fresh,
        and so does a head that moved further than the pixels should correct
        (``REUSE_MISPLACED_PX``: ``fresh``, the same frame again).
        """
        kept = self._landmarks_kept
        self._landmarks_kept = None  # back once this frame is measured
        self._landmarks_reused = None
        fits = kept is not None and (kept.height, kept.width) == image.shape[:2]
        if fits and not fresh and self._landmarks_age + 1 < self.config.landmark_every:
            self._landmarks_age += 1
            self._landmarks_reused = kept
            return kept
        self._landmarks_age = 0
        return self.landmarker.detect(image)

    def use_baseline(self, baseline: Baseline) -> None:
        """Calibrated already (``telerehab analyze`` finds the neutral in the clip)."""
        self.baseline = baseline
        self._start_engine(baseline)

    def _start_engine(self, baseline: Baseline) -> None:
        self.engine = FaceEngine(baseline, self.config.engine)
        self.engine.records = self._carry_records
        if self._carry_spasms is not None:
            self._carry_spasms.open.clear()  # a twitch under way ended with the old baseline
            self.engine.spasm = SpasmDetector(self.config.engine.spasm, self._carry_spasms)
        pending, self._pending = self._pending, []
        for command in pending:
            self._apply_to(self.engine, command)

    def _feedback(
        self,
        seq: int,
        captured_ms: int,
        status: FeedbackStatus,
        face: bool,
        *,
        pose: Pose | None = None,
        cues: list[str] | None = None,
        dropped: int = 0,
    ) -> Feedback:
        return Feedback(
            sid=self.sid,
            seq=seq,
            captured_ms=captured_ms,
            analysed_ms=now_ms(),
            worker=self.worker,
            status=status,
            face=face,
            calibration=1.0 if self.baseline else self.calibration.progress,
            pose=pose,
            cues=cues or [],
            dropped=dropped,
        )

    # -- checkpoint -------------------------------------------------------------------
    def summary(self) -> SessionSummary:
        if self.engine is None:
            return SessionSummary(sid=self.sid, frames=self.frames)
        return self.engine.summary(self.sid, self.frames)

    def checkpoint(self) -> Checkpoint | None:
        if self.baseline is None or self.engine is None:
            return None
        return Checkpoint(
            sid=self.sid,
            seq=self.last_seq,
            baseline=self.baseline.to_bytes(),
            baseline_points=N_POINTS,
            iris_mm_per_unit=self.baseline.mm_per_unit,
            worker=self.worker,
            commands_id=self.commands_id,
            engine=self.engine.to_bytes(),
            summary=self.summary(),
            neutral_image=self.baseline.image.to_bytes() if self.baseline.image else b"",
        )

    def close(self) -> None:
        self.landmarker.close()
