"""The gateway's counters, exposed for Prometheus (``shared.prometheus``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from gateway.room import Room
from shared.prometheus import MetricSpec, exposition

# name -> (type, help)
METRICS: dict[str, MetricSpec] = {
    "telerehab_rooms": MetricSpec("gauge", "Rooms open on this gateway"),
    "telerehab_participants": MetricSpec("gauge", "Connected participants on this gateway"),
    "telerehab_frames_sampled_total": MetricSpec("counter", "Patient frames written to the frame streams"),
    "telerehab_frames_skipped_total": MetricSpec(
        "counter", "Patient frames not sampled (above the analysis rate)"
    ),
    "telerehab_frames_lost_total": MetricSpec("counter", "Sampled frames not written because Redis was away"),
    "telerehab_feedback_delivered_total": MetricSpec("counter", "Feedback messages sent to participants"),
    "telerehab_feedback_stale_total": MetricSpec("counter", "Feedback messages dropped as too old"),
    "telerehab_feedback_bad_total": MetricSpec("counter", "Unreadable feedback messages skipped"),
}


def room_counts(room: Room) -> Counter[str]:
    counts: Counter[str] = Counter()
    counts["telerehab_frames_sampled_total"] += room.sampler_stats.sampled
    counts["telerehab_frames_skipped_total"] += room.sampler_stats.skipped
    counts["telerehab_frames_lost_total"] += room.sampler_stats.lost
    counts["telerehab_feedback_delivered_total"] += room.fanout.delivered
    counts["telerehab_feedback_stale_total"] += room.fanout.stale
    counts["telerehab_feedback_bad_total"] += room.fanout.bad
    return counts


@dataclass
class GatewayMetrics:
    """Counters of closed rooms, so totals keep counting after a room goes away."""

    retired: Counter[str] = field(default_factory=Counter)

    def retire(self, room: Room) -> None:
        self.retired.update(room_counts(room))

    def render(self, rooms: list[Room]) -> bytes:
        values: Counter[str] = Counter(self.retired)
        for room in rooms:
            values.update(room_counts(room))
        values["telerehab_rooms"] = len(rooms)
        values["telerehab_participants"] = sum(len(room.participants) for room in rooms)
        return exposition(METRICS, values)
