"""HTML report: one self-contained file to attach to a ticket, open offline, or print.

The summary of what was read, the ranked incidents table, one timeline of the top
incidents on a shared time axis (a cause and its symptoms line up), then a
section per incident: its own small chart, cause, fix steps, docs, captures,
durations, examples, the representative request trace and the affected request
IDs. Incidents the previous run had and this one has not (`resolved`) and the
`status` of each incident (new / ongoing / regressed) are shown when present.

Self-contained on purpose: inline CSS and inline SVG drawn here in Python, no
external script, style, font or image, and a Content-Security-Policy that
forbids fetching anything. No JavaScript chart library: bars and spans are a
few hundred bytes of SVG per incident, render at once, print sharply, stay
readable with scripts disabled, and leak nothing to a CDN. One small inline
script (allowed by its hash) sorts the incident table by any column, filters it
by severity, service and state, and opens every <details> before printing;
without scripts the table is simply in rank order.

Log text is hostile: everything from the report is HTML-escaped, and only
http(s) docs links become <a href>. The size stays bounded whatever the input
(top incidents in detail, capped examples, IDs, trace steps and chart columns).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from html import escape
from typing import Any

import orjson

from analyzer.report.model import causes_by_rank, request_name

TABLE_ROWS = 500  # incidents in the ranked table
TOP_DETAILS = 50  # incidents that get a detail section and a timeline row
EXAMPLES = 3  # example records per incident
EXAMPLE_CHARS = 4000  # longer records keep their head and their (more telling) tail
HEAD_LINES, TAIL_LINES = 6, 30  # the same for records of many lines
REQUEST_IDS = 20
TRAIL_STEPS = 30
MESSAGE_CHARS = 300  # one trace step's message
TITLE_CHARS = 300
CAPTURES = 20  # captured values shown, each clipped to VALUE_CHARS
VALUE_CHARS = 500
TEXT_CHARS = 2000  # a template, a warning
LIST_ITEMS = 50  # warnings, errors, streams, resolved incidents
TIMELINE_COLUMNS = 300  # shared axis: minutes are bucketed so a period of days stays small
BAR_MINUTES = 10  # a shorter period shows first-to-last spans only: per-minute bars would be one block
SMALL_COLUMNS = 120  # an incident's own chart

SHORT = "%m-%d %H:%M:%S"  # times in the table (the full value is in each one's title)
SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_COLOUR = {"critical": "#7f1d1d", "high": "#c2410c", "medium": "#a16207", "low": "#1d4ed8", "info": "#4b5563"}
TICK_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
                172800, 604800)

# Sorting and filtering of the incident table (rows carry their values in data-* attributes), and opening
# every <details> before printing. Values are read from attributes, never evaluated as HTML.
_SCRIPT = """(()=>{
addEventListener('beforeprint',()=>document.querySelectorAll('details').forEach(d=>d.open=true));
const table=document.getElementById('incident-table'),form=document.getElementById('incident-filters');
if(!table||!form)return;
const body=table.tBodies[0],note=document.getElementById('incident-shown');
form.hidden=false;
function apply(){
 const sev=+form.severity.value,svc=form.service.value,st=form.state.value;let shown=0;
 for(const row of body.rows){
  const ok=+row.dataset.sev>=sev&&(!svc||JSON.parse(row.dataset.services).includes(svc))&&(!st||row.dataset.state===st);
  row.hidden=!ok;shown+=ok;
 }
 note.textContent=shown+' of '+body.rows.length+' incidents shown';
}
form.addEventListener('change',apply);
table.tHead.addEventListener('click',e=>{
 const button=e.target.closest('button[data-key]');if(!button)return;
 const th=button.parentElement,key=button.dataset.key,num=button.dataset.type==='num';
 const dir=th.getAttribute('aria-sort')==='ascending'?'descending':'ascending';
 for(const other of table.tHead.rows[0].cells)other.removeAttribute('aria-sort');
 th.setAttribute('aria-sort',dir);
 const rows=[...body.rows].sort((x,y)=>{
  let a=x.dataset[key]||'',b=y.dataset[key]||'';if(num){a=+a;b=+b}
  return (a<b?-1:a>b?1:0)*(dir==='ascending'?1:-1)||(+x.dataset.rank)-(+y.dataset.rank);
 });
 for(const row of rows)body.appendChild(row);
});
apply();
})();"""

_CSS = """
:root{--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--soft:#f6f8fa}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#fff;
 max-width:1200px;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.3rem;margin-top:2rem;border-bottom:1px solid var(--line)}
h3{font-size:1.1rem;margin:.2rem 0 .4rem}h4{font-size:.95rem;margin:.9rem 0 .3rem}
a{color:#0b57d0}code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
pre{background:var(--soft);border:1px solid var(--line);padding:.6rem;overflow:auto;
 white-space:pre-wrap;overflow-wrap:anywhere}
.muted{color:var(--muted)}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dl.summary dt{font-weight:600}dl.summary dd{margin:0}
table{border-collapse:collapse;width:100%}
table.kv{width:auto;min-width:50%}
.wide{overflow-x:auto}
th,td{border-bottom:1px solid var(--line);padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:var(--soft)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.title{overflow-wrap:anywhere;min-width:16rem}
time{white-space:nowrap}
.badge{display:inline-block;padding:0 .45rem;border-radius:.7rem;font-size:.8em;font-weight:600;color:#fff;
 white-space:nowrap;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.sev-critical{background:#7f1d1d}.sev-high{background:#c2410c}.sev-medium{background:#a16207}
.sev-low{background:#1d4ed8}.sev-info{background:#4b5563}
.st-new{background:#047857}.st-ongoing{background:#4b5563}.st-regressed{background:#9d174d}
section.incident{border:1px solid var(--line);border-radius:.4rem;padding:.8rem 1rem;margin:1rem 0}
.meta{color:var(--muted);margin:.2rem 0}
svg{max-width:100%;height:auto;display:block}
svg text{font:11px system-ui,sans-serif;fill:var(--fg)}
ol,ul{margin:.2rem 0;padding-left:1.5rem}
ul.ids{columns:2 22rem;list-style:none;padding:0}
summary{cursor:pointer;font-weight:600}
button.sort{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit}
th[aria-sort=ascending] button.sort::after{content:" ▲"}th[aria-sort=descending] button.sort::after{content:" ▼"}
form.filters{margin:.4rem 0;display:flex;gap:1rem;flex-wrap:wrap;align-items:center}
.note{color:var(--muted);font-style:italic}
@media print{
 body{max-width:none;padding:0;font-size:11pt}
 th{background:none}
 pre{background:none;overflow:visible}
 section.incident{break-inside:avoid-page;border:none;border-top:1px solid var(--line);border-radius:0}
 a{color:inherit}
 svg .band{display:none}
 form.filters{display:none}
}
"""


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


# Nothing may be fetched; only this file's own style and script may run (injected ones could not).
_CSP = f"default-src 'none'; style-src {_sha256(_CSS)}; script-src {_sha256(_SCRIPT)}"


# -- small helpers ------------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    """HTML-escaped text of any value (None is empty)."""
    return escape("" if value is None else str(value), quote=True)


def _prose(text: Any) -> str:
    """Escaped signature prose, its `backtick` spans as <code> (safe: they are escaped first)."""
    return re.sub(r"`([^`\n]+)`", r"<code>\1</code>", _e(text))


def _plural(n: Any, word: str) -> str:
    return f"{_num(n)} {word}{'' if n == 1 else 's'}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip_record(text: str) -> str:
    """A long record keeps its first lines and its last (a traceback's last line names the error)."""
    lines = text.splitlines()
    if len(lines) > HEAD_LINES + TAIL_LINES + 1:
        hidden = len(lines) - HEAD_LINES - TAIL_LINES
        text = "\n".join([*lines[:HEAD_LINES], f"… {hidden:,} lines not shown …", *lines[-TAIL_LINES:]])
    if len(text) <= EXAMPLE_CHARS:
        return text
    head, tail = EXAMPLE_CHARS // 3, EXAMPLE_CHARS - EXAMPLE_CHARS // 3
    return f"{text[:head]}\n… {len(text) - head - tail:,} characters not shown …\n{text[-tail:]}"


def _num(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else str(value)


@lru_cache(maxsize=1 << 16)  # incidents' timelines share their minutes
def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _time(value: str | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """`2026-11-23T10:43:23.424000Z` as a readable <time> (full value in its title)."""
    parsed = _parse_time(value)
    if parsed is None:
        return "—"
    text = parsed.astimezone(UTC).strftime(fmt)
    return f'<time datetime="{_e(value)}" title="{_e(value)}">{text}</time>'


def _badge(kind: str, value: str) -> str:
    css = f"{kind}-{value}" if value.isalnum() else ""
    return f'<span class="badge {_e(css)}">{_e(value)}</span>'


def _severity(inc: dict[str, Any]) -> str:
    return _badge("sev", str(inc.get("severity") or "info"))


def _status(inc: dict[str, Any]) -> str:
    return _badge("st", str(inc["status"])) if inc.get("status") else ""


def _link(url: str) -> str:
    """A docs link: an <a> only for http(s); anything else (javascript:, data:) stays text."""
    if url.lower().startswith(("https://", "http://")):
        return f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(url)}</a>'
    return f"<code>{_e(url)}</code>"


def _anchor(inc: dict[str, Any]) -> str:
    return f"inc-{_e(inc['rank'])}"


def _more(shown: int, total: int, what: str) -> str:
    return f'<p class="note">… and {total - shown:,} more {what}.</p>' if total > shown else ""


# -- time axis ----------------------------------------------------------------------------------------------


class Axis:
    """A chart's period: whole minutes in at most `columns` columns, or exact seconds when under `min_minutes`."""

    def __init__(self, start: datetime, end: datetime, columns: int, min_minutes: int = 1) -> None:
        minute = start.replace(second=0, microsecond=0)
        minutes = math.ceil((end - minute).total_seconds() / 60)
        if minutes < min_minutes:  # too short for per-minute bars to say anything: spans only
            self.start, self.bucket, self.columns = start.replace(microsecond=0), 0, 0
            self.seconds = float(max(1, math.ceil((end - self.start).total_seconds())))
        else:
            self.start = minute
            self.bucket = math.ceil(max(1, minutes) / columns)  # minutes per column
            self.columns = math.ceil(max(1, minutes) / self.bucket)
            self.seconds = self.columns * self.bucket * 60.0
        self.end = self.start + timedelta(seconds=self.seconds)

    def fraction(self, when: datetime) -> float:
        return min(1.0, max(0.0, (when - self.start).total_seconds() / self.seconds))

    def counts(self, timeline: Iterable[dict[str, Any]]) -> list[int]:
        """The per-minute counts summed into this axis's columns (none when it has no columns)."""
        out = [0] * self.columns
        for point in timeline if self.columns else ():
            minute = _parse_time(point.get("minute"))
            if minute is None:
                continue
            col = int((minute - self.start).total_seconds() // (60 * self.bucket))
            if 0 <= col < self.columns:
                out[col] += int(point.get("count") or 0)
        return out

    def ticks(self) -> list[tuple[float, str]]:
        """At most 8 round times with their labels (seconds shown on short periods, dates on long ones)."""
        step = next((s for s in TICK_SECONDS if self.seconds / s <= 8), math.ceil(self.seconds / 8))
        if self.seconds > 300 * 86400:
            fmt = "%Y-%m-%d"
        elif self.seconds > 86400:
            fmt = "%m-%d" if step >= 86400 else "%m-%d %H:%M"
        else:
            fmt = "%H:%M:%S" if step < 60 else "%H:%M"
        epoch = self.start.timestamp()
        out = []
        t = math.ceil(epoch / step) * step
        while t <= epoch + self.seconds:
            when = datetime.fromtimestamp(t, UTC)
            out.append((self.fraction(when), when.strftime(fmt)))
            t += step
        return out


def _times(incidents: list[dict[str, Any]]) -> list[datetime]:
    """The times of the incidents drawn: the axis fits them, not the whole period read (which a quiet
    day of logs would stretch until every incident is a dot)."""
    values: list[str | None] = []
    for inc in incidents:
        values += [inc.get("first_seen"), inc.get("last_seen")]
        values += [point.get("minute") for point in inc.get("timeline") or []]
    return [t for t in (_parse_time(v) for v in values) if t is not None]


def _bars(counts: list[int], x0: float, width: float, y_base: float, height: float) -> str:
    """Bars as the strokes of one SVG path (heights relative to the largest count): about 16 bytes a bar."""
    peak = max(counts, default=0)
    if not peak:
        return ""
    col = width / len(counts)
    bar = min(col - (1 if col > 3 else 0), 40)
    strokes = "".join(
        f"M{x0 + (i + 0.5) * col:.1f} {y_base:g}v{-max(1.5, height * n / peak):.1f}" for i, n in enumerate(counts) if n
    )
    return f'<path d="{strokes}" stroke-width="{bar:.1f}" fill="none"/>'


# -- shared timeline ----------------------------------------------------------------------------------------

_W, _LABEL, _ROW, _TOP = 1100, 270, 22, 22  # width, label column, row height, axis labels (SVG units ≈ px)


def _timeline_row(inc: dict[str, Any], axis: Axis, y: float, ranks: dict[str, Any]) -> str:
    colour = SEVERITY_COLOUR.get(str(inc.get("severity")), SEVERITY_COLOUR["info"])
    plot = _W - _LABEL - 10
    label = f"#{inc['rank']} {inc.get('signature') or ''} · {inc.get('service') or '-'}"
    causes = [f"#{ranks[f]}" for f in causes_by_rank(inc.get("caused_by"), ranks) if f in ranks]
    if causes:
        label += " ← " + ", ".join(causes)
    title = _clip(str(inc.get("title") or ""), TITLE_CHARS)
    tip = f"#{inc['rank']} {title}\n{inc.get('first_seen') or '?'} → {inc.get('last_seen') or '?'}\ncount {inc.get('count')}"
    out = [f'<g><title>{_e(tip)}</title>',
           f'<text x="4" y="{y + 15}">{_e(_clip(label, 44))}</text>']
    first = _parse_time(inc.get("first_seen"))
    last = _parse_time(inc.get("last_seen")) or first
    if first and last:
        x1 = _LABEL + plot * axis.fraction(first)
        x2 = max(x1 + 2, _LABEL + plot * axis.fraction(last))
        thick = 2 if axis.columns else 5  # thin under bars, the whole mark without them
        out.append(f'<rect x="{x1:.1f}" y="{y + 14}" width="{x2 - x1:.1f}" height="{thick}" fill="{colour}"/>'
                   f'<circle cx="{x1:.1f}" cy="{y + 15.5}" r="3.5" fill="{colour}"/>')
    bars = _bars(axis.counts(inc.get("timeline") or []), _LABEL, plot, y + 14, 12)
    out.append(f'<g stroke="{colour}" stroke-opacity=".55">{bars}</g>')
    out.append("</g>")
    return "".join(out)


def _timeline(incidents: list[dict[str, Any]]) -> str:
    """Every incident given as one row on their period: when each began, lasted, and peaked."""
    if not incidents:
        return ""
    times = _times(incidents)
    if not times:
        return '<h2 id="timeline">Timeline</h2><p class="note">No record carries a time, so there is no timeline.</p>'
    axis = Axis(min(times), max(times), TIMELINE_COLUMNS, BAR_MINUTES)
    height = _TOP + _ROW * len(incidents) + 4
    plot = _W - _LABEL - 10
    ranks = {i["fingerprint"]: i["rank"] for i in incidents if "fingerprint" in i}
    svg = [(f'<svg id="timeline-chart" viewBox="0 0 {_W} {height}" width="{_W}" height="{height}" role="img" '
            'aria-labelledby="timeline-title"><title id="timeline-title">Incidents over time (UTC)</title>')]
    for n in range(0, len(incidents), 2):
        svg.append(f'<rect class="band" x="0" y="{_TOP + n * _ROW}" width="{_W}" height="{_ROW}" fill="#f6f8fa"/>')
    for frac, text in axis.ticks():
        x = _LABEL + plot * frac
        anchor = "end" if frac > 0.95 else "start" if frac < 0.05 else "middle"
        svg.append(f'<line x1="{x:.1f}" y1="{_TOP - 4}" x2="{x:.1f}" y2="{height}" stroke="#d0d7de"/>'
                   f'<text x="{x:.1f}" y="{_TOP - 8}" text-anchor="{anchor}">{_e(text)}</text>')
    for n, inc in enumerate(incidents):
        svg.append(_timeline_row(inc, axis, _TOP + n * _ROW, ranks))
    svg.append("</svg>")
    legend = "dot and line: first to last seen"
    if axis.bucket:
        per = "minute" if axis.bucket == 1 else f"{axis.bucket} minutes"
        legend += f"; bars: occurrences per {per}, relative to the incident's own peak"
    return (
        '<h2 id="timeline">Timeline</h2>'
        f'<p class="muted">{_time(axis.start.isoformat())} → {_time(axis.end.isoformat())} UTC; {legend}.</p>'
        + "".join(svg)
    )


def _small_chart(inc: dict[str, Any]) -> str:
    """The incident's own per-minute counts over its own period."""
    timeline = inc.get("timeline") or []
    minutes = [t for t in (_parse_time(p.get("minute")) for p in timeline) if t is not None]
    w, h, pad = 360, 64, 16
    label = f"Occurrences per minute of incident #{inc['rank']}"
    head = f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img"><title>{_e(label)}</title>'
    if not minutes:
        return head + f'<text x="4" y="{h / 2}">no timed occurrences</text></svg>'
    axis = Axis(min(minutes), max(minutes) + timedelta(minutes=1), SMALL_COLUMNS)
    counts = axis.counts(timeline)
    bars = _bars(counts, 0, w, h - pad, h - pad - 14)
    colour = SEVERITY_COLOUR.get(str(inc.get("severity")), SEVERITY_COLOUR["info"])
    per = "minute" if axis.bucket == 1 else f"{axis.bucket} min"
    end = axis.end.strftime("%H:%M") if axis.seconds < 86400 else axis.end.strftime("%m-%d %H:%M")
    start = axis.start.strftime("%H:%M") if axis.seconds < 86400 else axis.start.strftime("%m-%d %H:%M")
    return (
        head
        + f'<g stroke="{colour}">{bars}</g>'
        + f'<line x1="0" y1="{h - pad}" x2="{w}" y2="{h - pad}" stroke="#8c959f"/>'
        + f'<text x="0" y="10">peak {max(counts):,} per {per}</text>'
        + f'<text x="0" y="{h - 3}">{start}</text><text x="{w}" y="{h - 3}" text-anchor="end">{end} UTC</text>'
        + "</svg>"
    )


# -- summary and table --------------------------------------------------------------------------------------


def _counts(mapping: dict[str, Any] | None) -> str:
    """`api 610, db 30` (the first LIST_ITEMS entries, then how many more)."""
    items = list((mapping or {}).items())
    text = ", ".join(f"{_e(k)} {_num(v)}" for k, v in items[:LIST_ITEMS]) or "—"
    return text + (f" and {len(items) - LIST_ITEMS:,} more" if len(items) > LIST_ITEMS else "")


def _items(values: list[Any], what: str) -> str:
    shown = values[:LIST_ITEMS]
    lis = "".join(f"<li>{_e(_clip(str(v), TEXT_CHARS))}</li>" for v in shown)
    return f"<ul>{lis}</ul>{_more(len(shown), len(values), what)}"


def _summary(s: dict[str, Any]) -> str:
    start, end = (list(s.get("time_range") or []) + [None, None])[:2]
    rows = [
        ("Time range", f"{_time(start)} → {_time(end)} UTC"),
        ("Lines read", _num(s.get("lines_read"))),
        ("Records", _num(s.get("records"))),
        ("Services", _counts(s.get("events_by_service"))),
        ("Formats", _counts(s.get("events_by_format"))),
        ("Unparsed lines", _num(s.get("unparsed_lines"))
         + (f" ({_counts(s.get('unparsed_reasons'))})" if s.get("unparsed_reasons") else "")),
    ]
    if s.get("altered_lines"):
        rows.append(("Repaired lines", _counts(s["altered_lines"])))
    dl = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    out = [f'<h2 id="summary">Summary</h2><dl class="summary">{dl}</dl>']
    for key, title in (("warnings", "Warnings"), ("errors", "Errors")):
        if s.get(key):
            out.append(f"<h3>{title}</h3>{_items(s[key], key)}")
    streams = s.get("streams") or []
    if streams:
        lis = "".join(
            f"<li><code>{_e(st.get('source'))}</code> [{_e(st.get('service'))}]: {_e(st.get('format'))} "
            f"<span class=\"muted\">({_counts(st.get('formats'))})</span></li>"
            for st in streams[:LIST_ITEMS]
        )
        out.append(f"<details><summary>{len(streams):,} streams</summary><ul>{lis}</ul>"
                   f"{_more(min(len(streams), LIST_ITEMS), len(streams), 'streams')}</details>")
    return "".join(out)


def _caused_by(inc: dict[str, Any], by_print: dict[str, dict[str, Any]], detailed: set[Any]) -> str:
    links = []
    ranks = {fp: cause.get("rank") for fp, cause in by_print.items()}
    for fp in causes_by_rank(inc.get("caused_by"), ranks):
        cause = by_print.get(fp)
        if cause is None:
            links.append(f"<code>{_e(fp)}</code>")
        elif cause["rank"] in detailed:
            links.append(f'<a href="#{_anchor(cause)}">#{_e(cause["rank"])}</a>')
        elif cause["rank"] is not None and cause["rank"] <= TABLE_ROWS:
            links.append(f'<a href="#row-{_e(cause["rank"])}">#{_e(cause["rank"])}</a>')
        else:
            links.append(f"#{_e(cause['rank'])}")
    return ", ".join(links)


def _table_time_format(incidents: list[dict[str, Any]]) -> str:
    """Times only when every incident falls on one day (its date is in the summary), else month-day too."""
    days = {value[:10] for inc in incidents for value in (inc.get("first_seen"), inc.get("last_seen")) if value}
    return "%H:%M:%S" if len(days) <= 1 else SHORT


_SORTABLE = {  # column -> (data key, numeric)
    "#": ("rank", True), "severity": ("sev", True), "status": ("state", False), "incident · signature": ("title", False),
    "service": ("service", False), "count": ("count", True), "failed": ("failed", True), "requests": ("requests", True),
    "first seen": ("first", False), "last seen": ("last", False), "score": ("score", True),
}


def _th(name: str) -> str:
    numeric = name in {"#", "count", "failed", "requests", "score"}
    css = " class=num" if numeric else ""
    if name not in _SORTABLE:
        return f'<th scope="col"{css}>{name}</th>'
    key, is_num = _SORTABLE[name]
    kind = ' data-type="num"' if is_num else ""
    return f'<th scope="col"{css}><button type="button" class="sort" data-key="{key}"{kind}>{name}</button></th>'


def _level(severity: Any) -> int:
    """0 for info up to 4 for critical (what the filter compares)."""
    return len(SEVERITIES) - 1 - SEVERITIES.index(severity) if severity in SEVERITIES else 0


def _filters(incidents: list[dict[str, Any]], has_status: bool) -> str:
    """Filter controls (hidden until the script shows them: without scripts they could do nothing)."""
    services = sorted({str(s) for inc in incidents for s in inc.get("services") or [inc.get("service")] if s})
    severity = "".join(f'<option value="{_level(sev)}">{sev} and worse</option>' for sev in reversed(SEVERITIES))
    service = '<option value="">every service</option>' + "".join(
        f'<option value="{_e(s)}">{_e(_clip(s, 60))}</option>' for s in services[:LIST_ITEMS])
    states = "".join(f'<option value="{s}">{s}</option>' for s in ("new", "ongoing", "regressed"))
    state = f'<label>state <select name="state"><option value="">any</option>{states}</select></label>' \
        if has_status else '<input type="hidden" name="state" value="">'
    return (
        '<form id="incident-filters" class="filters" hidden>'
        f'<label>severity <select name="severity">{severity}</select></label> '
        f'<label>service <select name="service">{service}</select></label> {state} '
        '<output id="incident-shown" class="muted"></output></form>'
    )


def _row_data(inc: dict[str, Any]) -> str:
    """The row's values for sorting and filtering, as data-* attributes (escaped like any attribute)."""
    services = inc.get("services") or ([inc["service"]] if inc.get("service") else [])
    values = {
        "rank": inc["rank"], "sev": _level(inc.get("severity")), "state": inc.get("status") or "", "title": _clip(str(inc.get("title") or ""), 200),
        "service": inc.get("service") or "", "services": orjson.dumps([str(s) for s in services]).decode(),
        "count": inc.get("count") or 0, "failed": inc.get("failed_requests") or 0,
        "requests": inc.get("affected_requests") or 0, "first": inc.get("first_seen") or "",
        "last": inc.get("last_seen") or "", "score": inc.get("score") or 0,
    }
    return "".join(f' data-{k}="{_e(v)}"' for k, v in values.items())


def _services(inc: dict[str, Any]) -> str:
    """Where users felt it, then every other service that logged it, each with its occurrences."""
    counts = {c.get("service"): c.get("count") for c in inc.get("service_counts") or []}
    felt = inc.get("service")
    others = [s for s in inc.get("services") or [] if s != felt]
    out = _e(felt)
    if others:
        out += '<br><span class="muted">also ' + ", ".join(f"{_e(s)} ({_num(counts.get(s))})" for s in others[:5]) \
            + (f" and {len(others) - 5} more" if len(others) > 5 else "") + "</span>"
    return out


def _table(incidents: list[dict[str, Any]], by_print: dict[str, dict[str, Any]], detailed: set[Any]) -> str:
    """The ranked incidents, sortable and filterable; the signature id under each title."""
    has_status = any(inc.get("status") for inc in incidents)
    head = ["#", "severity", *(["status"] if has_status else []), "incident · signature", "service", "count",
            "failed", "requests", "first seen", "last seen", "score", "caused by"]
    ths = "".join(_th(h) for h in head)
    fmt = _table_time_format(incidents[:TABLE_ROWS])
    rows = []
    for inc in incidents[:TABLE_ROWS]:
        title = _e(_clip(str(inc.get("title") or ""), TITLE_CHARS))
        if inc["rank"] in detailed:
            title = f'<a href="#{_anchor(inc)}">{title}</a>'
        status = f"<td>{_status(inc)}</td>" if has_status else ""
        why = f'<br><span class="muted">{_e(_clip(str(inc["why"]), TITLE_CHARS))}</span>' if inc.get("why") else ""
        rows.append(
            f'<tr id="row-{_e(inc["rank"])}"{_row_data(inc)}><td class="num">{_e(inc["rank"])}</td><td>{_severity(inc)}</td>{status}'
            f'<td class="title">{title}<br><code class="muted">{_e(inc.get("signature"))}</code>{why}</td>'
            f'<td>{_services(inc)}</td><td class="num">{_num(inc.get("count"))}</td>'
            f'<td class="num">{_num(inc.get("failed_requests"))}</td>'
            f'<td class="num">{_num(inc.get("affected_requests"))}</td><td>{_time(inc.get("first_seen"), fmt)}</td>'
            f'<td>{_time(inc.get("last_seen"), fmt)}</td><td class="num">{_num(inc.get("score"))}</td>'
            f"<td>{_caused_by(inc, by_print, detailed)}</td></tr>"
        )
    return (
        f'<h2 id="incidents">Incidents, most important first</h2>{_filters(incidents[:TABLE_ROWS], has_status)}'
        f'<div class="wide"><table id="incident-table"><thead><tr>{ths}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{_more(min(len(incidents), TABLE_ROWS), len(incidents), 'incidents')}"
    )


def _resolved(items: list[dict[str, Any]]) -> str:
    """Incidents of the previous run that this run did not see again."""
    head = "".join(f"<th scope=col>{h}</th>" for h in ("severity", "incident", "signature", "service", "last seen",
                                                      "fingerprint"))
    rows = "".join(
        f"<tr><td>{_severity(r) if r.get('severity') else ''}</td>"
        f"<td>{_e(_clip(str(r.get('title') or ''), TITLE_CHARS))}</td><td><code>{_e(r.get('signature'))}</code></td>"
        f"<td>{_e(r.get('service'))}</td><td>{_time(r.get('last_seen'), SHORT)}</td>"
        f'<td class="mono">{_e(r.get("fingerprint"))}</td></tr>'
        for r in items[:TABLE_ROWS]
    )
    table = f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
    return (
        '<h2 id="resolved">Resolved since last run</h2>'
        + (table if items else '<p class="note">None.</p>')
        + _more(min(len(items), TABLE_ROWS), len(items), "resolved incidents")
    )


# -- incident details ---------------------------------------------------------------------------------------


def _kv_table(pairs: list[tuple[str, Any]]) -> str:
    rows = "".join(f'<tr><th scope="row">{_e(k)}</th><td class="mono">{_e(_clip(str(v), VALUE_CHARS))}</td></tr>'
                   for k, v in pairs[:CAPTURES] if v not in (None, ""))
    return f'<table class="kv">{rows}</table>' if rows else ""


def _durations(d: dict[str, Any] | None) -> str:
    if not d:
        return ""

    def ms(key: str) -> str:
        return "—" if d.get(key) is None else f"{d[key]:,} ms"

    route = f"route <code>{_e(d.get('route'))}</code> ({_num(d.get('route_requests'))} requests)" if d.get("route") \
        else "route"
    return (
        "<h4>Durations</h4><table class=\"kv\"><thead><tr><th scope=col></th><th scope=col class=num>p50</th>"
        "<th scope=col class=num>p95</th><th scope=col class=num>max</th></tr></thead><tbody>"
        f'<tr><th scope="row">this incident</th><td class="num">{ms("p50_ms")}</td><td class="num">{ms("p95_ms")}</td>'
        f'<td class="num">{ms("max_ms")}</td></tr>'
        f'<tr><th scope="row">{route}</th><td class="num">{ms("route_p50_ms")}</td>'
        f'<td class="num">{ms("route_p95_ms")}</td><td class="num">{ms("route_max_ms")}</td></tr></tbody></table>'
    )


def _example(ex: dict[str, Any]) -> str:
    where = f"{_e(ex.get('source'))}:{_e(ex.get('line_no'))}"
    return f'<p class="meta"><code>{where}</code> · {_time(ex.get("ts"))}</p><pre>{_e(_clip_record(str(ex.get("text") or "")))}</pre>'


def _examples(examples: list[dict[str, Any]]) -> str:
    if not examples:
        return ""
    out = ["<h4>Example</h4>", _example(examples[0])]
    rest = examples[1:EXAMPLES]
    if rest:
        out.append(f"<details><summary>{len(rest)} more example{'s' if len(rest) > 1 else ''}</summary>"
                   + "".join(_example(ex) for ex in rest) + "</details>")
    return "".join(out)


def _trace(trace: dict[str, Any] | None) -> str:
    if not trace:
        return ""
    trail = trace.get("trail") or []
    head = (
        f"{request_name(trace, lambda text: f'<code>{_e(text)}</code>')}: {_e(trace.get('method'))} <code>{_e(trace.get('path'))}</code> → "
        f"{_e(trace.get('status') or '?')} in {_e(trace.get('duration_ms') or '?')} ms, "
        f"services {_e(', '.join(map(str, trace.get('services') or [])))}"
    )
    rows = "".join(
        f"<tr><td>{_time(step.get('ts'))}</td><td>{_e(step.get('service'))}</td><td>{_e(step.get('level') or '-')}</td>"
        f'<td class="mono">{_e(_clip(str(step.get("message") or ""), MESSAGE_CHARS))}</td></tr>'
        for step in trail[:TRAIL_STEPS]
    )
    table = (f"<table><thead><tr><th scope=col>time</th><th scope=col>service</th><th scope=col>level</th>"
             f"<th scope=col>message</th></tr></thead><tbody>{rows}</tbody></table>" if rows else "")
    return (f"<h4>Request trace</h4><details open><summary>{head}</summary>{table}"
            f"{_more(min(len(trail), TRAIL_STEPS), len(trail), 'steps')}</details>")


def _request_ids(inc: dict[str, Any]) -> str:
    ids = inc.get("request_ids") or []
    total = max(int(inc.get("affected_requests") or 0), len(ids))
    if not ids:
        return ""
    shown = ids[:REQUEST_IDS]
    lis = "".join(f"<li><code>{_e(rid)}</code></li>" for rid in shown)
    return (f"<details><summary>{total:,} affected request{'s' if total != 1 else ''}</summary>"
            f'<ul class="ids">{lis}</ul>{_more(len(shown), total, "requests")}</details>')


def _detail(inc: dict[str, Any], by_print: dict[str, dict[str, Any]], detailed: set[Any]) -> str:
    meta = (
        f"<code>{_e(inc.get('signature'))}</code> · {_e(inc.get('role'))} · service <b>{_e(inc.get('service'))}</b> · "
        f"{_plural(inc.get('count'), 'occurrence')} · {_plural(inc.get('affected_requests'), 'request')} · "
        f"{_time(inc.get('first_seen'))} → {_time(inc.get('last_seen'))} · score {_num(inc.get('score'))}"
    )
    out = [
        f'<section class="incident" id="{_anchor(inc)}" aria-labelledby="{_anchor(inc)}-h">',
        f'<h3 id="{_anchor(inc)}-h">#{_e(inc["rank"])} {_severity(inc)} {_status(inc)} {_e(_clip(str(inc.get("title") or ""), TITLE_CHARS))}</h3>',
        f'<p class="meta">{meta}</p>',
    ]
    if inc.get("why"):
        out.append(f'<p class="meta">Ranked here: {_e(inc["why"])}</p>')
    if len(inc.get("services") or []) > 1:
        out.append(f"<p><b>Seen by</b> {_services(inc)}</p>")
    if inc.get("culprit"):
        out.append(f"<p><b>Culprit</b> <code>{_e(inc['culprit'])}</code></p>")
    if inc.get("caused_by"):
        out.append(f"<p><b>Caused by</b> {_caused_by(inc, by_print, detailed)}</p>")
    out.append(_small_chart(inc))
    if inc.get("template"):
        out.append(f"<h4>Template</h4><pre>{_e(_clip(str(inc['template']), TEXT_CHARS))}</pre>")
    if inc.get("cause"):
        out.append(f"<h4>Cause</h4><p>{_prose(inc['cause'])}</p>")
    if inc.get("fix"):
        out.append("<h4>Fix</h4><ol>" + "".join(f"<li>{_prose(step)}</li>" for step in inc["fix"]) + "</ol>")
    if inc.get("docs"):
        out.append("<h4>Docs</h4><ul>" + "".join(f"<li>{_link(str(url))}</li>" for url in inc["docs"]) + "</ul>")
    captures = [("key", inc.get("key")), *sorted((inc.get("captures") or {}).items())]
    if any(v not in (None, "") for _, v in captures):
        out.append("<h4>Captures</h4>" + _kv_table(captures))
    out += [_durations(inc.get("durations")), _examples(inc.get("examples") or []), _trace(inc.get("trace")),
            _request_ids(inc), "</section>"]
    return "".join(out)


# -- document -----------------------------------------------------------------------------------------------


def _headline(incidents: list[dict[str, Any]]) -> str:
    if not incidents:
        return '<p class="lead">No incidents found.</p>'
    by_severity = {sev: sum(1 for i in incidents if i.get("severity") == sev) for sev in SEVERITIES}
    parts = ", ".join(f"{_badge('sev', sev)} {n:,}" for sev, n in by_severity.items() if n)
    return f'<p class="lead">{len(incidents):,} incident{"s" if len(incidents) != 1 else ""}: {parts}</p>'


def render(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML document."""
    incidents = report.get("incidents") or []
    top = incidents[:TOP_DETAILS]
    detailed = {inc["rank"] for inc in top}
    by_print = {i["fingerprint"]: i for i in incidents if "fingerprint" in i}
    body = [
        "<header><h1>logscan report</h1>",
        f'<p class="muted">Generated {_time(report.get("generated_at"))} UTC · schema {_e(report.get("schema"))}</p>',
        _headline(incidents),
        "</header><main>",
        _summary(report.get("summary") or {}),
    ]
    if incidents:
        body.append(_table(incidents, by_print, detailed))
    if "resolved" in report:
        body.append(_resolved(report.get("resolved") or []))
    body.append(_timeline(top))
    if len(incidents) > len(top):
        body.append(f'<p class="note">The timeline and the details show the top {len(top)} of {len(incidents):,} '
                    "incidents.</p>")
    if top:
        body.append('<h2 id="details">Details</h2>')
        body += [_detail(inc, by_print, detailed) for inc in top]
    body.append("</main>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        "<title>logscan report</title>"
        f"<style>{_CSS}</style></head><body>"
        + "".join(body)
        + f"<script>{_SCRIPT}</script></body></html>\n"
    )
