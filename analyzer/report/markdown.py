"""Markdown report: pastes into a GitHub issue or a PR comment.

A ranked table first, then a section per incident with why it ranks there, the
services that logged it, the culprit of an exception, its cause, fix steps, one
example record and one request trace. Text from logs goes into fenced
blocks (fences longer than any backtick run inside), never into raw Markdown;
where it must stand in a line (titles, services, file names, request IDs and
routes, in headings and table cells) it is escaped (`_inline`): HTML's `<`, `>`
and `&` become entities, so a renderer that allows HTML shows a logged
`<img onerror=...>` instead of running it, and Markdown's own syntax
(emphasis, links, images, code, table pipes) is backslash-escaped. Only http(s)
docs links become links.
"""

from __future__ import annotations

import re
from typing import Any

from analyzer.report.model import causes_by_rank, request_name

TOP_DETAILS = 10  # incidents that get a full section


def _fence(text: str) -> str:
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


_MARKUP = re.compile(r"([\\`*_\[\]!~|#])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_PLAIN_ID = re.compile(r"[A-Za-z0-9_.:-]+")
_WEB_LINK = re.compile(r"https?://[^\s<>]+")


def _inline(value: Any) -> str:
    """Any text as literal inline Markdown, safe in a heading or a table cell (one line, nothing interpreted)."""
    text = " ".join(str(value if value is not None else "").splitlines())
    return "".join(_ENTITIES.get(ch, ch) for ch in _MARKUP.sub(r"\\\1", text))


def _code(value: Any) -> str:
    """An identifier as a code span; anything that is not a plain identifier as escaped text instead."""
    text = str(value if value is not None else "")
    return f"`{text}`" if _PLAIN_ID.fullmatch(text) else _inline(text)


def _link(url: str) -> str:
    return f"<{url}>" if _WEB_LINK.fullmatch(url) else _inline(url)


def _summary(s: dict[str, Any]) -> list[str]:
    start, end = s["time_range"]
    formats = ", ".join(f"{k} {v:,}" for k, v in s["events_by_format"].items())
    return [
        (
            f"**{s['lines_read']:,} lines** read, {s['records']:,} records, {s['unparsed_lines']:,} unparsed; "
            f"time range {start or '—'} → {end or '—'}."
        ),
        "",
        f"Formats: {formats or '—'}.",
        "",
    ]


def _services(inc: dict[str, Any]) -> str:
    """Where users felt it, then the other services that logged it with their occurrences."""
    counts = {c["service"]: c["count"] for c in inc.get("service_counts") or []}
    others = [s for s in inc.get("services") or [] if s != inc["service"]]
    also = ", ".join(f"{_inline(s)} {counts.get(s, 0):,}" for s in others)
    return _inline(inc["service"]) + (f" (also {also})" if also else "")


def _section(inc: dict[str, Any], by_print: dict[str, dict[str, Any]]) -> list[str]:
    out = [f"### {inc['rank']}. {_inline(inc['title'])}", ""]
    meta = f"{_code(inc['signature'])} · **{inc['severity']}** · {inc['role']} · service {_services(inc)} · "
    meta += f"{inc['count']:,} occurrences ({inc['records']:,} records) · {inc['affected_requests']:,} requests, "
    meta += f"{inc['failed_requests']:,} failed · score {inc['score']}"
    out += [meta, "", f"First seen {inc['first_seen']}, last seen {inc['last_seen']}.", ""]
    if inc.get("why"):
        out += [f"*Ranked here:* {_inline(inc['why'])}", ""]
    if inc.get("culprit"):
        out += [f"**Culprit:** {_inline(inc['culprit'])}", ""]
    if inc["caused_by"]:
        ranks = {fp: i["rank"] for fp, i in by_print.items()}
        names = ", ".join(f"#{by_print[f]['rank']} {_inline(by_print[f]['title'])}"
                          for f in causes_by_rank(inc["caused_by"], ranks) if f in by_print)
        out += [f"**Caused by:** {names}", ""]
    if inc["template"]:
        out += ["Template:", "", _fence(inc["template"]), ""]
    out += ["**Cause.** " + (inc["cause"] or ""), ""]
    if inc["fix"]:
        out += ["**Fix.**", "", *[f"{i}. {step}" for i, step in enumerate(inc["fix"], 1)], ""]
    if inc["docs"]:
        out += ["Docs: " + ", ".join(_link(d) for d in inc["docs"]), ""]
    if inc["examples"]:
        ex = inc["examples"][0]
        out += [f"Example ({_inline(ex['source'])}:{ex['line_no']}):", "", _fence(ex["text"]), ""]
    trace = inc["trace"]
    if trace:
        out += [
            (
                f"{_sentence(request_name(trace, _code))}: {_inline(trace['method'])} {_inline(trace['path'])} → "
                f"{trace['status'] or '?'} in {trace['duration_ms'] or '?'} ms, "
                f"services {_inline(', '.join(trace['services']))}"
            ),
            "",
            _fence("\n".join(f"{e['ts']} {e['service']} {e['level'] or '-'} {e['message']}" for e in trace["trail"])),
            "",
        ]
    return out


def _resolved(items: list[dict[str, Any]]) -> list[str]:
    """Incidents of the last run (scan --state) not seen in this one."""
    return ["## Resolved since the last run", "",
            *[f"- {_inline(i['title'])} {_code(i['signature'])} on {_inline(i['service'])}, "
              f"last seen {_inline(i['last_seen'] or '—')}"
              for i in items], ""]


def render(report: dict[str, Any]) -> str:
    incidents = report["incidents"]
    out = ["# logscan report", "", *_summary(report["summary"])]
    resolved = _resolved(report["resolved"]) if report.get("resolved") else []
    if not incidents:
        return "\n".join([*out, "No incidents found.", "", *resolved])
    out += [
        "| # | severity | incident | service | count | requests | first seen | last seen | score |",
        "|--:|---|---|---|--:|--:|---|---|--:|",
    ]
    ranks = {i["fingerprint"]: i["rank"] for i in incidents}
    for inc in incidents:
        status = f"**{inc['status']}** " if inc.get("status") in ("new", "regressed") else ""
        causes = [f"#{ranks[f]}" for f in causes_by_rank(inc["caused_by"], ranks) if f in ranks]
        title = status + _inline(inc["title"]) + (f" *(caused by {', '.join(causes)})*" if causes else "")
        out.append(
            f"| {inc['rank']} | {inc['severity']} | {title} {_code(inc['signature'])} | {_services(inc)} | "
            f"{inc['count']:,} | {inc['affected_requests']:,} | {inc['first_seen'] or '—'} | {inc['last_seen'] or '—'} | "
            f"{inc['score']} |"
        )
    out += ["", "## Incidents", ""]
    by_print = {i["fingerprint"]: i for i in incidents}
    for inc in incidents[:TOP_DETAILS]:
        out += _section(inc, by_print)
    return "\n".join([*out, *resolved])


def _sentence(text: str) -> str:
    """`text` starting with a capital (the rest as it is: it may hold an ID)."""
    return text[:1].upper() + text[1:]
