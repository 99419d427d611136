"""What the summary counts of the records read: records per format, service and stream, the time range, and
the records within `--since`/`--until`.

The pipeline adds every batch of records to it (analyzer.ingest.pipeline), screened or not; the Dask engine
merges the shards' (analyzer.scale). Plain counters, so a run that reads nothing reports its zeros without
building any stage (issue 12, fast start).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


@dataclass
class Tally:
    """Event counts for summaries, merged batch by batch."""

    records: int = 0
    by_format: Counter[str] = field(default_factory=Counter)
    by_service: Counter[str] = field(default_factory=Counter)
    by_stream: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (source, service, format)
    ts_min: object = None
    ts_max: object = None
    #: `scan --since/--until` (since, until; either may be None): `in_period` counts the records within it, as
    #: the time filter's "hid all N records" message needs, over every record, screened or not
    period: tuple[datetime | None, datetime | None] | None = None
    in_period: int = 0

    def add(self, events: pl.DataFrame) -> None:
        if events.height == 0:
            return
        self.records += events.height
        if self.period is not None:
            from analyzer.events import within_period  # Polars: there are records

            inside = within_period(*self.period)
            self.in_period += events.height if inside is None else int(events.select(inside.sum()).item())
        counts = events.group_by("source", "service", "format").len()
        for source, service, fmt, n in counts.iter_rows():
            self.by_format[fmt] += n
            self.by_service[service] += n
            self.by_stream[(source, service, fmt)] += n
        lo, hi = events.get_column("ts").min(), events.get_column("ts").max()
        if lo is not None:
            self.ts_min = lo if self.ts_min is None or lo < self.ts_min else self.ts_min  # type: ignore[operator]
            self.ts_max = hi if self.ts_max is None or hi > self.ts_max else self.ts_max  # type: ignore[operator]

    def merge(self, other: Tally) -> None:
        """Add another tally's counts after this one's (analyzer.scale: a shard's); key order is first seen."""
        self.records += other.records
        self.in_period += other.in_period
        self.by_format.update(other.by_format)
        self.by_service.update(other.by_service)
        self.by_stream.update(other.by_stream)
        lo, hi = other.ts_min, other.ts_max
        if lo is not None:
            self.ts_min = lo if self.ts_min is None or lo < self.ts_min else self.ts_min  # type: ignore[operator]
            self.ts_max = hi if self.ts_max is None or hi > self.ts_max else self.ts_max  # type: ignore[operator]
