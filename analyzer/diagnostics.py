"""What the pipeline read, replaced, skipped and why: the counters behind every summary.

Every stage reports here instead of printing, so that `events`, `scan` and
`tail` can all say exactly how many lines they read and what they could not use,
per input. Nothing is ever dropped silently: a stage that skips or alters input
records a reason and a count.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields


@dataclass
class SourceStats:
    """Counters for one input (a file, a member of a folder, or stdin)."""

    lines: int = 0
    bytes: int = 0
    replaced_lines: int = 0  # lines with invalid UTF-8, replaced by U+FFFD
    binary_lines: int = 0  # lines with NUL or other control bytes, cleaned
    truncated_lines: int = 0  # lines longer than the line limit, cut
    bad_envelope_lines: int = 0  # Docker json-file lines that were not valid JSON
    blank_lines: int = 0  # blank lines that belonged to no record (counted, not turned into events)
    # incremental runs (scan --state): bytes at the start not read again because an earlier run read them
    # (the input was resumed at this byte offset), and bytes of an unfinished last line left for the next run
    resumed_bytes: int = 0
    held_bytes: int = 0


@dataclass
class Diagnostics:
    """Counters per source plus warnings (kept) and errors (input unusable)."""

    sources: dict[str, SourceStats] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unparsed: Counter[str] = field(default_factory=Counter)  # reason -> records

    def source(self, name: str) -> SourceStats:
        """The counters of `name`, created on first use."""
        stats = self.sources.get(name)
        if stats is None:
            stats = self.sources[name] = SourceStats()
        return stats

    def merge(self, other: Diagnostics) -> None:
        """Add what another reader counted (analyzer.scale: a shard's counters), after this one's: per-source
        counters summed (a source read in byte ranges adds up), warnings and errors appended in order."""
        for name, theirs in other.sources.items():
            mine = self.source(name)
            for f in fields(SourceStats):
                setattr(mine, f.name, getattr(mine, f.name) + getattr(theirs, f.name))
        self.warnings.extend(other.warnings)
        self.errors.extend(other.errors)
        self.unparsed.update(other.unparsed)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def error(self, message: str) -> None:
        self.errors.append(message)

    @property
    def lines_read(self) -> int:
        return sum(s.lines for s in self.sources.values())

    @property
    def blank_lines(self) -> int:
        return sum(s.blank_lines for s in self.sources.values())

    @property
    def bytes_read(self) -> int:
        return sum(s.bytes for s in self.sources.values())

    @property
    def resumed_bytes(self) -> int:
        """Bytes not read again because an earlier run (scan --state) had read them."""
        return sum(s.resumed_bytes for s in self.sources.values())

    @property
    def held_bytes(self) -> int:
        """Bytes of unfinished last lines left for the next run (scan --state)."""
        return sum(s.held_bytes for s in self.sources.values())

    def line_problems(self) -> dict[str, int]:
        """Totals of altered lines by reason, for summaries."""
        totals = {
            "invalid UTF-8 replaced": sum(s.replaced_lines for s in self.sources.values()),
            "binary/control bytes removed": sum(s.binary_lines for s in self.sources.values()),
            "over the line limit, truncated": sum(s.truncated_lines for s in self.sources.values()),
            "invalid Docker JSON, read as text": sum(s.bad_envelope_lines for s in self.sources.values()),
        }
        return {reason: count for reason, count in totals.items() if count}

    def source_warnings(self) -> list[str]:
        """One warning per source that had altered lines, naming file and counts."""
        out = []
        for name, s in self.sources.items():
            parts = []
            if s.replaced_lines:
                parts.append(f"{s.replaced_lines} line(s) with invalid UTF-8 (replaced with U+FFFD)")
            if s.binary_lines:
                parts.append(f"{s.binary_lines} line(s) with binary/control bytes (removed)")
            if s.truncated_lines:
                parts.append(f"{s.truncated_lines} line(s) over the line limit (truncated)")
            if s.bad_envelope_lines:
                parts.append(f"{s.bad_envelope_lines} Docker json-file line(s) not valid JSON (read as text)")
            if parts:
                out.append(f"{name}: " + "; ".join(parts))
        return out
