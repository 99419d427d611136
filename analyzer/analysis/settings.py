"""What a run may change in the analysis: the time filter and the window rules' thresholds.

Plain data, built from the config and the flags (analyzer.run) before a byte is read, so it imports no stage
and no Polars (issue 12, fast start); analyzer.analysis.engine and analyzer.analysis.incidents read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class WindowOverride:
    """A threshold set from the command line or config, replacing a window rule's own."""

    window_seconds: float | None = None
    min_count: int | None = None


@dataclass
class Settings:
    """What a run may change: time filter, window thresholds."""

    since: datetime | None = None
    until: datetime | None = None
    overrides: dict[str, WindowOverride] = field(default_factory=dict)
    min_severity: str = "info"  # incidents below it take no rank number
