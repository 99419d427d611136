"""`logscan events`: every record as a normalized event, printed as it is read.

Streaming: the pipeline's first batches are small (`FIRST_CHUNK_BYTES`, growing fourfold up to the usual
chunk) and every batch is written and flushed as it comes, so the first row shows within a second whatever
the file's size, and `| head` returns at once (a closed stdout ends the command quietly, exit 0).

The table fits the terminal (or `COLUMNS`, 80 when neither says): time, service, level, and the message cut to
what is left of the width; `--wide` adds format, line, request, status and exception columns and never cuts.
Rows are formatted by Polars a whole batch at a time, never one by one through rich.

Every record gets a `template` column in jsonl and csv: its message as the template
miner has generalized it, the same text for the records of one template.

stdout holds the events only (jsonl, csv, table), or the summary (`--format count`); the summary of the other
formats, every warning and every error go to stderr.
"""

from __future__ import annotations

from enum import Enum
from typing import IO, Annotated

import polars as pl
import typer

from analyzer.commands.filters import Filters
from analyzer.commands.options import (
    ConfigOption,
    InputPathsArgument,
    LogFormatOption,
    NoRedactOption,
    OutputFileOption,
    ServiceOption,
    SinceOption,
    UntilOption,
    console,
    examples,
    fail,
    no_color,
    warn,
)
from analyzer.commands.steps import (
    effective,
    not_a_format,
    open_output,
    pipeline_for,
    report_problems,
    resolve_inputs,
)
from analyzer.diagnostics import Diagnostics
from analyzer.events import LEVELS
from analyzer.miner import TemplateMiner
from analyzer.report.redact import Redactor
from analyzer.report.summary import print_summary

FIRST_CHUNK_BYTES = 1 << 20  # the first batch: ~10k records, parsed in ~0.1 s; enough for the template miner to generalize

EVENTS_EXIT_CODES = (
    "Exit codes: 0 = done (warnings about damaged input do not change it), also when the reader of stdout "
    "closes it early (| head); 2 = an unusable argument or config file (no such path, unreadable file named "
    "explicitly, unknown format, bad --since/--until, bad config)."
)
EVENTS_EPILOG = examples(
    "logscan events app.log              # time, service, level, message",
    "logscan events app.log --wide       # and format, line, request, ...",
    "logscan events app.log -f jsonl -o events.jsonl",
    "logscan events logs/ --service api --level error --since 1h",
    "logscan events db.csv --log-format postgres_csv -f count",
) + "\n\n" + EVENTS_EXIT_CODES


def with_templates(events: pl.DataFrame, miner: TemplateMiner) -> pl.DataFrame:
    """`template`: each record's message as the miner (analyzer.miner) has generalized it so far, so records of
    one kind share one text. Mined before redaction (as scan matches raw text); the column is redacted with the
    rest. Online: a template may still generalize after its first rows were printed."""
    mined = miner.add(events.get_column("message").fill_null(""))
    return events.with_columns(mined.get_column("template").alias("template"))


class EventsFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"
    count = "count"


Level = Enum("Level", {name: name for name in LEVELS}, type=str)  # type: ignore[misc]

LEVEL_SGR = {"critical": "\x1b[1;31m", "error": "\x1b[31m", "warning": "\x1b[33m", "debug": "\x1b[2m"}
TIME_WIDTH, SERVICE_WIDTH, LEVEL_WIDTH = 14, 10, 8
MIN_MESSAGE = 20


def _cut(expr: pl.Expr, width: int) -> pl.Expr:
    """`expr` cut to `width` characters, the last one `…` when something was cut."""
    return pl.when(expr.str.len_chars() > width).then(expr.str.slice(0, width - 1) + "…").otherwise(expr)


def _one_line(expr: pl.Expr) -> pl.Expr:
    return expr.fill_null("").str.replace_all(r"[\r\n\t]+", " ")


class TableWriter:
    """The events as aligned text lines, one batch at a time."""

    def __init__(self, out: IO[str], width: int, wide: bool, color: bool) -> None:
        self.out, self.wide, self.color = out, wide, color
        self.message_width = max(MIN_MESSAGE, width - (TIME_WIDTH + SERVICE_WIDTH + LEVEL_WIDTH + 3))
        self.started = False

    def _header(self) -> str:
        if self.wide:
            names = [("time", 24), ("service", 12), ("level", LEVEL_WIDTH), ("format", 12), ("line", 7),
                     ("request", 36), ("status", 6), ("exception", 24), ("message", 0)]
        else:
            names = [("time", TIME_WIDTH), ("service", SERVICE_WIDTH), ("level", LEVEL_WIDTH), ("message", 0)]
        line = " ".join(name.ljust(width) for name, width in names).rstrip()
        return f"\x1b[1m{line}\x1b[0m" if self.color else line

    def _level(self) -> pl.Expr:
        level = pl.col("level").fill_null("-").str.pad_end(LEVEL_WIDTH)
        if not self.color:
            return level
        sgr = pl.col("level").replace_strict(LEVEL_SGR, default="", return_dtype=pl.String)
        return pl.when(sgr != "").then(pl.concat_str([sgr, level, pl.lit("\x1b[0m")])).otherwise(level)

    def write(self, events: pl.DataFrame) -> None:
        if not self.started:
            self.out.write(self._header() + "\n")
            self.started = True
        if self.wide:
            cells = [
                pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").fill_null("-").str.pad_end(24),
                pl.col("service").fill_null("-").str.pad_end(12),
                self._level(),
                pl.col("format").fill_null("-").str.pad_end(12),
                pl.col("line_no").cast(pl.String).fill_null("-").str.pad_start(7),
                pl.col("request_id").fill_null("-").str.pad_end(36),
                pl.col("http_status").cast(pl.String).fill_null("-").str.pad_end(6),
                pl.col("exc_type").fill_null("-").str.pad_end(24),
                _one_line(pl.col("message")),
            ]
        else:
            cells = [
                pl.col("ts").dt.strftime("%m-%d %H:%M:%S").fill_null("-").str.pad_end(TIME_WIDTH),
                _cut(pl.col("service").fill_null("-"), SERVICE_WIDTH).str.pad_end(SERVICE_WIDTH),
                self._level(),
                _cut(_one_line(pl.col("message")), self.message_width),
            ]
        lines = events.select(pl.concat_str(cells, separator=" ").str.strip_chars_end().alias("line"))
        self.out.write("\n".join(lines.get_column("line").to_list()) + "\n")


def events_command(
    paths: InputPathsArgument,
    output_format: Annotated[EventsFormat, typer.Option(
        "--format", "-f", help="table (for people), jsonl or csv (for programs), count (only the summary).")]
    = EventsFormat.table,
    output: OutputFileOption = None,
    log_format: LogFormatOption = None,
    service: ServiceOption = None,
    level: Annotated[Level | None, typer.Option("--level", help="Only records at or above this level.")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int | None, typer.Option(metavar="N", help="Print at most N events (the summary still counts all).")]
    = None,
    wide: Annotated[bool, typer.Option("--wide", help="More table columns, messages never cut.")] = False,
    config: ConfigOption = None,
    no_redact: NoRedactOption = False,
) -> None:
    """Print every record as a normalized event as it is read, then a summary of what was read (on stderr).

    The config's services table, request_id_keys and redact_patterns apply, as in scan.
    """
    not_a_format(output, [f.value for f in EventsFormat])
    eff = effective(config, {})
    redactor = Redactor(eff.redact_patterns, enabled=not no_redact)
    miner = TemplateMiner()
    try:
        filters = Filters.parse(service, level.value if level else None, since, until)
    except ValueError as exc:
        raise fail(str(exc)) from None
    diag = Diagnostics()
    inputs = resolve_inputs(paths, diag)
    pipeline = pipeline_for(diag, log_format, eff)
    screen = console(soft_wrap=True)
    with open_output(output) as out:
        to_terminal = output is None and screen.is_terminal
        table = TableWriter(out, screen.width if output is None else 10_000 if wide else screen.width, wide,
                            color=to_terminal and not no_color() and screen.color_system is not None)
        printed = 0
        for batch in pipeline.run(inputs, first_chunk_bytes=FIRST_CHUNK_BYTES):
            batch = filters.apply(batch)
            if output_format is EventsFormat.count:
                continue
            if limit is not None:
                batch = batch.head(max(0, limit - printed))
            if batch.height == 0:
                continue
            if output_format is not EventsFormat.table:  # the table has no template column: no mining for it
                batch = with_templates(batch, miner)
            batch = redactor.frame(batch)
            if output_format is EventsFormat.table:
                table.write(batch)
            elif output_format is EventsFormat.jsonl:
                out.write(batch.write_ndjson())
            else:
                out.write(batch.write_csv(include_header=printed == 0))
            out.flush()
            printed += batch.height
        if output_format is EventsFormat.count:
            print_summary(console(file=out, color_system=None, width=screen.width) if output else screen,
                          diag, pipeline.tally, problems=False, redactor=redactor)
    if output_format is not EventsFormat.count:
        print_summary(console(stderr=True), diag, pipeline.tally, problems=False, redactor=redactor)
    report_problems(diag, redactor=redactor)
    hidden = filters.hid_all()
    if hidden:
        warn(hidden)
    if diag.errors:
        raise typer.Exit(2)
