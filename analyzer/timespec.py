"""Time text people type: durations (`90s`, `5m`, `24h`, `7d`) and instants (`24h` ago, ISO 8601)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """`500ms`, `60s`, `5m`, `24h`, `7d`, `1w` -> timedelta; ValueError with the accepted forms otherwise."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration (use e.g. 500ms, 60s, 5m, 24h, 7d)")
    try:
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration (at most 999999999 days)") from None


def parse_instant(text: str, now: datetime | None = None) -> datetime:
    """A duration means that long before `now`; else ISO 8601 (no zone = UTC). Always returns UTC."""
    now = now or datetime.now(UTC)
    try:
        if _DURATION.match(text):
            return now - parse_duration(text)
        value = datetime.fromisoformat(text.strip())
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # further back than year 1, or past 9999 once in UTC
        raise ValueError(f"{text!r} is out of range (years 1 to 9999)") from None
    except ValueError as exc:
        if "duration" in str(exc):
            raise
        raise ValueError(f"{text!r} is neither a duration (24h) nor an ISO 8601 time (2026-11-22T00:00)") from None
