"""typer's command and group classes as every logscan command uses them: clean help, and quiet pipes.

Help: paragraphs reflowed (never cut mid-line), no type placeholders on flags, epilogs (examples, exit codes)
kept line by line. A closed stdout (`logscan events big.log | head`) ends the command quietly with exit 0.

Only typer (and the click it vendors) is imported here, not pydantic, rich or the analysis: the `logscan` group is
built from these classes on every start (analyzer.cli), `--version` included.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Any

import typer
import typer.core
from typer import _click as click  # typer vendors click

from analyzer.commands.coercion import install as plain_coercion


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
    """Mixed into typer's command and group: help paragraphs reflowed, no type placeholders on flags, plainly
    valid option values converted without pydantic (analyzer.commands.coercion)."""

    help: str | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _reflow(self.help)

    def get_params(self, ctx: click.core.Context) -> list[click.core.Parameter]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            _clean_param(param)
        plain_coercion(params)
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
