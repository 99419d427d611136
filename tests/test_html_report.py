"""The self-contained HTML report: escaping, no external resources, charts, caps, and a real browser."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser import open_page, require_chromium
from conftest import ROOT

from analyzer.report import html as html_report

COMPOSE = str(ROOT / "samples/compose/compose.log")
ARTIFACTS = ROOT / "tests/artifacts"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;"\''
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _timeline(minutes: int, start: datetime = START) -> list[dict[str, Any]]:
    return [{"minute": _iso(start + timedelta(minutes=m)), "count": 1 + m % 7} for m in range(minutes)]


def _incident(rank: int, **fields: Any) -> dict[str, Any]:
    """One incident of the report model (logscan.report/2), with a one-minute timeline."""
    inc = {
        "rank": rank, "fingerprint": f"fp{rank:04d}", "signature": "deadlock", "title": f"Deadlock number {rank}",
        "severity": "high", "role": "cause", "service": "db", "count": 3, "first_seen": _iso(START),
        "last_seen": _iso(START + timedelta(seconds=30)), "request_ids": ["r1", "r2"], "affected_requests": 2,
        "score": 40.0, "caused_by": [], "cause": "Two transactions wait on each other.", "fix": ["Lock in order."],
        "docs": ["https://www.postgresql.org/docs/current/explicit-locking.html"],
        "examples": [{"source": "db.log", "line_no": 7, "ts": _iso(START), "text": "ERROR:  deadlock detected"}],
        "template": None, "key": "", "captures": {}, "timeline": _timeline(1), "durations": None, "trace": None,
    }
    inc.update(fields)
    return inc


def _report(incidents: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    report = {
        "schema": "logscan.report/2", "generated_at": _iso(START),
        "summary": {"lines_read": 10, "records": 9, "events_by_format": {"postgres": 9},
                    "events_by_service": {"db": 9}, "unparsed_lines": 0,
                    "time_range": [_iso(START), _iso(START + timedelta(minutes=1))], "warnings": []},
        "incidents": incidents,
    }
    report.update(fields)
    return report


def _scan_html(cli, tmp_path: Path) -> Path:
    target = tmp_path / "report.html"
    result = cli("scan", COMPOSE, "--format", "html", "-o", str(target))
    assert result.exit_code == 0, result.output
    return target


def test_hostile_log_text_renders_as_text():
    trace = {"request_id": HOSTILE, "services": [HOSTILE], "method": "GET", "path": HOSTILE, "status": 500,
             "duration_ms": 1.0, "trail": [{"ts": _iso(START), "service": HOSTILE, "level": "error", "message": HOSTILE}]}
    inc = _incident(
        1, title=HOSTILE, signature="unknown", service=HOSTILE, template=HOSTILE, key=HOSTILE, cause=f"`{HOSTILE}`",
        fix=[HOSTILE], captures={HOSTILE: HOSTILE}, request_ids=[HOSTILE], status=HOSTILE,
        docs=["javascript:alert(1)", HOSTILE],
        examples=[{"source": HOSTILE, "line_no": 1, "ts": None, "text": f"</pre>{HOSTILE}\n</textarea>"}], trace=trace,
    )
    summary = {**_report([])["summary"], "warnings": [HOSTILE], "events_by_service": {HOSTILE: 1}}
    html = html_report.render(_report([inc], summary=summary,
                                      resolved=[{"title": HOSTILE, "signature": HOSTILE, "service": HOSTILE}]))
    assert html.count("<script") == 1  # only the report's own print helper
    assert "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<code>&lt;script&gt;alert(" in html  # a `code` span of the cause, escaped first
    assert 'href="javascript:' not in html
    assert "</pre>&lt;script" not in html and "&lt;/pre&gt;&lt;script&gt;" in html


def test_only_docs_links_point_outside_the_file(cli, tmp_path):
    html = _scan_html(cli, tmp_path).read_text()
    report = json.loads(cli("scan", COMPOSE, "--format", "json").stdout)
    docs = {url for inc in report["incidents"] for url in inc["docs"]}
    assert not re.search(r"<(link|img|iframe|object|embed|audio|video|source)\b", html)
    assert not re.search(r"\bsrc\s*=", html) and "@import" not in html and "url(" not in html
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith("#") or href in docs, href
    assert re.findall(r'<a href="(http[^"]*)"', html) and "Content-Security-Policy" in html


def test_every_detailed_incident_has_a_chart_and_the_timeline_a_row():
    incidents = [_incident(r, timeline=_timeline(r)) for r in range(1, 6)]
    incidents.append(_incident(6, timeline=[], first_seen=None, last_seen=None))
    html = html_report.render(_report(incidents))
    assert html.count('<svg class="chart"') == 6 and "no timed occurrences" in html
    assert html.count('id="timeline-chart"') == 1
    for r in range(1, 7):
        assert f'<section class="incident" id="inc-{r}"' in html
        assert f'<text x="4" y="{22 + (r - 1) * 22 + 15}">#{r} deadlock' in html


def test_a_period_of_days_is_bucketed_into_at_most_300_columns():
    days = 10 * 24 * 60
    incidents = [_incident(1, timeline=_timeline(days), last_seen=_iso(START + timedelta(minutes=days)))]
    html = html_report.render(_report(incidents))
    chart = html[html.index('id="timeline-chart"'):]
    bars = re.search(r'<path d="([^"]*)"', chart)
    assert bars and 0 < bars.group(1).count("M") <= html_report.TIMELINE_COLUMNS
    assert "11-2" in chart  # ticks carry dates on long periods


def test_a_single_minute_still_draws_its_bar():
    html = html_report.render(_report([_incident(1, timeline=_timeline(1))]))
    small = html[html.index('<svg class="chart"'):]
    assert re.search(r'<path d="M[^"]+"', small) and "peak 1 per minute" in small


def test_status_badges_and_resolved_section():
    incidents = [_incident(1, status="new"), _incident(2, status="regressed"), _incident(3, status="ongoing")]
    resolved = [{"fingerprint": "old1", "signature": "pool_exhausted", "title": "Pool exhausted", "service": "api",
                 "last_seen": _iso(START)}]
    html = html_report.render(_report(incidents, resolved=resolved))
    assert 'class="badge st-new"' in html and 'class="badge st-regressed"' in html and "st-ongoing" in html
    assert 'data-key="state">status</button>' in html
    assert "Resolved since last run" in html and "Pool exhausted" in html and "old1" in html


def test_without_status_or_resolved_there_is_neither():
    html = html_report.render(_report([_incident(1)]))
    assert ">status</button>" not in html and "Resolved since last run" not in html and "badge st-" not in html


def test_empty_report_renders():
    empty = _report([])
    empty["summary"]["time_range"] = [None, None]
    html = html_report.render(empty)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "No incidents found." in html and "<svg" not in html


def test_the_report_of_a_huge_input_stays_under_5_mb():
    big_text = "Traceback (most recent call last):\n" + "  File x.py, line 1, in f\n" * 20_000 + "ValueError: " + "v" * 50_000
    example = {"source": "app.log", "line_no": 1, "ts": _iso(START), "text": big_text}
    trail = [{"ts": _iso(START), "service": "api", "level": "error", "message": "m" * 5000} for _ in range(2000)]
    trace = {"request_id": "r", "services": ["api"], "method": "GET", "path": "/", "status": 500,
             "duration_ms": 1.0, "trail": trail}
    ids = [f"req-{n:08d}-{'x' * 30}" for n in range(10_000)]
    timeline = _timeline(3 * 24 * 60)
    incidents = [
        _incident(r, title="t" * 5000, signature="unknown", template="T" * 100_000, examples=[example] * 10,
                  trace=trace, request_ids=ids, affected_requests=250_000, timeline=timeline,
                  captures={f"c{n}": "v" * 10_000 for n in range(5)}, fix=["step"] * 10,
                  caused_by=[{"fingerprint": f"fp{n:04d}"} for n in range(1, 20)])
        for r in range(1, 1201)
    ]
    summary = {**_report([])["summary"], "warnings": ["w" * 10_000] * 10_000}
    html = html_report.render(_report(incidents, summary=summary, resolved=[{"title": "r" * 1000}] * 10_000))
    assert len(html.encode()) < 5_000_000
    assert "and 700 more incidents." in html  # the table keeps 500 rows
    assert "The timeline and the details show the top 50 of 1,200 incidents." in html
    assert "and 249,980 more requests." in html and "lines not shown" in html


def test_scan_format_html_writes_one_document(cli, tmp_path):
    html = _scan_html(cli, tmp_path).read_text()
    assert html.startswith("<!DOCTYPE html>") and "too_many_connections" in html
    assert 'id="timeline-chart"' in html and 'id="inc-1"' in html


def test_the_report_opens_in_a_real_browser_offline(cli, tmp_path):
    require_chromium()
    target = _scan_html(cli, tmp_path)
    top = json.loads(cli("scan", COMPOSE, "--format", "json").stdout)["incidents"][0]
    with open_page(target) as run:
        page = run.page
        heading = page.locator("#inc-1 h3")
        assert heading.is_visible() and top["title"] in heading.inner_text()
        assert page.get_by_role("link", name=top["title"]).first.is_visible()
        chart = page.locator("#timeline-chart")
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        assert chart.is_visible() and box and box["width"] > 100 and box["height"] > 50
        page.evaluate("dispatchEvent(new Event('beforeprint'))")  # the print helper runs under the CSP
        assert page.locator("details:not([open])").count() == 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "html-report.png"), full_page=True)
        assert run.requests == [target.resolve().as_uri()]
        assert run.errors == []


@pytest.mark.parametrize("severity", html_report.SEVERITIES)
def test_every_severity_has_a_badge_colour(severity):
    assert f".sev-{severity}{{" in html_report._CSS


def _visible_rows(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#incident-table tbody tr:not([hidden])",
        "rows => rows.map(r => ({rank: +r.dataset.rank, sev: +r.dataset.sev, count: +r.dataset.count,"
        " services: JSON.parse(r.dataset.services)}))",
    )


def test_the_incident_table_sorts_and_filters_in_the_page(cli, tmp_path):
    """In headless Chromium, offline: a column header sorts the table both ways; the severity and service
    filters hide the other rows and say how many are shown; nothing is fetched, nothing fails."""
    require_chromium()
    target = _scan_html(cli, tmp_path)
    incidents = json.loads(cli("scan", COMPOSE, "--format", "json").stdout)["incidents"]
    with open_page(target) as run:
        page = run.page
        assert [r["rank"] for r in _visible_rows(page)] == [i["rank"] for i in incidents]
        count_header = page.locator("#incident-table thead button[data-key=count]")
        count_header.click()
        ascending = [r["count"] for r in _visible_rows(page)]
        assert ascending == sorted(i["count"] for i in incidents)
        count_header.click()
        assert [r["count"] for r in _visible_rows(page)] == sorted(ascending, reverse=True)
        page.select_option("#incident-filters select[name=severity]", label="high and worse")
        high = [r for r in _visible_rows(page)]
        assert high and len(high) == sum(i["severity"] in ("high", "critical") for i in incidents)
        assert page.locator("#incident-shown").inner_text() == f"{len(high)} of {len(incidents)} incidents shown"
        page.select_option("#incident-filters select[name=severity]", label="info and worse")
        page.select_option("#incident-filters select[name=service]", value="db")
        db = _visible_rows(page)
        assert db and all("db" in r["services"] for r in db)
        assert len(db) == sum("db" in i["services"] for i in incidents) < len(incidents)
        assert run.requests == [target.resolve().as_uri()]
        assert run.errors == []
