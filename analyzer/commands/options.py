"""What every command shares: one vocabulary of options, the consoles they print on, and the one error printer.

The vocabulary (the same flag means the same thing in every command that has it):

- `--format/-f`: the *output* format (scan: text|json|markdown|html; tail: text|jsonl; events:
  table|jsonl|csv|count; config: text|json). `--log-format` forces the *input* log format.
- `-o/--output FILE`: write what would go to stdout to FILE instead.
- `--service NAME` (repeatable), `--since`/`--until`: filters (events: records; scan and tail: incidents by
  service, records by time); `--min-severity` (scan, tail) and `--level` (events) set a floor.

Streams: stdout carries the report (or the events) and nothing else; every warning, error and progress line
goes to stderr (`warn`, `fail`). A closed stdout (`logscan events big.log | head`) ends the command quietly with
exit 0 (`Command.invoke`).
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import IO, Annotated, Any

import typer
import typer.core
from typer import _click as click  # typer vendors click
from rich.console import Console
from rich.markup import escape

from analyzer.events import SEVERITIES
from analyzer.ingest.formats import FORCEABLE

#: `--log-format`: the formats that can be forced, from the formats package itself.
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


def _reflow(text: str | None) -> str | None:
    """A docstring's paragraphs each on one line (the help wraps them to the terminal, never mid-sentence);
    lines indented by two spaces or more (examples) are kept as they are."""
    if not text:
        return text
    paragraphs = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        if any(line.startswith("  ") for line in lines[1:]) or lines[0].startswith("  "):
            paragraphs.append("\n".join(lines))
        else:
            paragraphs.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs)


def _clean_param(param: click.core.Parameter) -> None:
    """No type placeholder (`<bool>`, `<str>`) in the help: flags show none, other options a plain name,
    arguments only their name."""
    if param.param_type_name == "argument":
        param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]  # the name says it
    if param.metavar is not None:
        return
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        param.metavar = ""
    elif getattr(getattr(param, "type_descriptor", None), "is_choice", False) and param.type_descriptor.choices:
        choices = [str(c.value if isinstance(c, Enum) else c) for c in param.type_descriptor.choices]
        param.metavar = "|".join(choices)
        if len(param.metavar) > 20:  # a long list: a name in the column, the choices in the help
            param.metavar = (param.name or "value").upper().replace("_", "-")
            if "one of" not in (param.help or "") and ", ".join(choices) not in (param.help or ""):
                param.help = f"{param.help or ''} One of: {', '.join(choices)}.".strip()
    elif param.param_type_name == "argument":
        param.metavar = (param.name or "value").upper()
    else:
        param.metavar = (param.name or "value").upper()


def _help_into_a_closed_pipe(format_help: Any, self: Any, ctx: Any, formatter: Any) -> Any:
    """typer draws help with its own rich Console, which answers a closed stdout with exit 1: make it 0."""
    try:
        return format_help(self, ctx, formatter)
    except SystemExit as exc:
        if exc.code == 1:  # nothing else exits while help is drawn
            raise SystemExit(0) from None
        raise


class _CleanHelp:
    """Mixed into typer's command and group: help paragraphs reflowed, no type placeholders on flags."""

    help: str | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _reflow(self.help)

    def get_params(self, ctx: click.core.Context) -> list[click.core.Parameter]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            _clean_param(param)
        return params


class Command(_CleanHelp, typer.core.TyperCommand):
    """A typer command with clean help and quiet pipes.

    Help: no type placeholders, paragraphs never cut mid-line, the epilog (examples, exit codes) kept line by
    line. A closed stdout (`| head`): no traceback and no noise on stderr, exit 0 (as `git log | head` users
    expect; `set -o pipefail` scripts see success, because the reader got what it asked for).
    """

    def format_help(self, ctx: click.core.Context, formatter: Any) -> Any:
        return _help_into_a_closed_pipe(typer.core.TyperCommand.format_help, self, ctx, formatter)

    def invoke(self, ctx: click.core.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            quiet_closed_stdout()
            raise typer.Exit(0) from None


class Group(_CleanHelp, typer.core.TyperGroup):
    """A typer group whose own options (--version, --help, completion) get the same clean help, and whose
    closed stdout while the parser itself writes (`logscan scan --help | head -1`) is exit 0 too."""

    def format_help(self, ctx: click.core.Context, formatter: Any) -> Any:
        return _help_into_a_closed_pipe(typer.core.TyperGroup.format_help, self, ctx, formatter)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)
        except SystemExit as exc:
            # typer/click answer EPIPE with exit 1 after wrapping stdout in PacifyFlushWrapper: the only sign
            if exc.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
                raise SystemExit(0) from None
            raise


def quiet_closed_stdout() -> None:
    """After EPIPE on stdout: point it at /dev/null so that the interpreter's final flush cannot fail loudly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (CliRunner): nothing will be flushed to it
        pass


def examples(*lines: str) -> str:
    """An epilog block: `Examples:` and one command per line (kept as written in --help)."""
    return "Examples:\n\n" + "\n".join(f"  {line}" for line in lines)
