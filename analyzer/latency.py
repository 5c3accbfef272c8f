"""Sampled → analysed latency of one worker's frames, as a Prometheus histogram.

Its own module: the runner records into it, the worker keeps retired runners' counts,
and ``analyzer.health`` renders it; none of them imports another for it (it lived in
``health``, which made health, worker and runner a cycle).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# Upper bounds (ms) of the latency histogram's buckets, Prometheus style (cumulative).
LATENCY_BUCKETS_MS: tuple[float, ...] = (5, 10, 20, 50, 100, 200, 500, 1000)


@dataclass
class LatencyHistogram:
    """Sampled → analysed latency; cheap enough to record on every frame."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    total_ms: float = 0.0

    def record(self, ms: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS_MS, ms)] += 1
        self.total_ms += ms

    def merge(self, other: LatencyHistogram) -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.total_ms += other.total_ms

    def buckets(self) -> list[tuple[str, float]]:
        """(upper bound in seconds, cumulative count), ``+Inf`` last, as Prometheus wants."""
        out, running = [], 0
        for bound, count in zip(LATENCY_BUCKETS_MS, self.counts, strict=False):
            running += count
            out.append((f"{bound / 1000:g}", float(running)))
        out.append(("+Inf", float(running + self.counts[-1])))
        return out
