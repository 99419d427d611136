"""logscan's command line (typer): `scan`, `tail`, `events`, `signatures`, `config`.

Exit codes: 0 = done (warnings about damaged input are printed, not fatal);
1 = `scan --fail-on` found an incident at or above that severity, or a
signature check failed; 2 = an argument or the config file could not be used
(no such file, unreadable file named explicitly, unknown format, bad signature
file, bad config). Each command's `--help` ends with its own exit codes.

Configuration (`logscan.toml` or `[tool.logscan]`, `--config`): analyzer.config.
`NO_COLOR` turns off every colour and style (analyzer.commands.options.console);
`-` reads stdin everywhere a path is taken. What `scan` and `events` print
passes through analyzer.report.redact's Redactor once (secrets masked unless
`--no-redact`, control sequences removed).
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from analyzer.analysis.engine import Analysis, Settings
from analyzer.commands.options import (
    ConfigOption,
    LogFormat,
    NoRedactOption,
    Severity,
    SlowCountOption,
    StormCountOption,
    StormWindowOption,
    console,
)
from analyzer.config import (
    ConfigError,
    Effective,
    apply_ignores,
    for_run,
    settings_from,
)
from analyzer.commands.config import CONFIG_EXIT_CODES, config_command
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.screen import Screen
from analyzer.analysis.ranking import SEVERITIES, severity_at_least
from analyzer.report.model import build_report, history_rows
from analyzer.report import html as html_report
from analyzer.report import json as json_report
from analyzer.report import markdown as markdown_report
from analyzer.report import terminal as terminal_report
from analyzer.report.redact import Redactor
from analyzer.report.sentry import DSN_ENV, SentryDsnError, SentrySink
from analyzer.analysis.signatures import SignatureError, load_signatures
from analyzer.commands.signatures import signatures_app
from analyzer.ingest.sources import Input, known_size, resolve
from analyzer.state.store import State, StateError, open_state
from analyzer.report.summary import print_summary, summary_dict
from analyzer.commands.tail import TAIL_EXIT_CODES, tail_command

app = typer.Typer(
    name="logscan",
    help="Log-driven incident analyzer for FastAPI/uvicorn + SQLAlchemy + PostgreSQL + Docker Compose backends.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

SCAN_EXIT_CODES = (
    "Exit codes: 0 = done (warnings about damaged input do not change it); 1 = an incident at or above --fail-on "
    "(or the config's fail_on); 2 = an unusable argument or config file (no such path, unreadable file named "
    "explicitly, bad signature file, bad --since/--until/--storm-window, malformed Sentry DSN, unwritable -o, "
    "bad config)."
)
EVENTS_EXIT_CODES = (
    "Exit codes: 0 = done (warnings about damaged input do not change it); 2 = an unusable argument or config "
    "file (no such path, unreadable file named explicitly, unknown format, bad config)."
)
SIGNATURES_EXIT_CODES = (
    "Exit codes: 0 = fine; 1 = the signatures have problems (lint, list, show: an unknown id or a bad file) or an "
    "example fails (test); 2 = an unusable argument (e.g. a folder that does not exist)."
)

app.add_typer(signatures_app, name="signatures", epilog=SIGNATURES_EXIT_CODES)
app.command("tail", epilog=TAIL_EXIT_CODES)(tail_command)
app.command("config", epilog=CONFIG_EXIT_CODES)(config_command)



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
        table.add_row(*(Text("" if v is None else str(v)[:160]) for v in row))  # Text: log text is not markup
    console.print(table)


@app.command(epilog=EVENTS_EXIT_CODES)
def events(
    paths: Annotated[list[str], typer.Argument(help="Files, globs, folders, .gz files, or - for stdin.")],
    output: Annotated[EventsOutput, typer.Option("--output", "-O", help="How to print the events.")] = EventsOutput.table,
    log_format: Annotated[
        LogFormat | None, typer.Option("--format", "--log-format", "-f", help="Force one log format instead of detecting.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Print at most this many events (the summary still counts all).")] = None,
    config: ConfigOption = None,
    no_redact: NoRedactOption = False,
) -> None:
    """Print every record as a normalized event, then a summary of what was read.

    The config's services table, request_id_keys and redact_patterns apply, as in scan.
    """
    eff = _effective(config, {})
    redactor = Redactor(eff.redact_patterns, enabled=not no_redact)
    diag = Diagnostics()
    inputs = resolve(paths, diag)
    pipeline = _pipeline(diag, log_format, eff)
    out = console(soft_wrap=False)
    err = console(stderr=True)
    printed = 0
    for batch in pipeline.run(inputs):
        if output is EventsOutput.count:
            continue
        if limit is not None:
            batch = batch.head(max(0, limit - printed))
        if batch.height == 0:
            continue
        batch = redactor.frame(batch)
        if output is EventsOutput.table:
            _print_table(out, batch)
        elif output is EventsOutput.jsonl:
            sys.stdout.buffer.write(batch.write_ndjson().encode())
        else:
            sys.stdout.buffer.write(batch.write_csv(include_header=printed == 0).encode())
        printed += batch.height
    sys.stdout.flush()
    print_summary(out if output in (EventsOutput.count, EventsOutput.table) else err, diag, pipeline.tally,
                  redactor=redactor)
    if diag.errors:
        raise typer.Exit(2)


class ReportFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


SENTRY_TIMEOUT_SECONDS = 10.0  # a batch run can wait for delivery longer than tail's default


def _bad_argument(message: str) -> typer.Exit:
    console(stderr=True).print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def _effective(config: str | None, flags: dict[str, object]) -> Effective:
    """The config file (named or found) with the flags over it; exit 2 naming file and key when it is bad."""
    try:
        return for_run(config, flags)
    except (ConfigError, ValueError) as exc:
        raise _bad_argument(str(exc)) from None


def _pipeline(diag: Diagnostics, log_format: LogFormat | None, eff: Effective) -> Pipeline:
    """The pipeline with the config's request ID keys and service names (the default path when there are none)."""
    return Pipeline(diag, fmt=log_format.value if log_format else None,
                    request_id_keys=eff.request_id_keys, services=eff.services)


def _settings(eff: Effective, since: str | None, until: str | None) -> Settings:
    """Time filter and window thresholds (flag > config > the signatures' own); exit 2 on a bad time."""
    try:
        return settings_from(eff, since, until)
    except ValueError as exc:
        raise _bad_argument(str(exc)) from None


def _open_state(state_dir: str | None, incremental: bool, paths: Sequence[str], diag: Diagnostics) -> State | None:
    """The job's checkpoints and history (--state DIR, or --incremental: the default folder); exit 2 when unusable.

    Opened before anything is read, so an unwritable folder stops the run at once.
    """
    if state_dir is None and not incremental:
        return None
    try:
        return open_state(state_dir, paths, diag)
    except StateError as exc:
        raise _bad_argument(str(exc)) from None


def show_progress(err: Console, quiet: bool) -> bool:
    """The progress bar is for people watching: no --quiet, and `err`'s file (stderr) really a terminal.

    FORCE_COLOR and TTY_COMPATIBLE make rich treat a pipe as a terminal (for colours), but a bar drawn into a
    pipe or a file is only noise there, so its file's own `isatty()` decides.
    """
    if quiet or not err.is_terminal:
        return False
    try:
        return bool(err.file.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


PROGRESS_EVERY = 0.1  # seconds between two progress updates


@contextmanager
def _progress(err: Console, inputs: Sequence[Input], diag: Diagnostics, enabled: bool) -> Iterator[Callable[[], None]]:
    """A transient progress bar on `err` fed by the bytes the pipeline counts (Diagnostics): bytes read of the
    known total, rate and ETA (stdin or .gz: bytes and rate). Yields the function to call after each batch;
    it costs nothing when disabled and a clock read otherwise."""
    if not enabled:
        yield lambda: None
        return
    total = known_size(inputs)
    columns = [TextColumn("reading"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
    if total is None:
        columns = [TextColumn("reading"), DownloadColumn(), TransferSpeedColumn()]
    with Progress(*columns, console=err, transient=True, refresh_per_second=5) as progress:
        task = progress.add_task("reading", total=total)
        last = 0.0

        def tick() -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY:
                last = now
                progress.update(task, completed=diag.bytes_read)

        yield tick
        progress.update(task, completed=diag.bytes_read)


def _render(report: dict[str, object], report_format: ReportFormat) -> str:
    """The report as text: JSON, Markdown, or the terminal report without colours (for a file)."""
    if report_format is ReportFormat.json:
        return json_report.render(report)
    if report_format is ReportFormat.markdown:
        return markdown_report.render(report)
    if report_format is ReportFormat.html:
        return html_report.render(report)
    buffer = io.StringIO()
    terminal_report.render(Console(file=buffer, width=120, no_color=True, highlight=False), report)
    return buffer.getvalue()


@app.command(epilog=SCAN_EXIT_CODES)
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
        Severity | None,
        typer.Option(help="Hide incidents below this severity (info: context such as a clean shutdown). (default: low)"),
    ] = None,
    fail_on: Annotated[
        Severity | None, typer.Option(help="Exit 1 when an incident at or above this severity is found (CI).")
    ] = None,
    storm_count: StormCountOption = None,
    storm_window: StormWindowOption = None,
    slow_count: SlowCountOption = None,
    sentry_dsn: Annotated[str | None, typer.Option(envvar=DSN_ENV, help="Also send each incident shown to this Sentry DSN.")] = None,
    config: ConfigOption = None,
    no_redact: NoRedactOption = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress bar and no warnings, on stderr or in the text summary (errors still show; "
        "a JSON report keeps the warnings in summary.warnings).")]
    = False,
    state_dir: Annotated[
        str | None,
        typer.Option("--state", help="Remember this job's runs here: read only new bytes, mark incidents "
                     "new/ongoing/regressed and list the resolved ones (implies --incremental)."),
    ] = None,
    incremental: Annotated[
        bool, typer.Option(help="Like --state, in the default folder ($XDG_STATE_HOME/logscan or ~/.local/state/logscan).")
    ] = False,
    exhaustive: Annotated[bool, typer.Option(
        "--exhaustive", help="Normalize every record instead of screening first for those that can matter (same report, slower).")]
    = False,
) -> None:
    """Find incidents in logs: match signatures, rebuild request traces, rank root causes above symptoms.

    Thresholds, severities, signature folders, request ID keys, service names and ignore rules can also come
    from a config file (logscan.toml, or pyproject.toml's tool.logscan table; see `logscan config`); a flag wins over it.
    """
    eff = _effective(config, {
        "storm_count": storm_count, "storm_window": storm_window, "slow_count": slow_count,
        "min_severity": min_severity.value if min_severity else None, "fail_on": fail_on.value if fail_on else None,
        "signatures": signatures,
    })
    settings = _settings(eff, since, until)
    try:
        sigs = load_signatures(eff.signatures)
    except SignatureError as exc:
        raise _bad_argument(str(exc)) from None
    try:
        sentry = SentrySink(sentry_dsn, timeout=SENTRY_TIMEOUT_SECONDS) if sentry_dsn else None
    except SentryDsnError as exc:
        raise _bad_argument(str(exc)) from None
    diag = Diagnostics()
    state = _open_state(state_dir, incremental, paths, diag)
    inputs = resolve(paths, diag, resume=state.checkpoints if state else None)
    pipeline = _pipeline(diag, log_format, eff)
    if not exhaustive:
        pipeline.screen = Screen(sigs)
    analysis = Analysis(sigs, settings)
    err = console(stderr=True)
    with _progress(err, inputs, diag, show_progress(err, quiet)) as tick:
        for batch in pipeline.run(inputs):
            analysis.add(batch)
            tick()
    incidents, ignored = apply_ignores(analysis.incidents(), eff.active_ignores())
    shown = incidents.filter(severity_at_least(pl.col("severity"), eff.min_severity))
    report = build_report(summary_dict(diag, pipeline.tally, ignored=ignored), shown, analysis.traces)
    # History compares and records every incident found (the ignored ones excepted), not only the shown ones,
    # so --min-severity changes what is shown, never what is new, regressed or resolved (analyzer.state.history).
    found = history_rows(incidents) if state else []
    if state:
        shown_severities = SEVERITIES[SEVERITIES.index(eff.min_severity):]
        state.history.annotate(report, found, shown=lambda entry: entry.get("severity") in (*shown_severities, None))
    # Every sink below (terminal, file, Sentry) shows this one copy: secrets masked, control sequences removed.
    redactor = Redactor(eff.redact_patterns, enabled=not no_redact)
    report = redactor.data(report)
    if report_format is ReportFormat.text and not output:
        out = console()
        terminal_report.render(out, report)
        print_summary(out, diag, pipeline.tally, ignored=ignored, warnings=not quiet, redactor=redactor)
    else:
        text = _render(report, report_format)
        if output:
            try:
                Path(output).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise _bad_argument(f"cannot write the report to {output}: {exc.strerror or exc}") from None
        else:
            sys.stdout.write(text)
        if not quiet:
            for line in report["summary"]["warnings"]:
                err.print(f"[yellow]warning:[/] {escape(line)}", soft_wrap=True)
        for line in report["summary"]["errors"]:
            err.print(f"[red]error:[/] {escape(line)}", soft_wrap=True)
    if sentry is not None:
        for incident in report["incidents"]:
            sentry.send(incident)
        for warning in sentry.close():
            if not quiet:
                err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    if state:
        state.history.record(found, datetime.now(UTC))
        try:
            state.commit()  # only after a run that got this far: a crashed run reads the same bytes again
        except StateError as exc:
            raise _bad_argument(str(exc)) from None
    if diag.errors:
        raise typer.Exit(2)
    if eff.fail_on and incidents.filter(severity_at_least(pl.col("severity"), eff.fail_on)).height:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
