"""`logscan scan` (the `logscan` group and `--version`: analyzer.cli; the other subcommands: their modules).

stdout is the report (or the events); every warning, error, note and progress line goes to stderr. One
vocabulary of flags for every command (analyzer.commands.options). Exit codes: 0 = done (warnings about
damaged input are printed, not fatal; a reader closing stdout early, `| head`, is also 0); 1 = `scan
--fail-on` found an incident at or above that severity, or a signature check failed; 2 = an argument or the
config file could not be used (no such file, unreadable file named explicitly, unknown format, bad signature
file, bad config) or a usage error. Each command's `--help` ends with its own exit codes.

Configuration (`logscan.toml` or `[tool.logscan]`, `--config`): analyzer.config.
`NO_COLOR` turns off every colour and style (analyzer.commands.options.console);
`-` reads stdin everywhere a path is taken. What `scan` and `events` print
passes through analyzer.report.redact's Redactor once (secrets masked unless
`--no-redact`, control sequences removed).

analyzer.cli imports this module only when `scan` runs (or `--help` lists the commands); a report format's
module, the Dask engine (analyzer.scale.dask) and sentry-sdk are imported only when a run uses them.
"""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from analyzer.cli import app, main  # noqa: F401 - the whole command line, as `python -m analyzer.commands.app` runs it
from analyzer.commands.options import (
    ConfigOption,
    InputPathsArgument,
    LogFormatOption,
    NoRedactOption,
    OutputFileOption,
    ServiceOption,
    Severity,
    SignaturesOption,
    SinceOption,
    SlowCountOption,
    StormCountOption,
    StormWindowOption,
    UntilOption,
    console,
    examples,
    fail,
    warn,
)
from analyzer.commands.filters import Filters
from analyzer.commands.steps import (
    effective,
    not_a_format,
    nothing_read,
    report_problems,
    resolve_inputs,
)
from analyzer.diagnostics import Diagnostics
from analyzer.report import terminal as terminal_report
from analyzer.report.sentry_dsn import DSN_ENV, SentryDsnError, open_sink
from analyzer.run import Run, RunError
from analyzer.ingest.sources import Input, known_size, read_if_empty
from analyzer.ingest.tally import Tally
from analyzer.ingest import urls
from analyzer.scale.cli import DEFAULT_WORKERS, Engine, engine_problem, job_of, scan_on_dask
from analyzer.report.summary import print_summary, summary_dict

if TYPE_CHECKING:  # the analysis (and Polars) only once there is something to read
    from analyzer.analysis.engine import Analysis

SCAN_EXIT_CODES = (
    "Exit codes: 0 = done (warnings about damaged input do not change it), also when the reader of stdout "
    "closes it early (| head); 1 = an incident at or above --fail-on (or the config's fail_on); 2 = an unusable "
    "argument or config file (no such path, unreadable file named explicitly, bad signature file, bad "
    "--since/--until/--storm-window, malformed Sentry DSN, unwritable -o, bad config)."
)
SCAN_EPILOG = examples(
    "logscan scan samples/compose/compose.log   # the top 5, then the rest",
    "logscan scan logs/ --all --no-pager        # every incident in detail",
    "logscan scan logs/ -f html -o report.html --fail-on high",
    "logscan scan logs/ --service api --since 24h",
    "docker compose logs --no-color | logscan scan -",
) + "\n\n" + SCAN_EXIT_CODES



class ReportFormat(str, Enum):
    """`scan --format`: each value but `text` names its renderer's module in analyzer.report."""

    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


SENTRY_TIMEOUT_SECONDS = 10.0  # a batch run can wait for delivery longer than tail's default


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
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

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


def _render(report: dict[str, object], report_format: ReportFormat, top: int, everything: bool) -> str:
    """The report as text: JSON, Markdown, HTML, or the terminal report without colours (for a file)."""
    if report_format is not ReportFormat.text:  # each format's module only when asked for
        return importlib.import_module(f"analyzer.report.{report_format.value}").render(report)
    buffer = io.StringIO()
    terminal_report.render(Console(file=buffer, width=120, no_color=True, highlight=False), report, top, everything)
    return buffer.getvalue()


def _pager_command() -> str | None:
    """$PAGER (`less` when unset, run as git runs it: LESS=FRX unless set); None for an empty one or `cat`."""
    pager = os.environ.get("PAGER")
    if pager is None:
        pager = "less"
    pager = pager.strip()
    return None if pager in ("", "cat") else pager


def show(render: Callable[[Console], None], use_pager: bool) -> None:
    """Print what `render` draws on stdout, through the pager when stdout is a terminal the output is taller
    than (as git does); `less` quits at once if it fits after all (-F) and keeps the colours (-R)."""
    out = console()
    pager = _pager_command() if use_pager else None
    if pager is None or not out.is_terminal or not sys.stdout.isatty():
        render(out)
        return
    buffer = io.StringIO()
    shadow = console(file=buffer, force_terminal=True, width=out.width, color_system=out.color_system)
    render(shadow)
    text = buffer.getvalue()
    if text.count("\n") < out.size.height:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    env = {**os.environ, "LESS": os.environ.get("LESS", "FRX"), "LV": os.environ.get("LV", "-c")}
    try:
        proc = subprocess.Popen(pager, shell=True, stdin=subprocess.PIPE, env=env)  # noqa: S602 - the user's $PAGER
    except OSError:
        sys.stdout.write(text)
        return
    assert proc.stdin is not None
    try:
        proc.stdin.write(text.encode("utf-8", "replace"))
        proc.stdin.close()
    except BrokenPipeError:  # the pager quit before reading everything (q in less)
        pass
    proc.wait()


def scan(
    paths: InputPathsArgument,
    report_format: Annotated[ReportFormat, typer.Option("--format", "-f", help="Report format.")] = ReportFormat.text,
    output: OutputFileOption = None,
    top: Annotated[int, typer.Option(min=0, metavar="N", help="Text report: the first N incidents in brief, the "
                                     "rest as a table.")] = terminal_report.TOP_DETAILS,
    show_all: Annotated[bool, typer.Option("--all", help="Text report: every incident in detail (cause, fix "
                                           "steps, example, request trace).")] = False,
    no_pager: Annotated[bool, typer.Option("--no-pager", help="Never page the text report (default: $PAGER, "
                                           "less, when stdout is a terminal and the report is taller).")] = False,
    signatures: SignaturesOption = None,
    log_format: LogFormatOption = None,
    service: ServiceOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    min_severity: Annotated[
        Severity | None,
        typer.Option(help="Hide incidents below this severity (info: context such as a clean shutdown). Default: low."),
    ] = None,
    fail_on: Annotated[
        Severity | None, typer.Option(help="Exit 1 when an incident at or above this severity is found (CI).")
    ] = None,
    storm_count: StormCountOption = None,
    storm_window: StormWindowOption = None,
    slow_count: SlowCountOption = None,
    sentry_dsn: Annotated[str | None, typer.Option(envvar=DSN_ENV, metavar="DSN",
                                                   help="Also send each incident shown to this Sentry DSN.")] = None,
    config: ConfigOption = None,
    no_redact: NoRedactOption = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress bar and no warnings (errors still show; a JSON report keeps the "
        "warnings in summary.warnings).")]
    = False,
    state_dir: Annotated[
        str | None,
        typer.Option("--state", metavar="DIR", help="Remember this job's runs here: read only new bytes, mark "
                     "incidents new/ongoing/regressed and list the resolved ones."),
    ] = None,
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Like --state, in the default folder ($XDG_STATE_HOME/logscan or ~/.local/state/logscan).")
    ] = False,
    exhaustive: Annotated[bool, typer.Option(
        "--exhaustive", help="Normalize every record instead of screening first for those that can matter (same report, slower).")]
    = False,
    engine: Annotated[Engine, typer.Option(
        "--engine", help="local: read in this process; dask: one task per file (per 256 MiB range of a large plain "
        "file) on a Dask cluster, the same report (needs logscan[dask]; files must be readable by the workers at "
        "the same paths; --state works with it).")] = Engine.local,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", metavar="ADDRESS",
        help="With --engine dask: a running scheduler's address (tcp://host:8786); default: a local cluster.")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", metavar="N", min=1,
        help=f"With --engine dask and no --scheduler: worker processes of the local cluster (default "
        f"{DEFAULT_WORKERS}).")] = None,
) -> None:
    """Find incidents in logs: match signatures, rebuild request traces, rank root causes above symptoms.

    The text report starts with what broke: the top incidents in a few lines each (what, why, where, the first
    fix), then the rest as a table. Thresholds, severities, signature folders, request ID keys, service names
    and ignore rules can also come from a config file (logscan.toml, or pyproject.toml's tool.logscan table;
    see `logscan config`); a flag wins over it.
    """
    not_a_format(output, [f.value for f in ReportFormat])
    eff = effective(config, {
        "storm_count": storm_count, "storm_window": storm_window, "slow_count": slow_count,
        "min_severity": min_severity.value if min_severity else None, "fail_on": fail_on.value if fail_on else None,
        "signatures": signatures,
    })
    try:
        run = Run.build(eff, since=since, until=until, services=service or (), redact=not no_redact)
        sentry = open_sink(sentry_dsn, timeout=SENTRY_TIMEOUT_SECONDS)
    except (RunError, SentryDsnError) as exc:
        raise fail(str(exc)) from None
    problem = engine_problem(engine, scheduler, workers, paths) or urls.first_problem(paths, bool(state_dir or incremental))
    if problem:
        raise fail(problem)
    diag, settings = run.diag, run.settings
    filters = Filters(since=settings.since, until=settings.until,
                      flags=[f"--{name} {text}" for name, text in (("since", since), ("until", until)) if text])
    try:
        state = run.open_state(state_dir, incremental, paths)
    except RunError as exc:
        raise fail(str(exc)) from None
    inputs = resolve_inputs(paths, diag, resume=state.checkpoints if state else None)
    err = console(stderr=True)
    analysis: Analysis | None = None  # None: nothing to analyze, no stage built (nor Polars imported)
    if engine is Engine.dask:  # the same Analysis, tally and filter counts, computed shard by shard (analyzer.scale)
        from analyzer.scale.dask import DaskUnavailable

        job = job_of(settings, eff, log_format.value if log_format else None)
        try:
            analysis, tally = scan_on_dask(inputs, diag, run.signatures, settings, job, scheduler, workers,
                                           err, show_progress(err, quiet),
                                           state.checkpoints if state else None, filters)
        except DaskUnavailable as exc:
            raise fail(str(exc)) from None
    else:
        if read_if_empty(inputs, diag):  # every input is empty: a report of no records and no incidents
            tally = Tally(period=run.period)
        else:
            pipeline = run.pipeline(log_format.value if log_format else None, screened=not exhaustive)
            analysis = run.analysis()
            with _progress(err, inputs, diag, show_progress(err, quiet)) as tick:
                for batch in pipeline.run(inputs):
                    analysis.add(batch)  # applies the time filter
                    tick()
            tally = pipeline.tally
        # what the time filter's "hid all N records" counts: every record read, screened or not (the tally's)
        filters.seen, filters.kept, filters.ts_min, filters.ts_max = tally.records, tally.in_period, tally.ts_min, tally.ts_max
    if nothing_read(diag):  # every input failed: no report, only the reasons (stderr) and exit 2
        report_problems(diag, quiet)
        raise typer.Exit(2)
    incidents, ignored = run.incidents(analysis)
    report = run.report(summary_dict(diag, tally, ignored=ignored), incidents,
                        analysis.traces if analysis is not None else None)
    if report_format is ReportFormat.text and not output:
        def draw(out: Console) -> None:
            terminal_report.render(out, report, top, show_all)
            print_summary(out, diag, tally, ignored=ignored, problems=False, redactor=run.redactor)

        show(draw, use_pager=not no_pager)
    else:
        text = _render(report, report_format, top, show_all)
        if output:
            try:
                Path(output).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise fail(f"cannot write the report to {output}: {exc.strerror or exc}") from None
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    report_problems(diag, quiet, run.redactor)
    if not quiet:
        hidden = filters.hid_all()
        if hidden:
            warn(hidden)
        if service and incidents is not None and incidents.height and not report["incidents"]:
            felt = sorted({name for names in incidents.get_column("services").to_list() for name in names or []}
                          | set(incidents.get_column("service").drop_nulls().to_list()))
            warn(f"{' '.join(f'--service {name}' for name in service)} hid all {incidents.height:,} incidents "
                 f"(their services: {', '.join(felt)})")
    if sentry is not None:
        for incident in report["incidents"]:
            sentry.send(incident)
        for warning in sentry.close():
            if not quiet:
                warn(warning)
    try:
        run.remember(incidents)
    except RunError as exc:
        raise fail(str(exc)) from None
    code = run.verdict(incidents)
    if code:
        raise typer.Exit(code)



if __name__ == "__main__":  # `python -m analyzer.commands.app`: the whole command line, as before
    main()
