"""`logscan scan` on every real sample, judged by the generator's own record of what it injected.

For each sample file: every injected problem is exactly one incident with the
right signature, every service that logged it, its affected request IDs (≥ 90 %
of the requests the generator made fail that way, ≤ 10 % others) and its count
of occurrences (within 10 % of the generator's, where the file holds every
service that saw it), and nothing else is reported. Services: compose and
Docker files name them (api, db, ...); a plain file's service is its name
(`api-text.log` -> `api-text`).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
from conftest import ROOT

MANIFEST = json.loads((ROOT / "samples" / "manifest.json").read_text())
FILES = {f["path"]: f for f in MANIFEST["files"]}


def service_name(path: str, service: str) -> str | None:
    """The service logscan names: compose/Docker's (a container without config.v2.json: its short id);
    None for a plain file, whose service is its own name."""
    if FILES[path]["wrapping"] == "none":
        return None
    if FILES[path]["wrapping"] == "docker-json-file" and not (ROOT / path).with_name("config.v2.json").exists():
        return Path(path).parent.name[:12]
    return service


def expected_incidents(path: str) -> list[dict]:
    """The generator's problems in `path`, each with the services logscan should list for it there.

    Runs that provoked the same problem (one signature, one exception) in one file are one problem:
    their occurrences add up and their requests join.
    """
    out: dict[tuple[str, str | None], dict] = {}
    for inc in MANIFEST["incidents"]:
        if path not in inc["files"]:
            continue
        seen_in = inc.get("seen_in", {inc["service"]: inc["files"]})
        sides = [s for s, files in seen_in.items() if path in files] or [inc["service"]]
        whole = len(sides) == len(seen_in)  # every service that saw it is in this file
        problem = (inc["signature"], inc.get("exception"))
        if problem not in out:
            out[problem] = {**inc, "services": set(), "whole": True, "occurrences": 0, "request_ids": []}
        merged = out[problem]
        merged["services"] |= {service_name(path, side) for side in sides}
        merged["whole"] &= whole
        merged["occurrences"] += inc["occurrences"]
        merged["request_ids"] += inc.get("request_ids") or []
    return list(out.values())


@cache
def scan(path: str) -> dict:
    from typer.testing import CliRunner

    from analyzer.commands.app import app

    result = CliRunner().invoke(app, ["scan", str(ROOT / path), "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def same(found: dict, want: dict) -> bool:
    if found["signature"] != want["signature"]:
        return False
    named = {s for s in want["services"] if s is not None}
    if named and not named <= set(found["services"]):
        return False
    if want["signature"] == "unknown":
        return want["exception"].rsplit(".", 1)[-1] in (found["exception"] or found["template"] or "")
    return True


@pytest.mark.parametrize("path", sorted(FILES))
def test_every_injected_incident_is_found_and_nothing_else(path):
    report = scan(path)
    found = report["incidents"]
    wanted = expected_incidents(path)
    matches = {i: [f for f in found if same(f, w)] for i, w in enumerate(wanted)}
    shown = [(f["signature"], f["services"], f["count"]) for f in found]
    not_one = [(w["signature"], w["services"], len(matches[i])) for i, w in enumerate(wanted) if len(matches[i]) != 1]
    assert not not_one, f"not exactly one incident: {not_one}; found: {shown}"
    extra = [(f["signature"], f["services"], f["template"]) for f in found if not any(same(f, w) for w in wanted)]
    assert not extra, f"not injected: {extra}"
    miscounted = [
        (w["signature"], w["occurrences"], matches[i][0]["count"]) for i, w in enumerate(wanted)
        if w["whole"] and abs(matches[i][0]["count"] - w["occurrences"]) > 0.1 * w["occurrences"]
    ]
    assert not miscounted, f"count off by more than 10 % (signature, planted, counted): {miscounted}"


@pytest.mark.parametrize("path", sorted(FILES))
def test_affected_requests_are_the_ones_that_failed(path):
    text = (ROOT / path).read_bytes().decode("utf-8", "replace") if not path.endswith(".gz") else ""
    in_file = set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text))
    report = scan(path)
    checked = 0
    for want in expected_incidents(path):
        expected = set(want.get("request_ids") or []) & in_file
        if not expected:
            continue  # this file cannot show which requests failed (e.g. the database's own log)
        got = {r for f in report["incidents"] if same(f, want) for r in f["request_ids"]}
        found = len(expected & got) / len(expected)
        others = len(got - expected) / len(expected)
        assert found >= 0.9 and others <= 0.1, (want["signature"], want["services"], sorted(expected - got), sorted(got - expected))
        checked += 1
    if any(w.get("request_ids") for w in expected_incidents(path)) and in_file:
        assert checked


def test_cause_ranks_above_its_symptoms_on_the_mixed_compose_sample():
    incidents = scan("samples/compose/compose.log")["incidents"]
    by_print = {i["fingerprint"]: i for i in incidents}
    linked = [i for i in incidents if i["caused_by"]]
    assert linked, "no symptom names its cause"
    for symptom in linked:
        assert len(symptom["caused_by"]) <= 3
        for cause in symptom["caused_by"]:
            assert by_print[cause["fingerprint"]]["rank"] < symptom["rank"]
            assert cause["declared"] or cause["shared_requests"] > 0
            assert cause["overlap_seconds"] >= 0 and cause["gap_seconds"] >= 0


def test_report_contract():
    report = scan("samples/compose/compose.log")
    assert report["schema"] == "logscan.report/2"
    assert {"lines_read", "records", "events_by_format", "unparsed_lines", "time_range"} <= set(report["summary"])
    keys = {"rank", "fingerprint", "signature", "title", "severity", "role", "why", "service", "services",
            "service_counts", "count", "records", "first_seen", "last_seen", "request_ids", "affected_requests",
            "failed_requests", "score", "caused_by", "exception", "culprit", "cause", "fix", "docs", "examples",
            "template"}
    for inc in report["incidents"]:
        assert keys <= set(inc)
        assert inc["affected_requests"] >= len(inc["request_ids"])
        assert inc["affected_requests"] >= inc["failed_requests"]
        assert inc["service"] in inc["services"]
        assert [s["service"] for s in inc["service_counts"]] == inc["services"]
        assert inc["records"] >= inc["count"] >= max(s["count"] for s in inc["service_counts"])
        assert (inc["signature"] == "unknown") == (inc["template"] is not None)
    assert [i["rank"] for i in report["incidents"]] == list(range(1, len(report["incidents"]) + 1))


def test_compose_on_stdin_gives_the_same_incidents():
    from typer.testing import CliRunner

    from analyzer.commands.app import app

    data = Path(ROOT / "samples/compose/compose.log").read_bytes()
    result = CliRunner().invoke(app, ["scan", "-", "--format", "json"], input=data, catch_exceptions=False)
    piped = json.loads(result.stdout)["incidents"]
    direct = scan("samples/compose/compose.log")["incidents"]
    assert [(i["signature"], i["service"], i["count"]) for i in piped] == [
        (i["signature"], i["service"], i["count"]) for i in direct
    ]
