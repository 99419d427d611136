"""The record and incident filters the commands share (`--service`, `--level`, `--since`, `--until`), and the
one line that says so on stderr when a filter hid everything.

A filter that leaves nothing is not an error (exit 0), but a silent empty result reads like "all is well",
so the commands say which flags hid how many records or incidents, and what the input held instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from analyzer.timespec import parse_instant
from analyzer.vocabulary import LEVELS

if TYPE_CHECKING:  # Polars only to filter records: `scan` builds its Filters before reading
    import polars as pl


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "?"


@dataclass
class Filters:
    """Record filters; `apply` keeps what passes and counts what was seen, for `hid_all`."""

    services: tuple[str, ...] = ()
    level: str | None = None  # records at or above this level
    since: datetime | None = None
    until: datetime | None = None
    flags: list[str] = field(default_factory=list)  # the flags as typed, for the message
    seen: int = 0
    kept: int = 0
    ts_min: Any = None
    ts_max: Any = None
    services_seen: Counter[str] = field(default_factory=Counter)
    top_level: int = -1

    @classmethod
    def parse(cls, services: Sequence[str] | None = None, level: str | None = None, since: str | None = None,
              until: str | None = None) -> Filters:
        """ValueError naming the flag for a time that cannot be read."""
        flags = [f"--service {name}" for name in services or ()]
        if level:
            flags.append(f"--level {level}")
        times: dict[str, datetime | None] = {}
        for flag, text in (("since", since), ("until", until)):
            times[flag] = None
            if text:
                try:
                    times[flag] = parse_instant(text)
                except ValueError as exc:
                    raise ValueError(f"--{flag}: {exc}") from None
                flags.append(f"--{flag} {text}")
        return cls(tuple(services or ()), level, times["since"], times["until"], flags)

    @property
    def active(self) -> bool:
        return bool(self.flags)

    def time_expr(self) -> pl.Expr | None:
        from analyzer.events import within_period  # Polars only to filter

        return within_period(self.since, self.until)

    def apply(self, events: pl.DataFrame, records: bool = True) -> pl.DataFrame:
        """The events that pass every record filter (`records=False`: only the time filter, as scan and tail
        apply --service to incidents, not records)."""
        import polars as pl

        self.seen += events.height
        if not self.active:
            self.kept += events.height
            return events
        lo, hi = events.get_column("ts").min(), events.get_column("ts").max()
        if lo is not None:
            self.ts_min = lo if self.ts_min is None or lo < self.ts_min else self.ts_min
            self.ts_max = hi if self.ts_max is None or hi > self.ts_max else self.ts_max
        keep = self.time_expr()
        if records:
            self.services_seen.update(events.get_column("service").drop_nulls().to_list())
            levels = set(events.get_column("level").drop_nulls().unique().to_list())
            self.top_level = max([self.top_level, *(LEVELS.index(v) for v in levels if v in LEVELS)])
            if self.services:
                by_service = pl.col("service").is_in(list(self.services))
                keep = by_service if keep is None else keep & by_service
            if self.level:
                by_level = pl.col("level").is_in(list(LEVELS[LEVELS.index(self.level):]))
                keep = by_level if keep is None else keep & by_level
        kept = events if keep is None else events.filter(keep)
        self.kept += kept.height
        return kept

    def hid_all(self, what: str = "records") -> str | None:
        """`--since 1h hid all 2,427 records (they span ...)`, or None when something passed (or nothing came)."""
        if not self.active or self.kept or not self.seen:
            return None
        hints = []
        if (self.since or self.until) and self.ts_min is not None:
            hints.append(f"they span {_when(self.ts_min)} → {_when(self.ts_max)} UTC")
        elif self.since or self.until:
            hints.append("none has a time")
        if self.services and self.services_seen:
            hints.append("services: " + ", ".join(name for name, _ in self.services_seen.most_common(8)))
        if self.level and self.top_level >= 0:
            hints.append(f"the highest level is {LEVELS[self.top_level]}")
        hint = f" ({'; '.join(hints)})" if hints else ""
        return f"{' '.join(self.flags)} hid all {self.seen:,} {what}{hint}"
