"""Terminal report (rich): a first screen that says what broke, then the rest as a compact table.

The first screen: how many incidents of which severity, then the top `top` incidents in a few lines each
(what, why it ranks there, where: services and culprit, the first fix), then the others as one table.
`everything` (scan --all): the whole ranked table, then every incident in detail (cause, every fix step, an
example record, the request trace). Everything fits 80 columns.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from analyzer.report.model import causes_by_rank, request_name

TOP_DETAILS = 5
EXAMPLE_LINES = 12
STATUS_STYLE = {"new": "bold green", "regressed": "bold red"}  # `ongoing` needs no mark (scan --state)
SEVERITY_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def _short_time(iso: str | None) -> str:
    """`2026-11-23T10:43:23.424Z` -> `10:43:23` (the table's column; details show the full time)."""
    return iso[11:19] if iso else "—"


def _table(incidents: list[dict[str, Any]], ranks: dict[str, Any], title: str, full: bool = True) -> Table:
    """The ranked table; `full` adds last seen and score (scan --all)."""
    table = Table(title=title, title_justify="left", header_style="bold",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("incident", ratio=1, min_width=16)
    table.add_column("service", max_width=12, overflow="ellipsis", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("reqs", justify="right", no_wrap=True)
    if full:
        table.add_column("last seen", no_wrap=True)
        table.add_column("score", justify="right", no_wrap=True)
    for inc in incidents:
        title = Text(inc["title"])
        if inc.get("status") in STATUS_STYLE:
            title = Text.assemble((inc["status"].upper() + " ", STATUS_STYLE[inc["status"]]), title)
        title.append(f"  {inc['signature']}", style="dim")
        if inc["caused_by"]:
            causes = causes_by_rank(inc["caused_by"], ranks)
            title.append("  ← caused by " + ", ".join(f"#{ranks[f]}" for f in causes if f in ranks), style="magenta")
        cells = [
            str(inc["rank"]), Text(inc["severity"], style=SEVERITY_STYLE.get(inc["severity"], "")), title,
            Text(inc["service"] or ""), f"{inc['count']:,}", f"{inc['affected_requests']:,}",
        ]
        if full:
            cells += [_short_time(inc["last_seen"]), f"{inc['score']}"]
        table.add_row(*cells)
    return table


def _headline(incidents: list[dict[str, Any]]) -> Text:
    counts = {sev: sum(1 for i in incidents if i["severity"] == sev) for sev in SEVERITY_STYLE}
    text = Text(f"{len(incidents):,} incident{'s' if len(incidents) != 1 else ''}, most important first: ",
                style="bold")
    for n, (sev, count) in enumerate((s, c) for s, c in counts.items() if c):
        text.append(", " if n else "")
        text.append(f"{count:,} {sev}", style=SEVERITY_STYLE[sev])
    return text


def _brief(inc: dict[str, Any], ranks: dict[str, Any]) -> Table:
    """One incident in a few lines: what, why it ranks here, where (services, culprit), the first fix."""
    head = Text.assemble((f"{inc['rank']:>2} ", "bold"), (inc["severity"], SEVERITY_STYLE.get(inc["severity"], "")))
    title = Text()
    if inc.get("status") in STATUS_STYLE:
        title.append(inc["status"].upper() + " ", style=STATUS_STYLE[inc["status"]])
    title.append(inc["title"], style="bold")
    services = inc.get("services") or ([inc["service"]] if inc["service"] else [])
    where = Text(", ".join(services) or "—", style="cyan")
    if inc.get("culprit"):
        where.append(f" in {inc['culprit']}")
    where.append(f"  {inc['signature']}", style="dim")
    why = Text(inc.get("why") or f"{inc['count']:,} occurrence(s), {inc['affected_requests']:,} request(s) affected")
    if inc["caused_by"] and "caused by" not in why.plain:
        known = [f"#{ranks[f]}" for f in causes_by_rank(inc["caused_by"], ranks) if ranks.get(f) is not None]
        if known:
            why.append("  ← caused by " + ", ".join(known), style="magenta")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, width=11)
    grid.add_column(overflow="fold", ratio=1)
    grid.add_row(head, title)
    grid.add_row(Text("   why", style="bold"), why)
    grid.add_row(Text("   where", style="bold"), where)
    if inc["fix"]:
        grid.add_row(Text("   fix", style="bold green"), Text(inc["fix"][0]))
    elif inc.get("exception"):
        grid.add_row(Text("   error", style="bold"), Text(inc["exception"]))
    return grid


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
            f"{request_name(trace)}: {trace['method'] or ''} {trace['path'] or ''} → {trace['status'] or '?'}"
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


def render(console: Console, report: dict[str, Any], top: int = TOP_DETAILS, everything: bool = False) -> None:
    """The report on `console`: the first screen (`top` incidents in brief, the rest as a table), or with
    `everything` the full ranked table and every incident in detail."""
    incidents = report["incidents"]
    ranks = {i["fingerprint"]: i["rank"] for i in incidents}
    if not incidents:
        console.print("[green]No incidents found.[/]")
    elif everything:
        console.print(_table(incidents, ranks, "incidents, most important first"))
        for inc in incidents:
            console.print(_detail(inc))
    else:
        console.print(_headline(incidents))
        for inc in incidents[:top]:
            console.print()
            console.print(_brief(inc, ranks))
        rest = incidents[top:]
        if rest:
            console.print()
            console.print(_table(rest, ranks, f"the other {len(rest):,}", full=False))
        console.print(Text("--all: every incident with cause, fix steps, an example and its request trace",
                           style="dim"))
    if report.get("resolved"):
        console.print(_resolved(report["resolved"]))
