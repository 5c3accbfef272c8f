"""Involuntary one-sided twitches at rest (hemifacial spasm), live and offline.

Hemifacial spasm contracts the muscles of one side of the face on their own: the eye
narrows or shuts, the mouth corner pulls, for a fraction of a second to a few seconds,
often in bursts. At rest nothing else should move, so a twitch is an event where one
side moves past a threshold while the other side stays still:

* eye: the fraction of that eye's neutral opening lost (``eye_closure``), at least
  ``eye_fraction``, the other eye losing less than ``other_share`` of that;
* mouth: that corner's excursion (mm), at least ``mouth_mm``, the other corner moving
  less than ``other_share`` of it.

A blink closes both eyes and a voluntary smile on a healthy face moves both corners:
neither counts. A palsy patient's voluntary movement *is* one-sided, so the detector
runs only while the face is meant to be at rest (no exercise, no guided assessment:
``analyzer.engine``), and offline with ``--exercise rest``. An event ends when the side
has been below the threshold for ``end_gap_s``; events shorter than ``min_s`` (one
noisy frame) are dropped, and longer than ``max_s`` are kept but flagged as sustained
(tonic spasm, or the patient doing something on purpose: the therapist decides).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

from analyzer.metrics import SIDES, Side
from shared.messages import SpasmEvent, SpasmLive, SpasmSummary

EVENTS_KEPT = 100  # in the summary: the first ones (the count covers every one)


@dataclass(frozen=True, slots=True)
class SpasmLimits:
    eye_fraction: float = 0.25
    mouth_mm: float = 1.5
    other_share: float = 0.4
    min_s: float = 0.1
    max_s: float = 5.0
    end_gap_s: float = 0.15


class _Open(msgspec.Struct):
    """A twitch under way on one side."""

    side: Side
    start_s: float
    last_s: float  # the last frame above the threshold
    regions: list[Literal["eye", "mouth"]]
    peak_eye: float = 0.0
    peak_mouth_mm: float = 0.0


class SpasmState(msgspec.Struct):
    """The detector's part of the engine's checkpoint: the tallies of every twitch, the
    first ``EVENTS_KEPT`` themselves, and those under way."""

    events: list[SpasmEvent] = msgspec.field(default_factory=list)
    count: int = 0
    left: int = 0
    right: int = 0
    eye: int = 0
    mouth: int = 0
    total_s: float = 0.0
    open: list[_Open] = msgspec.field(default_factory=list)


class SpasmDetector:
    def __init__(self, limits: SpasmLimits | None = None, state: SpasmState | None = None) -> None:
        self.limits = limits or SpasmLimits()
        self.state = state or SpasmState()

    def update(self, t: float, eye: dict[Side, float], mouth_mm: dict[Side, float]) -> SpasmEvent | None:
        """One frame at rest: ``eye`` the fraction of each eye's opening lost, ``mouth_mm``
        each corner's excursion. Returns the twitch that ended on this frame, if any."""
        lim = self.limits
        ended: SpasmEvent | None = None
        for side in SIDES:
            other: Side = "right" if side == "left" else "left"
            regions: list[Literal["eye", "mouth"]] = []
            if eye[side] >= lim.eye_fraction and max(eye[other], 0.0) < lim.other_share * eye[side]:
                regions.append("eye")
            if (
                mouth_mm[side] >= lim.mouth_mm
                and max(mouth_mm[other], 0.0) < lim.other_share * mouth_mm[side]
            ):
                regions.append("mouth")
            current = next((o for o in self.state.open if o.side == side), None)
            if regions:
                if current is None:
                    current = _Open(side=side, start_s=t, last_s=t, regions=[])
                    self.state.open.append(current)
                current.last_s = t
                current.regions = sorted(set(current.regions) | set(regions))
                current.peak_eye = max(current.peak_eye, eye[side])
                current.peak_mouth_mm = max(current.peak_mouth_mm, mouth_mm[side])
            elif current is not None and t - current.last_s >= lim.end_gap_s:
                self.state.open.remove(current)
                ended = self._close(current) or ended
        return ended

    def _close(self, twitch: _Open) -> SpasmEvent | None:
        duration = twitch.last_s - twitch.start_s
        if duration < self.limits.min_s:
            return None
        event = SpasmEvent(
            start_s=round(twitch.start_s, 2),
            duration_s=round(duration, 2),
            side=twitch.side,
            regions=twitch.regions,
            peak_eye=round(twitch.peak_eye, 3),
            peak_mouth_mm=round(twitch.peak_mouth_mm, 2),
            sustained=duration > self.limits.max_s,
        )
        st = self.state
        st.count += 1
        st.left += twitch.side == "left"
        st.right += twitch.side == "right"
        st.eye += "eye" in twitch.regions
        st.mouth += "mouth" in twitch.regions
        st.total_s += duration
        if len(st.events) < EVENTS_KEPT:
            st.events.append(event)
        return event

    def live(self) -> SpasmLive:
        st = self.state
        return SpasmLive(count=st.count, left=st.left, right=st.right, active=sorted(o.side for o in st.open))

    def summary(self) -> SpasmSummary | None:
        """None when nothing was seen (most sessions)."""
        st = self.state
        if not st.count:
            return None
        return SpasmSummary(
            count=st.count,
            left=st.left,
            right=st.right,
            eye=st.eye,
            mouth=st.mouth,
            total_s=round(st.total_s, 2),
            events=list(st.events),
        )
