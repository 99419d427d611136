"""The closing summary every command prints: what was read, what became of it, and what was skipped and why."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from analyzer.diagnostics import Diagnostics
from analyzer.ingest.tally import Tally
from analyzer.report.model import iso
from analyzer.report.redact import Redactor


def summary_dict(diag: Diagnostics, tally: Tally, ignored: int | None = None) -> dict[str, Any]:
    """The summary as data (also the `summary` of the JSON report).

    `ignored`: incidents left out by the config's `[[ignore]]` rules (`ignored_incidents`; scan and tail
    always give it, `events` has no incidents).
    """
    streams: dict[str, dict[str, Any]] = {}
    for (source, service, fmt), n in sorted(tally.by_stream.items()):
        entry = streams.setdefault(f"{source} [{service}]", {"source": source, "service": service, "formats": {}})
        entry["formats"][fmt] = n
    for entry in streams.values():
        entry["format"] = max(entry["formats"].items(), key=lambda kv: kv[1])[0]
    summary: dict[str, Any] = {
        "lines_read": diag.lines_read,
        "bytes_read": diag.bytes_read,  # this run's bytes: with scan --state, only what earlier runs had not read
        "resumed_bytes": diag.resumed_bytes,  # bytes earlier runs had read, not read again (scan --state)
        "held_bytes": diag.held_bytes,  # unfinished last lines left for the next run (scan --state)
        "records": tally.records,
        "blank_lines": diag.blank_lines,
        "events_by_format": dict(tally.by_format.most_common()),
        "events_by_service": dict(tally.by_service.most_common()),
        "streams": list(streams.values()),
        "altered_lines": diag.line_problems(),
        "unparsed_lines": sum(diag.unparsed.values()),
        "unparsed_reasons": dict(diag.unparsed),
        "time_range": [iso(tally.ts_min), iso(tally.ts_max)],  # ISO 8601 UTC ("Z"), like every time in a report
        "warnings": diag.source_warnings() + diag.warnings,
        "errors": diag.errors,
    }
    if ignored is not None:
        summary["ignored_incidents"] = ignored
    return summary


def print_summary(
    console: Console, diag: Diagnostics, tally: Tally, ignored: int | None = None, warnings: bool = True,
    redactor: Redactor | None = None, problems: bool = True,
) -> None:
    """Human summary: counts, formats per stream, incidents ignored by config rules, every warning and error.

    `warnings=False` (`scan --quiet`) leaves the warnings out; errors are always printed. `problems=False`
    leaves out both (the commands print them on stderr, analyzer.commands.steps.report_problems, when the
    summary goes to stdout). Names and warnings pass through `redactor` (default: control sequences removed,
    nothing masked) and are never read as markup.
    """
    s = (redactor or Redactor(enabled=False)).data(summary_dict(diag, tally, ignored))
    console.print(
        f"[bold]lines read[/] {s['lines_read']:,}  [bold]bytes[/] {s['bytes_read']:,}  "
        f"[bold]records[/] {s['records']:,}  [bold]blank lines[/] {s['blank_lines']:,}  "
        f"[bold]unparsed[/] {s['unparsed_lines']:,}"
    )
    if s["resumed_bytes"] or s["held_bytes"]:
        console.print(f"[bold]incremental[/] {s['resumed_bytes']:,} bytes read by earlier runs skipped, "
                      f"{s['held_bytes']:,} bytes of unfinished last lines left for the next run")
    if s["time_range"][0]:
        console.print(f"[bold]time range[/] {s['time_range'][0]} → {s['time_range'][1]}")
    sources = {entry["source"] for entry in s["streams"]}
    one_source = len(sources) == 1
    table = Table(title=f"streams of {escape(next(iter(sources)))}" if one_source else "streams",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, header_style="bold")
    if not one_source:
        table.add_column("source", overflow="fold", ratio=2)
    table.add_column("service", no_wrap=True)
    table.add_column("format", no_wrap=True)
    table.add_column("events", overflow="fold", ratio=1)
    for entry in s["streams"]:
        detail = ", ".join(f"{k} {v:,}" for k, v in entry["formats"].items())
        cells = [Text(entry["service"]), entry["format"], detail]
        table.add_row(*([] if one_source else [Text(entry["source"])]), *cells)
    if s["streams"]:
        console.print(table)
    console.print("[bold]events per format[/] " + ", ".join(f"{k} {v:,}" for k, v in s["events_by_format"].items()))
    console.print("[bold]events per service[/] " + escape(", ".join(f"{k} {v:,}" for k, v in s["events_by_service"].items())))
    if ignored:
        console.print(f"[bold]ignored incidents[/] {ignored:,} (config {escape('[[ignore]]')} rules; `logscan config` lists them)",
                      highlight=False)
    for reason, n in {**s["altered_lines"], **s["unparsed_reasons"]}.items():
        console.print(f"[yellow]{reason}:[/] {n:,}")
    if not problems:
        return
    for line in s["warnings"] if warnings else ():
        console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)
    for line in s["errors"]:
        console.print(f"[red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
