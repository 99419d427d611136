"""logscan's command line (typer): `events` today; `scan`, `tail` and `signatures` build on it.

Exit codes: 0 = done (warnings about damaged input are printed, not fatal);
2 = an argument could not be used (no such file, unreadable file named
explicitly, unknown format).
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from analyzer.diagnostics import Diagnostics
from analyzer.events import FORMAT_NAMES
from analyzer.pipeline import Pipeline
from analyzer.sources import resolve
from analyzer.summary import print_summary

app = typer.Typer(
    name="logscan",
    help="Log-driven incident analyzer for FastAPI/uvicorn + SQLAlchemy + PostgreSQL + Docker Compose backends.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

LogFormat = Enum("LogFormat", {name: name for name in FORMAT_NAMES if name != "compose"}, type=str)  # type: ignore[misc]


class EventsOutput(str, Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"
    count = "count"


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"logscan {version('logscan')}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """Log-driven incident analyzer for FastAPI/uvicorn + SQLAlchemy + PostgreSQL + Docker Compose backends."""


_TABLE_COLUMNS = ("line_no", "ts", "service", "format", "level", "request_id", "http_status", "exc_type", "message")


def _print_table(console: Console, events: pl.DataFrame) -> None:
    table = Table(*_TABLE_COLUMNS, show_lines=False, header_style="bold")
    for row in events.select(_TABLE_COLUMNS).iter_rows():
        table.add_row(*("" if v is None else str(v)[:160] for v in row))
    console.print(table)


@app.command()
def events(
    paths: Annotated[list[str], typer.Argument(help="Files, globs, folders, .gz files, or - for stdin.")],
    output: Annotated[EventsOutput, typer.Option("--output", "-O", help="How to print the events.")] = EventsOutput.table,
    log_format: Annotated[
        LogFormat | None, typer.Option("--format", "--log-format", "-f", help="Force one log format instead of detecting.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Print at most this many events (the summary still counts all).")] = None,
) -> None:
    """Print every record as a normalized event, then a summary of what was read."""
    diag = Diagnostics()
    inputs = resolve(paths, diag)
    pipeline = Pipeline(diag, fmt=log_format.value if log_format else None)
    out = Console(highlight=False, soft_wrap=False)
    err = Console(stderr=True, highlight=False)
    printed = 0
    for batch in pipeline.run(inputs):
        if output is EventsOutput.count:
            continue
        if limit is not None:
            batch = batch.head(max(0, limit - printed))
        if batch.height == 0:
            continue
        if output is EventsOutput.table:
            _print_table(out, batch)
        elif output is EventsOutput.jsonl:
            sys.stdout.buffer.write(batch.write_ndjson().encode())
        else:
            sys.stdout.buffer.write(batch.write_csv(include_header=printed == 0).encode())
        printed += batch.height
    sys.stdout.flush()
    print_summary(out if output in (EventsOutput.count, EventsOutput.table) else err, diag, pipeline.tally)
    if diag.errors:
        raise typer.Exit(2)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
