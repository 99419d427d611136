"""`logscan scan` flags, each shown in use on a real sample (sqlite-utils style)."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT

COMPOSE = str(ROOT / "samples/compose/compose.log")


def report(cli, *args):
    result = cli("scan", COMPOSE, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_text_report_first_screen_then_the_rest(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "220")
    incidents = report(cli)["incidents"]
    result = cli("scan", COMPOSE)
    assert result.exit_code == 0
    out = result.stdout
    assert f"{len(incidents)} incidents, most important first" in out
    for inc in incidents[:5]:  # the top 5 in brief: what, why, where, the first fix
        block = out[out.index(inc["title"]):]
        assert block.index(inc["why"]) < block.index("where") < block.index(inc["fix"][0][:40])
    assert f"the other {len(incidents) - 5}" in out  # the rest as a table
    for inc in incidents[5:]:
        assert inc["signature"] in out and not (inc["fix"] and inc["fix"][0][:40] in out)
    assert "caused by" in out
    assert "lines read" in out  # the closing summary


def test_top_and_all_choose_how_many_incidents_are_shown_in_full(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "220")
    incidents = report(cli)["incidents"]
    two = cli("scan", COMPOSE, "--top", "2").stdout
    assert incidents[1]["fix"][0][:40] in two and incidents[2]["fix"][0][:40] not in two
    assert f"the other {len(incidents) - 2}" in two
    everything = cli("scan", COMPOSE, "--all").stdout
    assert "incidents, most important first" in everything and f"the other {len(incidents) - 5}" not in everything
    assert all(f"#{inc['rank']} {inc['severity']}  {inc['title']}" in everything for inc in incidents)  # in detail
    assert everything.count("fix 1") == sum(1 for inc in incidents if inc["fix"])
    assert "request 2a71e6ad-90ff-4ce9-ba1c-d7fb94e895cd" in everything  # with its representative trace


def test_markdown_report(cli, tmp_path):
    target = tmp_path / "report.md"
    assert cli("scan", COMPOSE, "--format", "markdown", "-o", str(target)).exit_code == 0
    md = target.read_text()
    assert md.startswith("# logscan report")
    assert "| # | severity | incident |" in md
    assert "**Fix.**" in md and "```text" in md
    assert "`too_many_connections`" in md


def test_text_report_to_a_file_has_no_colour_codes(cli, tmp_path):
    target = tmp_path / "report.txt"
    assert cli("scan", COMPOSE, "-o", str(target)).exit_code == 0
    text = target.read_text()
    assert "too_many_connections" in text and "\x1b[" not in text


@pytest.mark.parametrize(("floor", "code"), [("critical", 1), ("high", 1)])
def test_fail_on_exits_1_when_an_incident_reaches_the_severity(cli, floor, code):
    assert cli("scan", COMPOSE, "--format", "json", "--fail-on", floor).exit_code == code


def test_fail_on_passes_when_nothing_reaches_it(cli):
    clean = str(ROOT / "samples/alembic/upgrade-head.log")
    assert cli("scan", clean, "--format", "json", "--fail-on", "low").exit_code == 0


def test_min_severity_hides_the_rest(cli):
    everything = report(cli, "--min-severity", "info")
    high = report(cli, "--min-severity", "high")
    assert {i["severity"] for i in high["incidents"]} <= {"high", "critical"}
    assert len(everything["incidents"]) > len(high["incidents"])
    assert "info" in {i["severity"] for i in everything["incidents"]}  # the db's clean shutdown, as context


def test_since_and_until_filter_by_time(cli):
    early = report(cli, "--until", "2026-11-23T10:43:15")
    late = report(cli, "--since", "2026-11-23T10:43:20")
    assert "missing_greenlet" in {i["signature"] for i in early["incidents"]}
    assert "deadlock" not in {i["signature"] for i in early["incidents"]}
    assert all(i["last_seen"] < "2026-11-23T10:43:15" for i in early["incidents"])
    assert "missing_greenlet" not in {i["signature"] for i in late["incidents"]}
    assert "deadlock" in {i["signature"] for i in late["incidents"]}


def test_storm_thresholds_are_configurable(cli):
    assert "http_422_storm" in {i["signature"] for i in report(cli)["incidents"]}
    assert "http_422_storm" not in {i["signature"] for i in report(cli, "--storm-count", "31")["incidents"]}
    assert "http_422_storm" not in {i["signature"] for i in report(cli, "--storm-window", "1s")["incidents"]}


def test_bad_arguments_exit_2_with_one_clear_line(cli, tmp_path):
    result = cli("scan", COMPOSE, "--since", "yesterday")
    assert result.exit_code == 2 and "24h" in result.output
    bad = tmp_path / "sigs"
    bad.mkdir()
    (bad / "x.toml").write_text("[[signature]]\nid = 'x'\n")
    result = cli("scan", COMPOSE, "--signatures", str(bad))
    assert result.exit_code == 2 and "x.toml" in result.output
    assert "Traceback" not in result.output


def test_unwritable_output_is_a_clear_error(cli, tmp_path):
    result = cli("scan", COMPOSE, "--format", "json", "-o", str(tmp_path / "missing-dir" / "r.json"))
    assert result.exit_code == 2 and "cannot write the report" in result.output
