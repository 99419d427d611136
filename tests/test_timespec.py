"""Durations and instants as people type them on the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analyzer.timespec import parse_duration, parse_instant

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "seconds"), [("500ms", 0.5), ("60s", 60), ("5m", 300), ("24h", 86400), ("7d", 604800)])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_instants_relative_and_iso():
    assert parse_instant("24h", NOW) == NOW - timedelta(hours=24)
    assert parse_instant("2026-11-22T00:00", NOW) == datetime(2026, 11, 22, tzinfo=UTC)
    assert parse_instant("2026-11-22T02:00+02:00", NOW) == datetime(2026, 11, 22, tzinfo=UTC)


@pytest.mark.parametrize("text", ["yesterday", "5 parsecs", ""])
def test_bad_text_says_what_is_accepted(text):
    with pytest.raises(ValueError, match="24h"):
        parse_instant(text, NOW)
