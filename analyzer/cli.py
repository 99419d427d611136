"""logscan's command line (typer): `scan`, `tail`, `events`, `signatures`.

Exit codes: 0 = done (warnings about damaged input are printed, not fatal);
1 = `scan --fail-on` found an incident at or above that severity, or a
signature check failed; 2 = an argument could not be used (no such file,
unreadable file named explicitly, unknown format, bad signature file).
"""

from __future__ import annotations

import io
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from analyzer.analysis import Analysis, Settings
from analyzer.cli_choices import LogFormat, Severity
from analyzer.diagnostics import Diagnostics
from analyzer.incidents import WindowOverride
from analyzer.pipeline import Pipeline
from analyzer.ranking import severity_at_least
from analyzer.report import build_report
from analyzer.reports import json as json_report
from analyzer.reports import markdown as markdown_report
from analyzer.reports import terminal as terminal_report
from analyzer.reports.sentry import DSN_ENV, SentryDsnError, SentrySink
from analyzer.signatures import SignatureError, load_signatures
from analyzer.signatures_cli import signatures_app
from analyzer.sources import resolve
from analyzer.summary import print_summary, summary_dict
from analyzer.tail_cli import tail_command
from analyzer.timespec import parse_duration, parse_instant

app = typer.Typer(
    name="logscan",
    help="Log-driven incident analyzer for FastAPI/uvicorn + SQLAlchemy + PostgreSQL + Docker Compose backends.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

app.add_typer(signatures_app, name="signatures")
app.command("tail")(tail_command)



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


class ReportFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


STORM_SIGNATURES = ("http_422_storm", "http_5xx_storm", "http_429_storm")
SENTRY_TIMEOUT_SECONDS = 10.0  # a batch run can wait for delivery longer than tail's default


def _bad_argument(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False).print(f"[red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(2)


def _settings(since: str | None, until: str | None, storm_count: int | None, storm_window: str | None,
              slow_count: int | None) -> Settings:
    try:
        window = parse_duration(storm_window).total_seconds() if storm_window else None
        settings = Settings(
            since=parse_instant(since) if since else None, until=parse_instant(until) if until else None
        )
    except ValueError as exc:
        raise _bad_argument(str(exc)) from None
    if storm_count or window:
        for sig_id in STORM_SIGNATURES:
            settings.overrides[sig_id] = WindowOverride(window_seconds=window, min_count=storm_count)
    if slow_count:
        settings.overrides["slow_request"] = WindowOverride(min_count=slow_count)
    return settings


def _render(report: dict[str, object], report_format: ReportFormat) -> str:
    """The report as text: JSON, Markdown, or the terminal report without colours (for a file)."""
    if report_format is ReportFormat.json:
        return json_report.render(report)
    if report_format is ReportFormat.markdown:
        return markdown_report.render(report)
    buffer = io.StringIO()
    terminal_report.render(Console(file=buffer, width=120, no_color=True, highlight=False), report)
    return buffer.getvalue()


@app.command()
def scan(
    paths: Annotated[list[str], typer.Argument(help="Files, globs, folders, .gz files, or - for stdin.")],
    report_format: Annotated[ReportFormat, typer.Option("--format", "-F", help="Report format.")] = ReportFormat.text,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the report to this file.")] = None,
    signatures: Annotated[
        list[str] | None, typer.Option("--signatures", "-s", help="Extra signature folder (repeatable); same id overrides.")
    ] = None,
    log_format: Annotated[
        LogFormat | None, typer.Option("--log-format", "-f", help="Force one log format instead of detecting.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Only records at or after: 24h (ago) or 2026-11-22T00:00 (UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Only records before: 1h (ago) or an ISO 8601 time.")] = None,
    min_severity: Annotated[
        Severity, typer.Option(help="Hide incidents below this severity (info: context such as a clean shutdown).")
    ] = Severity.low,  # type: ignore[attr-defined]
    fail_on: Annotated[
        Severity | None, typer.Option(help="Exit 1 when an incident at or above this severity is found (CI).")
    ] = None,
    storm_count: Annotated[int | None, typer.Option(help="Requests that make a 422/5xx/429 storm (default 20).")] = None,
    storm_window: Annotated[str | None, typer.Option(help="Sliding window of a storm (default 60s).")] = None,
    slow_count: Annotated[int | None, typer.Option(help="Slow requests per route in 60 s that make an incident (default 1).")] = None,
    sentry_dsn: Annotated[str | None, typer.Option(envvar=DSN_ENV, help="Also send each incident shown to this Sentry DSN.")] = None,
) -> None:
    """Find incidents in logs: match signatures, rebuild request traces, rank root causes above symptoms.

    Exit codes: 0 done, 1 an incident at or above --fail-on, 2 an unusable argument.
    """
    settings = _settings(since, until, storm_count, storm_window, slow_count)
    try:
        sigs = load_signatures([Path(folder) for folder in signatures or []])
    except SignatureError as exc:
        raise _bad_argument(str(exc)) from None
    try:
        sentry = SentrySink(sentry_dsn, timeout=SENTRY_TIMEOUT_SECONDS) if sentry_dsn else None
    except SentryDsnError as exc:
        raise _bad_argument(str(exc)) from None
    diag = Diagnostics()
    inputs = resolve(paths, diag)
    pipeline = Pipeline(diag, fmt=log_format.value if log_format else None)
    analysis = Analysis(sigs, settings)
    for batch in pipeline.run(inputs):
        analysis.add(batch)
    incidents = analysis.incidents()
    shown = incidents.filter(severity_at_least(pl.col("severity"), min_severity.value))
    report = build_report(summary_dict(diag, pipeline.tally), shown, analysis.traces)
    err = Console(stderr=True, highlight=False)
    if report_format is ReportFormat.text and not output:
        console = Console(highlight=False)
        terminal_report.render(console, report)
        print_summary(console, diag, pipeline.tally)
    else:
        text = _render(report, report_format)
        if output:
            try:
                Path(output).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise _bad_argument(f"cannot write the report to {output}: {exc.strerror or exc}") from None
        else:
            sys.stdout.write(text)
        for line in diag.source_warnings() + diag.warnings + diag.errors:
            err.print(f"[yellow]warning:[/] {line}", soft_wrap=True)
    if sentry is not None:
        for incident in report["incidents"]:
            sentry.send(incident)
        for warning in sentry.close():
            err.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    if diag.errors:
        raise typer.Exit(2)
    if fail_on and incidents.filter(severity_at_least(pl.col("severity"), fail_on.value)).height:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
