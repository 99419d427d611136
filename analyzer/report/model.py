"""The report model: one JSON-ready dict that every sink renders (schema `logscan.report/2`).

    {"schema": "logscan.report/2", "generated_at": ..., "summary": {...},
     "incidents": [{"rank", "fingerprint", "signature", "title", "severity", "role", "why",
                    "service", "services", "service_counts", "count", "records", "first_seen", "last_seen",
                    "request_ids", "affected_requests", "failed_requests", "score", "caused_by",
                    "exception", "culprit", "cause", "fix", "docs", "examples", "template", "key",
                    "captures", "timeline", "durations", "trace", "status"?}],
     "resolved"?: [{"fingerprint", "signature", "title", "service", "severity", "last_seen"}]}

One failure is one incident, whichever services logged it: `services` lists
every service with evidence, `service_counts` the occurrences each saw, and
`service` is where users felt it. `count` is occurrences; `records` the log
records behind them. `failed_requests` is how many of `affected_requests`
ended in a 5xx.

`rank` orders incidents as analyzer.analysis.ranking explains (`why` says in
one line why an incident sits where it does); `caused_by` lists at most 3
direct causes, each `{"fingerprint", "declared", "shared_requests",
"overlap_seconds", "gap_seconds"}`: the evidence (a `leads_to` edge its
signature declares, requests both share, how long both ran, how far apart).

`exception` and `culprit` (null unless the incident groups exceptions) are the
traceback's last `Type: message` line and its innermost in-app frame
(`app/routes/promo.py in apply_promo`); exceptions without a signature, and
those of a signature keyed on them, group by type, masked message and culprit.

`status` and `resolved` are present only with `scan --state`/`--incremental`
(added by analyzer.state.history `History.annotate`; absent otherwise, never null).
`status` is the incident's state against the job's history: `new` (never seen
in a recorded run), `ongoing` (found by the previous run too) or `regressed`
(seen in an earlier run, not in the previous one, back now). The top-level
`resolved` lists the incidents the previous run found and this one did not
(in the previous run's order; `last_seen` is the one recorded then), at or above
the run's minimum severity.

`durations` (when the logs time requests): p50/p95/max of the incident's own
records, and of its route overall (`route_*`).

Times are ISO 8601 in UTC (or null). `request_ids` lists up to 10,000 affected
requests; `affected_requests` is always the true count. `trace` is one
representative request of the incident (null when none is known).

A service that logs no request IDs (plain uvicorn, hypercorn, Granian,
gunicorn's access log) still shows its failed (5xx) and refused (4xx) requests
in its access log: such a request is listed in `request_ids` as `access log
SOURCE:LINE` (where its access line is), and its `trace` has a null
`request_id` and that place in `access_line` (null for a request the
application named): a name logscan gave it, never shown as an ID the
application logged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from analyzer.vocabulary import SEEN_PREFIX

if TYPE_CHECKING:  # a report of no incidents (nothing was read) is built without Polars
    import polars as pl

    from analyzer.analysis.correlate import Traces


SCHEMA_ID = "logscan.report/2"

_INCIDENT_FIELDS = (
    "rank", "fingerprint", "signature", "title", "severity", "role", "why", "service", "services", "service_counts",
    "count", "records", "first_seen", "last_seen", "request_ids", "affected_requests", "failed_requests", "score",
    "caused_by", "exception", "culprit", "cause", "fix", "docs", "examples", "template", "key", "captures", "timeline",
    "durations", "trace",
)


def iso(value: Any) -> str | None:
    """ISO 8601 UTC text of a datetime (None stays None)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _step(line: str) -> dict[str, Any]:
    """One event of a trace's trail (stored as a JSON line), with its time in the report's ISO form."""
    step = orjson.loads(line)
    if step.get("ts"):
        step["ts"] = step["ts"].replace("+00:00", "Z")
    return step


def _trace(traces: Traces, request_ids: list[str]) -> dict[str, Any] | None:
    """The first of the incident's requests (of its first 50) whose trace is still known, or None."""
    candidates = request_ids[:50]
    found = traces.lookup(candidates)
    if found.height == 0:
        return None
    order = {rid: i for i, rid in enumerate(candidates)}
    row = min(found.iter_rows(named=True), key=lambda r: order[r["request_id"]])
    seen = row["request_id"].startswith(SEEN_PREFIX)
    return {
        "request_id": None if seen else row["request_id"],
        "access_line": row["request_id"].removeprefix(SEEN_PREFIX) if seen else None,
        "services": row["services"],
        "method": row["http_method"],
        "path": row["http_path"],
        "status": row["http_status"],
        "duration_ms": row["duration_ms"],
        "start": iso(row["start"]),
        "end": iso(row["end"]),
        "first_error": row["first_error"],
        "events": row["events"],
        "trail": [_step(line) for line in (row["trail"] or "").splitlines()],
    }


def request_name(trace: Mapping[str, Any], code: Callable[[str], str] = str) -> str:
    """How every report names a trace's request: by the ID the application logged, else as seen in the access log
    at its line (`code` marks the ID or the place up as the report's format does)."""
    if trace.get("access_line"):
        return f"request seen in the access log at {code(trace['access_line'])} (no request ID logged)"
    return f"request {code(str(trace['request_id']))}"


def _durations(row: dict[str, Any]) -> dict[str, Any] | None:
    """The incident's own request durations, and its route's usual ones, when the logs time requests."""
    if row["duration_max_ms"] is None and row.get("route_max_ms") is None:
        return None
    return {
        "p50_ms": row["duration_p50_ms"], "p95_ms": row["duration_p95_ms"], "max_ms": row["duration_max_ms"],
        "route": row.get("http_path"), "route_requests": row.get("route_requests"),
        "route_p50_ms": row.get("route_p50_ms"), "route_p95_ms": row.get("route_p95_ms"),
        "route_max_ms": row.get("route_max_ms"),
    }


def incident_dicts(incidents: pl.DataFrame | None, traces: Traces | None) -> list[dict[str, Any]]:
    """The report's incidents, in `incidents`' order (None: nothing was analyzed, so none)."""
    out: list[dict[str, Any]] = []
    if incidents is None:
        return out
    assert traces is not None
    for row in incidents.iter_rows(named=True):
        item = {name: row.get(name) for name in _INCIDENT_FIELDS}
        item["first_seen"], item["last_seen"] = iso(row["first_seen"]), iso(row["last_seen"])
        item["captures"] = orjson.loads(row["captures"] or "{}")
        item["examples"] = [{**e, "ts": iso(e["ts"])} for e in row["examples"] or []]
        item["timeline"] = [{"minute": iso(t["minute"]), "count": t["count"]} for t in row["timeline"] or []]
        item["durations"] = _durations(row)
        item["trace"] = _trace(traces, row["request_ids"] or [])
        out.append(item)
    return out


def causes_by_rank(caused_by: list[dict[str, Any]] | None, rank_of: Mapping[str, Any]) -> list[str]:
    """An incident's `caused_by` fingerprints in the order every report lists them: by the cause's rank
    (`rank_of`: fingerprint -> rank), then any cause not in the report, as given."""
    prints = list(dict.fromkeys(cause["fingerprint"] for cause in caused_by or []))
    known = sorted((fp for fp in prints if rank_of.get(fp) is not None), key=lambda fp: rank_of[fp])
    return known + [fp for fp in prints if rank_of.get(fp) is None]


def history_rows(incidents: pl.DataFrame | None) -> list[dict[str, Any]]:
    """What analyzer.state.history records and compares of each incident (cheap: no traces, examples or timelines);
    None: nothing was analyzed, no incident."""
    if incidents is None:
        return []
    return [
        {**row, "last_seen": iso(row["last_seen"])}
        for row in incidents.select("fingerprint", "signature", "title", "service", "severity", "last_seen")
        .iter_rows(named=True)
    ]


def build_report(summary: dict[str, Any], incidents: pl.DataFrame | None, traces: Traces | None) -> dict[str, Any]:
    """The report of `incidents` (None, with no traces: nothing was analyzed, a report of no incident)."""
    return {
        "schema": SCHEMA_ID,
        "generated_at": iso(datetime.now(UTC)),
        "summary": summary,
        "incidents": incident_dicts(incidents, traces),
    }
