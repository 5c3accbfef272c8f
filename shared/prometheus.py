"""Prometheus exposition through ``prometheus-client``, for the gateway's and the analyzer
workers' ``/metrics``. Each process keeps its own plain counters (a room, a runner); a
scrape turns a snapshot of them into metric families, written by the library."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

__all__ = ["CONTENT_TYPE_LATEST", "Histogram", "MetricSpec", "exposition"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    kind: str  # "counter" (its name ends in _total) | "gauge"
    help: str


@dataclass(frozen=True, slots=True)
class Histogram:
    name: str
    help: str
    buckets: Sequence[tuple[str, float]]  # (upper bound, cumulative count), "+Inf" last
    sum_value: float


class _Snapshot:
    """A collector over values taken at scrape time."""

    def __init__(
        self, specs: Mapping[str, MetricSpec], values: Mapping[str, float], histograms: Iterable[Histogram]
    ) -> None:
        self._specs, self._values, self._histograms = specs, values, list(histograms)

    def collect(self) -> Iterator[Metric]:
        for name, spec in self._specs.items():
            value = float(self._values.get(name, 0))
            if spec.kind == "counter":
                yield CounterMetricFamily(name.removesuffix("_total"), spec.help, value=value)
            else:
                yield GaugeMetricFamily(name, spec.help, value=value)
        for h in self._histograms:
            yield HistogramMetricFamily(h.name, h.help, buckets=list(h.buckets), sum_value=h.sum_value)


def exposition(
    specs: Mapping[str, MetricSpec], values: Mapping[str, float], histograms: Iterable[Histogram] = ()
) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(specs, values, histograms))
    return generate_latest(registry)
