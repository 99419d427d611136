"""Choices that several commands offer (`scan`, `tail`, `events`), declared once for typer."""

from __future__ import annotations

from enum import Enum

from analyzer.events import FORMAT_NAMES
from analyzer.ranking import SEVERITIES

#: `--log-format`: every format name except `compose` (compose status lines are found, never forced).
LogFormat = Enum("LogFormat", {name: name for name in FORMAT_NAMES if name != "compose"}, type=str)  # type: ignore[misc]

#: `--min-severity`, `--fail-on`: the severities, lowest first.
Severity = Enum("Severity", {name: name for name in SEVERITIES}, type=str)  # type: ignore[misc]
