"""Per-route latency: p50/p95/max of request durations per (service, path), in bounded memory.

A slow-request incident means more next to the route's usual latency. Each
batch adds the durations it logged; a route keeps at most `max_samples` of
them (every other sample is dropped when full, so old and new stay
represented), and its maximum exactly.
"""

from __future__ import annotations

import polars as pl

MAX_SAMPLES = 4096

ROUTE_STATS_SCHEMA: dict[str, pl.DataType] = {
    "service": pl.String(),
    "http_path": pl.String(),
    "route_requests": pl.Int64(),
    "route_p50_ms": pl.Float64(),
    "route_p95_ms": pl.Float64(),
    "route_max_ms": pl.Float64(),
}


class RouteDurations:
    """Duration samples per route, fed batch by batch."""

    def __init__(self, max_samples: int = MAX_SAMPLES) -> None:
        self.max_samples = max_samples
        self.samples: dict[tuple[str, str], list[float]] = {}
        self.counts: dict[tuple[str, str], int] = {}
        self.maxima: dict[tuple[str, str], float] = {}

    def add(self, events: pl.DataFrame) -> None:
        timed = events.filter(pl.col("duration_ms").is_not_null() & pl.col("http_path").is_not_null())
        if timed.height == 0:
            return
        grouped = timed.group_by("service", "http_path").agg(pl.col("duration_ms"))
        for service, path, values in grouped.iter_rows():
            key = (service, path)
            kept = self.samples.setdefault(key, [])
            kept.extend(values)
            while len(kept) > self.max_samples:
                kept[:] = kept[::2]
            self.counts[key] = self.counts.get(key, 0) + len(values)
            self.maxima[key] = max(self.maxima.get(key, float("-inf")), max(values))

    def merge(self, other: RouteDurations) -> None:
        """Add another's samples after this one's (analyzer.scale: a shard's), thinned as `add` thins them.
        The same as having added both inputs in order while no route passes `max_samples` in either."""
        for key, values in other.samples.items():
            kept = self.samples.setdefault(key, [])
            kept.extend(values)
            while len(kept) > self.max_samples:
                kept[:] = kept[::2]
            self.counts[key] = self.counts.get(key, 0) + other.counts[key]
            self.maxima[key] = max(self.maxima.get(key, float("-inf")), other.maxima[key])

    def stats(self) -> pl.DataFrame:
        """One row per route: requests seen, p50, p95 (from the samples), max (exact)."""
        rows = [
            {"service": s, "http_path": p, "route_requests": self.counts[(s, p)],
             "route_p50_ms": pl.Series(v).quantile(0.5), "route_p95_ms": pl.Series(v).quantile(0.95),
             "route_max_ms": self.maxima[(s, p)]}
            for (s, p), v in self.samples.items()
        ]
        return pl.DataFrame(rows, schema=ROUTE_STATS_SCHEMA)
