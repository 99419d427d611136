"""What every command shares: one vocabulary of options, the consoles they print on, and the one error printer.

The vocabulary (the same flag means the same thing in every command that has it):

- `--format/-f`: the *output* format (scan: text|json|markdown|html; tail: text|jsonl; events:
  table|jsonl|csv|count; config: text|json). `--log-format` forces the *input* log format.
- `-o/--output FILE`: write what would go to stdout to FILE instead.
- `--service NAME` (repeatable), `--since`/`--until`: filters (events: records; scan and tail: incidents by
  service, records by time); `--min-severity` (scan, tail) and `--level` (events) set a floor.

Streams: stdout carries the report (or the events) and nothing else; every warning, error and progress line
goes to stderr (`warn`, `fail`). A closed stdout (`logscan events big.log | head`) ends the command quietly with
exit 0 (`Command.invoke`, analyzer.commands.group, whose classes and `examples` the commands import from here).
"""

from __future__ import annotations

import os
from enum import Enum
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from analyzer.commands.group import Command, Group, examples, quiet_closed_stdout  # noqa: F401 - re-exported
from analyzer.vocabulary import FORCEABLE, SEVERITIES

#: `--log-format`: the formats that can be forced, in detection order (named without importing them).
LogFormat = Enum("LogFormat", {name: name for name in FORCEABLE}, type=str)  # type: ignore[misc]

#: `--min-severity`, `--fail-on`: the severities, lowest first.
Severity = Enum("Severity", {name: name for name in SEVERITIES}, type=str)  # type: ignore[misc]

#: `--config`: the config file instead of the one found from the current folder (see analyzer.config).
ConfigOption = Annotated[
    str | None,
    typer.Option("--config", metavar="FILE", help="Config file (logscan.toml, or the tool.logscan table of a "
                 "pyproject.toml); default: the nearest one from the current folder up."),
]
#: Window thresholds (scan and tail); None = the config file's, else the signatures' own.
StormCountOption = Annotated[
    int | None, typer.Option(min=1, metavar="N", help="Requests that make a 422/5xx/429 storm (default 20).")
]
StormWindowOption = Annotated[
    str | None, typer.Option(metavar="DURATION", help="Sliding window of a storm (default 60s).")
]
SlowCountOption = Annotated[
    int | None, typer.Option(min=1, metavar="N", help="Slow requests per route in 60 s that make an incident (default 1).")
]
LogFormatOption = Annotated[
    LogFormat | None,
    typer.Option("--log-format", metavar="NAME",
                 help=f"Force the input log format instead of detecting it: {', '.join(FORCEABLE)}."),
]
#: What `scan` and `events` read (tail follows files only: its own argument says so).
InputPathsArgument = Annotated[
    list[str],
    typer.Argument(metavar="PATH", help="Files, globs, folders, .gz files, fsspec URLs (file://, http://...), or - for stdin."),
]
OutputFileOption = Annotated[
    str | None, typer.Option("--output", "-o", metavar="FILE", help="Write to this file instead of stdout.")
]
ServiceOption = Annotated[
    list[str] | None,
    typer.Option("--service", metavar="NAME", help="Only this service (repeatable; the name the summary shows)."),
]
SinceOption = Annotated[
    str | None,
    typer.Option(metavar="WHEN", help="Only records at or after: 24h (ago) or 2026-11-22T00:00 (UTC)."),
]
UntilOption = Annotated[str | None, typer.Option(metavar="WHEN", help="Only records before: 1h (ago) or an ISO 8601 time.")]
SignaturesOption = Annotated[
    list[str] | None,
    typer.Option("--signatures", "-s", metavar="DIR",
                 help="Extra signature folder (repeatable); a signature with the same id overrides the built-in one."),
]
#: `--no-redact` (scan, tail, events): show secrets as logged, for local debugging (analyzer.report.redact).
NoRedactOption = Annotated[
    bool, typer.Option("--no-redact", help="Show passwords, tokens and keys as logged (they are masked by default); "
                       "for local debugging. Control sequences are removed either way."),
]


def no_color() -> bool:
    """Whether NO_COLOR (https://no-color.org) is set to a non-empty value."""
    return os.environ.get("NO_COLOR", "") != ""


class _Console(Console):
    """Rich answers a closed pipe with exit 1 (Console.on_broken_pipe); logscan's commands answer it with a
    quiet exit 0 (Command.invoke), so the error is passed on to them."""

    def on_broken_pipe(self) -> None:
        if self.quiet:
            return
        raise BrokenPipeError


def console(*, stderr: bool = False, file: IO[str] | None = None, **kwargs: Any) -> Console:
    """A rich Console that honours NO_COLOR fully: no colour and no other style escapes (bold, dim)
    either, even when FORCE_COLOR or TTY_COMPATIBLE make rich treat the output as a terminal.
    (Rich's own NO_COLOR handling drops colours but keeps bold and dim.) A closed pipe raises BrokenPipeError."""
    kwargs.setdefault("highlight", False)
    if no_color():
        kwargs["color_system"] = None
    return _Console(stderr=stderr, file=file, **kwargs)


def warn(message: str) -> None:
    """One warning line on stderr (never wrapped, so it can be grepped)."""
    console(stderr=True).print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


def error(message: str) -> None:
    """One error line on stderr."""
    console(stderr=True).print(f"[red]error:[/] {escape(message)}", soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` as an error on stderr and return the exit to raise (2: an unusable argument or config)."""
    error(message)
    return typer.Exit(code)
