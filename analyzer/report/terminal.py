"""Terminal report (rich): the ranked table, then the top incidents with cause, fix, example and trace."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from analyzer.report.model import causes_by_rank

TOP_DETAILS = 5
EXAMPLE_LINES = 12
STATUS_STYLE = {"new": "bold green", "regressed": "bold red"}  # `ongoing` needs no mark (scan --state)
SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def _short_time(iso: str | None) -> str:
    """`2026-11-23T10:43:23.424Z` -> `10:43:23` (the table's column; details show the full time)."""
    return iso[11:19] if iso else "—"


def _table(incidents: list[dict[str, Any]]) -> Table:
    table = Table(title="incidents, most important first", title_justify="left", header_style="bold",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("incident", ratio=1, min_width=16)
    table.add_column("service", max_width=12, overflow="ellipsis", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("reqs", justify="right", no_wrap=True)
    table.add_column("last seen", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    ranks = {i["fingerprint"]: i["rank"] for i in incidents}
    for inc in incidents:
        title = Text(inc["title"])
        if inc.get("status") in STATUS_STYLE:
            title = Text.assemble((inc["status"].upper() + " ", STATUS_STYLE[inc["status"]]), title)
        title.append(f"  {inc['signature']}", style="dim")
        if inc["caused_by"]:
            causes = causes_by_rank(inc["caused_by"], ranks)
            title.append("  ← caused by " + ", ".join(f"#{ranks[f]}" for f in causes if f in ranks), style="magenta")
        table.add_row(
            str(inc["rank"]), Text(inc["severity"], style=SEVERITY_STYLE.get(inc["severity"], "")), title,
            Text(inc["service"] or ""), f"{inc['count']:,}", f"{inc['affected_requests']:,}", _short_time(inc["last_seen"]),
            f"{inc['score']}",
        )
    return table


def _example(text: str) -> Text:
    lines = text.splitlines()
    shown = lines if len(lines) <= EXAMPLE_LINES else [*lines[:3], "  …", *lines[-(EXAMPLE_LINES - 4):]]
    return Text("\n".join(shown), style="dim")


def _detail(inc: dict[str, Any]) -> Panel:
    parts: list[Any] = []
    head = Text(f"count {inc['count']:,}, {inc['affected_requests']:,} requests affected, "
                f"{inc['first_seen'] or '—'} → {inc['last_seen'] or '—'}")
    parts.append(head)
    if inc["template"]:
        parts.append(Text("template: " + inc["template"], style="italic"))
    parts.append(Text.assemble(("cause  ", "bold"), inc["cause"] or ""))
    for n, step in enumerate(inc["fix"], 1):
        parts.append(Text.assemble((f"fix {n}  ", "bold green"), step))
    if inc["examples"]:
        ex = inc["examples"][0]
        parts.append(Text(f"example {ex['source']}:{ex['line_no']}", style="bold"))
        parts.append(_example(ex["text"]))
    trace = inc["trace"]
    if trace:
        parts.append(Text(
            f"request {trace['request_id']}: {trace['method'] or ''} {trace['path'] or ''} → {trace['status'] or '?'}"
            f" in {trace['duration_ms'] or '?'} ms ({', '.join(trace['services'])})", style="bold"))
        for e in trace["trail"][:8]:
            parts.append(Text(f"  {e['ts'] or '-'} {e['service']} {e['level'] or '-'} {e['message']}", style="dim"))
    title = Text.assemble((f"#{inc['rank']} ", "bold"), (inc["severity"], SEVERITY_STYLE.get(inc["severity"], "")),
                          f"  {inc['title']}  ", (inc["service"] or "", "cyan"))
    return Panel(Group(*parts), title=title, title_align="left")


def _resolved(items: list[dict[str, Any]]) -> Text:
    """Incidents of the last run (scan --state) not seen in this one."""
    text = Text("resolved since the last run:", style="bold green")
    for item in items:
        text.append(f"\n  {item['title']}  ", style="")
        text.append(f"{item['signature']} on {item['service'] or '—'}, last seen {item['last_seen'] or '—'}", style="dim")
    return text


def render(console: Console, report: dict[str, Any]) -> None:
    incidents = report["incidents"]
    if not incidents:
        console.print("[green]No incidents found.[/]")
    else:
        console.print(_table(incidents))
        for inc in incidents[:TOP_DETAILS]:
            console.print(_detail(inc))
    if report.get("resolved"):
        console.print(_resolved(report["resolved"]))
