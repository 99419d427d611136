"""`logscan tail`: follow logs live, announce each new incident once, end with the scan report.

Two outputs. `text`: each new incident is announced at once (severity,
service, title, first example line, cause, first fix step); on a terminal a
live board below the announcements keeps counts, last seen and rate up to date
instead of scrolling (not on a terminal: only announcements and
resolutions). `jsonl`: one JSON object per incident change,
`{"event": "opened"|"updated"|"resolved", "incident": {...}}` with the scan
JSON report's incident fields, and at the end `{"event": "report", "report":
{...}}`, the scan JSON report. Warnings go to stderr (or above the board).
Ctrl-C, SIGTERM, SIGHUP, or the end of stdin, prints what `scan` would have
printed for the same lines (exit 0).

The config file (analyzer.config) applies as it does to `scan`: thresholds,
min_severity, signature folders, request_id_keys, [services] and [[ignore]]
rules (an ignored incident is never announced), with the same flags over it.

Everything said (records, announcements, the board, warnings, JSON lines,
Sentry events, the final report) passes through one Redactor first
(`RedactingSink`, analyzer.report.redact): secrets masked unless
`--no-redact`, control sequences removed.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import IO, TYPE_CHECKING, Annotated, Any, BinaryIO, Final

import orjson
import polars as pl
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.markup import escape
from rich.text import Text

from analyzer.commands.filters import Filters
from analyzer.commands.options import (
    ConfigOption,
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
    error,
    examples,
    fail,
    warn,
)
from analyzer.commands.steps import effective, open_output
from analyzer.config import Effective
from analyzer.ingest import urls
from analyzer.ingest.follow import Follower
from analyzer.ingest.pipeline import Pipeline
from analyzer.report.model import iso
from analyzer.report.redact import Redactor
from analyzer.report import terminal as terminal_report
from analyzer.report.sentry_dsn import DSN_ENV, SentryDsnError, open_sink
from analyzer.report.terminal import SEVERITY_STYLE
from analyzer.report.summary import print_summary
from analyzer.analysis.incremental import LiveAnalysis
from analyzer.live import BoardRow, Change, Limits, LiveTail
from analyzer.run import Run, RunError
from analyzer.timespec import parse_duration

if TYPE_CHECKING:
    from analyzer.report.sentry import SentrySink

TAIL_EXIT_CODES = (
    "Exit codes: 0 = stopped (Ctrl-C, SIGTERM such as docker stop or systemd's, SIGHUP, or the end of stdin) after "
    "printing the report, also when the reader of stdout closes it; 2 = an unusable argument or config file (bad "
    "signature folder, bad duration, malformed Sentry DSN, bad config). A second signal interrupts at once."
)
TAIL_EPILOG = examples(
    "logscan tail app.log                        # from the end, like tail -f",
    "logscan tail logs/ --from-start --service api",
    "docker compose logs -f --no-color | logscan tail -",
    "logscan tail app.log -f jsonl -o changes.jsonl",
) + "\n\n" + TAIL_EXIT_CODES
LEVEL_STYLE = {"critical": "bold red", "error": "red", "warning": "yellow", "info": "", "debug": "dim"}


class TailFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"




def _first_line(incident: dict[str, Any]) -> str:
    examples = incident["examples"]
    return examples[0]["text"].splitlines()[0] if examples and examples[0]["text"] else ""


class TextSink:
    """Announcements, warnings and (on a terminal) a live board of the incidents so far."""

    def __init__(self, console: Console, errors: Console) -> None:
        self.console = console
        self.errors = errors
        self.live = Live(console=console, auto_refresh=False, transient=True) if console.is_terminal else None
        if self.live:
            self.live.start()

    def close(self) -> None:
        if self.live:
            self.live.stop()

    def records(self, events: pl.DataFrame, tags: dict[tuple[str, int], str]) -> None:
        for source, line_no, ts, service, level, message in events.select(
            "source", "line_no", "ts", "service", "level", "message"
        ).iter_rows():
            line = Text(f"{iso(ts) or '-'} {service} {level or '-'} {message}", style=LEVEL_STYLE.get(level or "", ""))
            if (source, line_no) in tags:
                line.append(f"  ◀ {tags[source, line_no]}", style="bold magenta")
            self.console.print(line, soft_wrap=True)

    def changes(self, changes: list[Change], board: Callable[[], list[BoardRow]]) -> None:
        for change in changes:
            if change.event != "updated":
                self.console.print(self._announcement(change), soft_wrap=True)
        if self.live:
            self.live.update(_board(board()), refresh=True)

    def warn(self, message: str) -> None:
        (self.console if self.live else self.errors).print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True,
                                                           highlight=False)

    @staticmethod
    def _announcement(change: Change) -> Text | Group:
        inc = change.incident
        severity = Text(inc["severity"], style=SEVERITY_STYLE.get(inc["severity"], ""))
        if change.event == "resolved":
            return Text.assemble(("resolved ", "bold green"), severity, f"  {inc['title']}  ",
                                 (inc["service"] or "", "cyan"), f"  ({inc['count']:,} in all, last {inc['last_seen']})")
        parts: list[Text] = [
            Text.assemble(("NEW ", "bold"), severity, f"  {inc['title']}  ", (inc["service"] or "", "cyan"),
                          (f"  {inc['signature']}", "dim")),
            Text("  " + _first_line(inc), style="dim"),
            Text.assemble(("  cause  ", "bold"), inc["cause"] or ""),
        ]
        if inc["fix"]:
            parts.append(Text.assemble(("  fix    ", "bold green"), inc["fix"][0]))
        return Group(*parts)


def _board(rows: list[BoardRow]) -> Table:
    table = Table("#", "severity", "incident", "service", "count", "last seen", "per min", title="live incidents",
                  title_justify="left", header_style="bold")
    for row in rows:
        inc = row.incident
        table.add_row(
            str(inc["rank"]), Text(inc["severity"], style=SEVERITY_STYLE.get(inc["severity"], "")),
            Text(inc["title"], style="dim" if row.resolved else ""), Text(inc["service"] or ""), f"{inc['count']:,}",
            "resolved" if row.resolved else (iso(inc["last_seen"]) or "—")[11:19], f"{row.rate:.1f}",
        )
    return table


class JsonlSink:
    """One JSON object per line: incident changes (and records, with --lines); warnings to stderr."""

    def __init__(self, out: IO[str], errors: Console) -> None:
        self.out = out
        self.errors = errors

    def _write(self, obj: dict[str, Any]) -> None:
        self.out.write(orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")
        self.out.flush()

    def records(self, events: pl.DataFrame, tags: dict[tuple[str, int], str]) -> None:
        for row in events.select("source", "line_no", "ts", "service", "level", "message").iter_rows(named=True):
            self._write({"event": "record", "record": {**row, "ts": iso(row["ts"]),
                                                       "signature": tags.get((row["source"], row["line_no"]))}})

    def changes(self, changes: list[Change], board: Callable[[], list[BoardRow]]) -> None:
        for change in changes:
            self._write({"event": change.event, "incident": change.incident})

    def warn(self, message: str) -> None:
        self.errors.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True, highlight=False)

    def close(self) -> None:
        """Nothing to release: every line is flushed as it is written."""


class IgnoringAnalysis(LiveAnalysis):
    """LiveAnalysis whose incidents are what `run` shows (analyzer.run: its [[ignore]] rules applied, its
    --service view; `ignored`: how many the rules took, as of the last computation), so that tail never
    announces an ignored incident and its report matches scan's."""

    def __init__(self, run: Run, **kwargs: Any) -> None:
        super().__init__(run.signatures, run.settings, **kwargs)
        self.run = run
        self.ignored = 0
        self.unfiltered = 0  # incidents before --service, as of the last computation
        self.unfiltered_services: set[str] = set()

    def visible(self, incidents: pl.DataFrame) -> pl.DataFrame:
        kept, self.ignored = self.run.unignored(incidents)
        if self.run.services:
            self.unfiltered = kept.height
            self.unfiltered_services = set(kept.get_column("service").drop_nulls().to_list())
            if "services" in kept.columns:
                self.unfiltered_services |= {name for names in kept.get_column("services").to_list() for name in names or []}
        return self.run.view(kept, severity=False)

    def point_incidents(self, evidence: pl.DataFrame) -> pl.DataFrame:
        kept = self.run.unignored(super().point_incidents(evidence))[0]  # not announced; counted when computed
        return self.run.view(kept, severity=False)


class CountingPipeline(Pipeline):
    """The pipeline, counting what the time filter keeps of every batch (for `Filters.hid_all`)."""

    def __init__(self, *args: Any, filters: Filters, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters = filters

    def feed(self, chunk: Any) -> pl.DataFrame:
        events = super().feed(chunk)
        self.filters.apply(events, records=False)
        return events

    def flush(self, inp: Any, keep_unfinished: bool = False, streams: set[int] | None = None) -> pl.DataFrame:
        events = super().flush(inp, keep_unfinished, streams)
        self.filters.apply(events, records=False)
        return events


class SentryForwarding:
    """A tail sink that also sends opened and updated incidents to Sentry (once each; see SentrySink)."""

    def __init__(self, inner: TextSink | JsonlSink, sentry: SentrySink, errors: Console) -> None:
        self.inner, self.sentry, self.errors = inner, sentry, errors

    def records(self, events: pl.DataFrame, tags: dict[tuple[str, int], str]) -> None:
        self.inner.records(events, tags)

    def changes(self, changes: list[Change], board: Callable[[], list[BoardRow]]) -> None:
        self.inner.changes(changes, board)
        for change in changes:
            if change.event != "resolved":
                self.sentry.send(change.incident)

    def warn(self, message: str) -> None:
        self.inner.warn(message)

    def close(self) -> None:
        self.inner.close()
        for warning in self.sentry.close():
            self.errors.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)


class RedactingSink:
    """The outermost tail sink: records, incidents, the board and warnings pass through the Redactor before any
    inner sink (text, JSON lines, Sentry) sees them: secrets masked (unless --no-redact), control sequences out."""

    def __init__(self, inner: TextSink | JsonlSink | SentryForwarding, redactor: Redactor) -> None:
        self.inner, self.redactor = inner, redactor

    def records(self, events: pl.DataFrame, tags: dict[tuple[str, int], str]) -> None:
        safe = self.redactor.frame(events)
        shown = dict(zip(events.get_column("source"), safe.get_column("source"), strict=True))
        self.inner.records(safe, {(shown.get(source, source), line): sig for (source, line), sig in tags.items()})

    def changes(self, changes: list[Change], board: Callable[[], list[BoardRow]]) -> None:
        incidents = self.redactor.data([c.incident for c in changes])

        def shown() -> list[BoardRow]:
            rows = board()
            safe = self.redactor.data([r.incident for r in rows])
            return [BoardRow(inc, r.rate, r.resolved) for r, inc in zip(rows, safe, strict=True)]

        self.inner.changes([Change(c.event, inc) for c, inc in zip(changes, incidents, strict=True)], shown)

    def warn(self, message: str) -> None:
        self.inner.warn(self.redactor.text(message))

    def close(self) -> None:
        self.inner.close()


def run_tail(
    paths: list[str],
    *,
    output: TailFormat = TailFormat.text,
    lines: bool = False,
    from_start: bool = False,
    log_format: str | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen dataclass, safe as a default
    stop: threading.Event | None = None,
    stdin: BinaryIO | None = None,
    out: IO[str] | None = None,
    sentry_dsn: str | None = None,
    run: Run | None = None,
    filters: Filters | None = None,
    screen: bool = False,
) -> int:
    """Follow `paths` until `stop` is set, Ctrl-C (SIGTERM, SIGHUP), or the end of stdin; print the final report.
    Returns the exit code.

    `run` (analyzer.run: signatures, settings, ignore rules, --service, redaction, built once from the config
    and flags as for `scan`; default: the built-in signatures and defaults) is what this tail drives.
    """
    run = run or Run.build(Effective())
    redactor = run.redactor
    out = out or sys.stdout
    errors = console(stderr=True)
    try:
        sentry = open_sink(sentry_dsn)
    except SentryDsnError as exc:
        error(str(exc))
        return 2
    diag = run.diag
    shown = console(file=out)
    inner: TextSink | JsonlSink | SentryForwarding
    inner = JsonlSink(out, errors) if output is TailFormat.jsonl else TextSink(shown, errors)
    if sentry is not None:
        inner = SentryForwarding(inner, sentry, errors)
    sink = RedactingSink(inner, redactor)
    filters = filters or Filters()
    analysis = IgnoringAnalysis(run, max_rows=limits.max_evidence_rows)
    live = LiveTail(
        Follower(paths, diag, from_start=from_start, stdin=stdin),
        # screened as scan is with --screen, unless every record is echoed (--lines) or a time filter counts them
        run.pipeline(log_format, CountingPipeline, filters=filters, screened=screen and not lines and not filters.active),
        analysis, sink, limits, min_severity=run.eff.min_severity, echo=lines,
    )
    stop = stop or threading.Event()
    try:
        with _signals_stop(stop, live.follower.wake.set):
            live.run(stop)
    finally:
        sink.close()
    report = redactor.data(live.report())
    report["summary"]["ignored_incidents"] = analysis.ignored
    if output is TailFormat.jsonl:
        out.write(orjson.dumps({"event": "report", "report": report}).decode() + "\n")
    else:
        terminal_report.render(shown, report)
        print_summary(shown, diag, live.pipeline.tally, ignored=analysis.ignored, redactor=redactor, problems=False)
    out.flush()
    for line in diag.errors:  # warnings were passed on as they came (LiveTail)
        error(line)
    notes = [filters.hid_all()]
    if run.services and analysis.unfiltered and not report["incidents"]:
        notes.append(f"{' '.join(f'--service {name}' for name in run.services)} hid all {analysis.unfiltered:,} "
                     f"incidents (their services: {', '.join(sorted(analysis.unfiltered_services))})")
    for note in filter(None, notes):
        warn(note)
    return 2 if diag.errors and diag.bytes_read == 0 else 0


#: Signals that end following as the first Ctrl-C does: `docker stop` and systemd send SIGTERM, a closed
#: terminal or a supervisor's reload SIGHUP.
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def _signals_stop(stop: threading.Event, wake: Callable[[], None]) -> Iterator[None]:
    """The first SIGINT (Ctrl-C), SIGTERM or SIGHUP ends following cleanly: it sets `stop`, so everything
    read is still flushed and reported (exit 0); a second one interrupts at once (SIGINT: the report of
    what was analysed so far; SIGTERM, SIGHUP: the default action, no report).

    A KeyboardInterrupt would land wherever the main thread is, also inside a Polars call, and a
    signal noticed there can surface a second time during the final flush (seen in the latency
    benchmark: exit 130 and no report).

    The main thread blocks these signals meanwhile, so that the kernel delivers them to another
    thread (`logscan-signals`, started first, does nothing else) and Python runs the handler on the
    main thread at its next step (within one poll, at most a second): a signal that interrupts the
    main thread's write to a pipe makes CPython's buffered stdout drop or repeat bytes (a JSON line
    cut in two, seen with `tail --format jsonl` stopped by SIGTERM).
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread can handle signals (tests run tail on a thread and set `stop`)
        return

    def first(signum: int, frame: Any) -> None:
        stop.set()
        wake()
        for number in STOP_SIGNALS:
            signal.signal(number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL)

    done = threading.Event()
    threading.Thread(target=done.wait, name="logscan-signals", daemon=True).start()
    previous = {number: signal.signal(number, first) for number in STOP_SIGNALS}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        done.set()
        for number, handler in previous.items():
            signal.signal(number, handler)


def _seconds(text: str) -> float:
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def tail_command(
    paths: Annotated[list[str], typer.Argument(metavar="PATH", help="Files, globs, folders (new files are picked up), or - for stdin.")],
    output_format: Annotated[TailFormat, typer.Option("--format", "-f", help="text (announcements, live board) or jsonl.")]
    = TailFormat.text,
    output: OutputFileOption = None,
    lines: Annotated[bool, typer.Option("--lines", help="Also echo every record, coloured by level, tagged with its incident.")]
    = False,
    from_start: Annotated[bool, typer.Option("--from-start", help="Read what the files hold first (default: from their end).")]
    = False,
    service: ServiceOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    min_severity: Annotated[Severity | None, typer.Option(help="Say nothing about incidents below this. Default: low.")]
    = None,
    signatures: SignaturesOption = None,
    log_format: LogFormatOption = None,
    resolve_after: Annotated[str, typer.Option(metavar="DURATION", help="An incident quiet this long is reported resolved.")] = "5m",
    tick: Annotated[str, typer.Option(metavar="DURATION", help="Least time between two looks at the incidents folded from settled evidence (new problems are announced at once regardless).")] = "250ms",
    hold: Annotated[str, typer.Option(metavar="DURATION", help="Quiet spell after which a stream's last record is passed on (a traceback without its exception line waits for more, up to 30s).")] = "500ms",
    screen: Annotated[bool, typer.Option(
        "--screen/--exhaustive", help="Screen each batch as scan does and normalize only the records that can matter, or "
        "normalize every record (the default: on request-heavy traffic tail's small batches are read faster so).")]
    = False,
    max_evidence: Annotated[int, typer.Option(min=0, metavar="N", help="Evidence rows waiting to be tied to their requests (the oldest are folded into the incidents beyond).")]
    = Limits.max_evidence_rows,
    sentry_dsn: Annotated[str | None, typer.Option(
        envvar=DSN_ENV, metavar="DSN", help="Send each incident once to this Sentry DSN (updates only at 10x the count).")] = None,
    storm_count: StormCountOption = None,
    storm_window: StormWindowOption = None,
    slow_count: SlowCountOption = None,
    config: ConfigOption = None,
    no_redact: NoRedactOption = False,
) -> None:
    """Follow logs live: announce each new incident once, keep a live board, end with the scan report.

    Ctrl-C, SIGTERM, SIGHUP (or the end of stdin) print the ranked report `scan` would print for the same lines. The config
    file applies as it does to scan (see `logscan config`).
    """
    limits = Limits(tick_seconds=_seconds(tick), hold_seconds=_seconds(hold), resolve_after=_seconds(resolve_after),
                    max_evidence_rows=max_evidence)
    named_by_url = next((p for p in paths if urls.is_url(p)), None)
    if named_by_url:  # following watches a local file's growth and rotation
        raise fail(f"{named_by_url}: tail follows local files; a URL is read by scan")
    eff = effective(config, {
        "storm_count": storm_count, "storm_window": storm_window, "slow_count": slow_count,
        "min_severity": min_severity.value if min_severity else None, "signatures": signatures,
    })
    try:
        run = Run.build(eff, since=since, until=until, services=service or (), redact=not no_redact)
    except RunError as exc:
        raise fail(str(exc)) from None
    settings = run.settings
    with open_output(output) as out:
        code = run_tail(paths, output=output_format, lines=lines, from_start=from_start,
                        log_format=log_format.value if log_format else None, limits=limits, sentry_dsn=sentry_dsn,
                        run=run, out=out, screen=screen,
                        filters=Filters(since=settings.since, until=settings.until, flags=[
                            f"--{name} {text}" for name, text in (("since", since), ("until", until)) if text]))
    raise typer.Exit(code)
