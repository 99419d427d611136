"""What several commands (`scan`, `tail`, `events`, `config`) share: choices and options declared once for
typer, and the consoles they print on."""

from __future__ import annotations

import os
from enum import Enum
from typing import IO, Annotated, Any

import typer
from rich.console import Console

from analyzer.events import FORMAT_NAMES
from analyzer.analysis.ranking import SEVERITIES

#: `--log-format`: every format name except `compose` (compose status lines are found, never forced).
LogFormat = Enum("LogFormat", {name: name for name in FORMAT_NAMES if name != "compose"}, type=str)  # type: ignore[misc]

#: `--min-severity`, `--fail-on`: the severities, lowest first.
Severity = Enum("Severity", {name: name for name in SEVERITIES}, type=str)  # type: ignore[misc]

#: `--config`: the config file instead of the one found from the current folder (see analyzer.config).
ConfigOption = Annotated[
    str | None,
    typer.Option("--config", help="Config file (logscan.toml, or the tool.logscan table of a pyproject.toml); default: "
                 "the nearest one from the current folder up."),
]
#: Window thresholds (scan and tail); None = the config file's, else the signatures' own.
StormCountOption = Annotated[
    int | None, typer.Option(min=1, help="Requests that make a 422/5xx/429 storm (default 20).")
]
StormWindowOption = Annotated[str | None, typer.Option(help="Sliding window of a storm (default 60s).")]
SlowCountOption = Annotated[
    int | None, typer.Option(min=1, help="Slow requests per route in 60 s that make an incident (default 1).")
]
#: `--no-redact` (scan, tail, events): show secrets as logged, for local debugging (analyzer.report.redact).
NoRedactOption = Annotated[
    bool, typer.Option("--no-redact", help="Show passwords, tokens and keys as logged (they are masked by default); "
                       "for local debugging. Control sequences are removed either way."),
]


def no_color() -> bool:
    """Whether NO_COLOR (https://no-color.org) is set to a non-empty value."""
    return os.environ.get("NO_COLOR", "") != ""


def console(*, stderr: bool = False, file: IO[str] | None = None, **kwargs: Any) -> Console:
    """A rich Console that honours NO_COLOR fully: no colour and no other style escapes (bold, dim)
    either, even when FORCE_COLOR or TTY_COMPATIBLE make rich treat the output as a terminal.
    (Rich's own NO_COLOR handling drops colours but keeps bold and dim.)"""
    kwargs.setdefault("highlight", False)
    if no_color():
        kwargs["color_system"] = None
    return Console(stderr=stderr, file=file, **kwargs)
