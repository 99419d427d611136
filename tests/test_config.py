"""Configuration: `logscan.toml` / `[tool.logscan]`, found from the current folder up or named with --config,
merged under the flags, applied the same by `scan` and `tail`, and shown with its sources by `logscan config`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT

from analyzer.config import ConfigError, find_config, load_config

COMPOSE = ROOT / "samples/compose/compose.log"
CLEAN = str(ROOT / "samples/alembic/upgrade-head.log")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with a sub-folder the test runs in (so a config in the parent must be found)."""
    sub = tmp_path / "project" / "sub"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    return tmp_path / "project"


def scan_json(cli, *args, path=COMPOSE):
    result = cli("scan", str(path), "--format", "json", *args)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def signatures_of(report):
    return {(i["signature"], i["service"]) for i in report["incidents"]}


# Discovery and precedence ------------------------------------------------------------------------------------


def test_a_config_in_a_parent_folder_is_found_and_applied(cli, project):
    assert ("http_422_storm", "api") in signatures_of(scan_json(cli))
    (project / "logscan.toml").write_text("storm_count = 31\n")
    assert find_config() == project / "logscan.toml"
    assert ("http_422_storm", "api") not in signatures_of(scan_json(cli))


def test_logscan_toml_wins_over_pyproject_in_the_same_folder(project):
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.logscan]\nstorm_count = 5\n')
    assert find_config() == project / "pyproject.toml"
    assert load_config().values["storm_count"] == 5
    (project / "logscan.toml").write_text("storm_count = 7\n")
    assert find_config() == project / "logscan.toml"
    assert load_config().values["storm_count"] == 7


def test_a_pyproject_without_the_table_is_passed_over_for_a_parent_config(project):
    (project / "sub" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (project / "pyproject.toml").write_text("[tool.logscan]\nslow_count = 4\n")
    assert find_config() == project / "pyproject.toml"
    assert load_config().origins["slow_count"] == f"{project / 'pyproject.toml'}:tool.logscan.slow_count"


def test_nearest_folder_wins(project):
    (project / "logscan.toml").write_text("storm_count = 7\n")
    (project / "sub" / "logscan.toml").write_text("storm_count = 9\n")
    assert load_config().values["storm_count"] == 9


def test_a_flag_wins_over_the_file(cli, project):
    (project / "logscan.toml").write_text("storm_count = 31\n")
    assert ("http_422_storm", "api") in signatures_of(scan_json(cli, "--storm-count", "20"))
    (project / "logscan.toml").write_text('min_severity = "high"\n')
    assert {i["severity"] for i in scan_json(cli)["incidents"]} <= {"high", "critical"}
    assert "info" in {i["severity"] for i in scan_json(cli, "--min-severity", "info")["incidents"]}


def test_config_flag_names_the_file_instead_of_discovery(cli, project, tmp_path):
    (project / "logscan.toml").write_text("storm_count = 31\n")
    other = tmp_path / "elsewhere.toml"
    other.write_text("storm_count = 20\n")
    assert ("http_422_storm", "api") in signatures_of(scan_json(cli, "--config", str(other)))
    result = cli("scan", CLEAN, "--config", str(tmp_path / "missing.toml"))
    assert result.exit_code == 2 and "missing.toml" in result.output


def test_fail_on_from_the_config(cli, project):
    (project / "logscan.toml").write_text('fail_on = "critical"\n')
    assert cli("scan", str(COMPOSE), "--format", "json").exit_code == 1
    assert cli("scan", CLEAN, "--format", "json").exit_code == 0


def test_signature_folders_are_relative_to_the_config_file(cli, project):
    folder = project / "our-signatures"
    folder.mkdir()
    (folder / "migrate.toml").write_text('''
[[signature]]
id = "alembic_ran"
title = "Alembic ran a migration"
severity = "low"
role = "symptom"
keywords = ["Running upgrade"]
pattern = 'Running upgrade'
cause = "A migration ran."
fix = ["Nothing to do."]

[signature.examples]
match = ["INFO  [alembic.runtime.migration] Running upgrade  -> 1a2b3c4d5e6f, create tables"]
no_match = ["INFO  [alembic.runtime.migration] Will assume transactional DDL."]
''')
    assert "alembic_ran" not in {s for s, _ in signatures_of(scan_json(cli, path=CLEAN))}
    (project / "logscan.toml").write_text('signatures = ["our-signatures"]\n')
    assert "alembic_ran" in {s for s, _ in signatures_of(scan_json(cli, path=CLEAN))}


# Bad configs: exit 2, one message naming the file and the key ---------------------------------------------------


@pytest.mark.parametrize(("text", "key", "words"), [
    ("storm_count = \n", None, "line 1"),
    ("storm_cout = 3\n", "storm_cout", "did you mean 'storm_count'"),
    ('storm_count = "3"\n', "storm_count", "expected an integer"),
    ("storm_count = 0\n", "storm_count", "at least 1"),
    ("slow_count = true\n", "slow_count", "expected an integer"),
    ('storm_window = "5x"\n', "storm_window", "not a duration"),
    ('min_severity = "hihg"\n', "min_severity", "not a severity"),
    ('fail_on = "fatal"\n', "fail_on", "not a severity"),
    ('request_id_keys = "trace_id"\n', "request_id_keys", "expected an array"),
    ('signatures = ["nope"]\n', "signatures[0]", "no such folder"),
    ('[services]\napi = 3\n', "services.api", "expected a service name"),
    ('[[ignore]]\nreason = "x"\n', "ignore[0]", "one of fingerprint or signature"),
    ('[[ignore]]\nsignature = "deadlock"\n', "ignore[0].reason", "missing"),
    ('[[ignore]]\nsignature = "deadlock"\nreason = "x"\nuntil = "soon"\n', "ignore[0].until", "expected a date"),
    ('[[ignore]]\nsignature = "deadlock"\nreason = "x"\nuntill = 2026-01-01\n', "ignore[0].untill", "did you mean"),
])
def test_a_bad_config_exits_2_naming_file_and_key(cli, project, text, key, words):
    (project / "logscan.toml").write_text(text)
    for command in (["scan", CLEAN], ["tail", "-", "--format", "jsonl"], ["config"], ["events", CLEAN]):
        result = cli(*command, input="")
        assert result.exit_code == 2, (command, result.output)
        assert "logscan.toml" in result.output and words in result.output, result.output
        if key:
            assert f"{key}:" in result.output
        assert "Traceback" not in result.output


def test_a_bad_pyproject_table_names_the_dotted_key(project):
    (project / "pyproject.toml").write_text("[tool.logscan]\nstorm_window = 60\n")
    with pytest.raises(ConfigError, match=r"pyproject\.toml: tool\.logscan\.storm_window: expected a duration"):
        load_config()


def test_a_bad_flag_duration_is_exit_2(cli, project):
    result = cli("tail", "-", "--storm-window", "soon", input="")
    assert result.exit_code == 2 and "not a duration" in result.output


# Ignore rules ---------------------------------------------------------------------------------------------------


def test_ignore_rules_remove_incidents_and_count_them(cli, project):
    before = scan_json(cli)
    assert ("jwt_expired", "api") in signatures_of(before)
    assert before["summary"]["ignored_incidents"] == 0
    (project / "logscan.toml").write_text('''
[[ignore]]
signature = "jwt_expired"
reason = "the test suite sends expired tokens on purpose"
until = 2999-12-31
''')
    after = scan_json(cli)
    assert "jwt_expired" not in {s for s, _ in signatures_of(after)}
    assert after["summary"]["ignored_incidents"] == 1
    assert len(after["incidents"]) == len(before["incidents"]) - 1
    assert [i["rank"] for i in after["incidents"]] == list(range(1, len(after["incidents"]) + 1))
    kept = {i["fingerprint"] for i in after["incidents"]}
    assert all({c["fingerprint"] for c in i["caused_by"]} <= kept for i in after["incidents"])


def test_an_expired_ignore_rule_no_longer_applies_and_config_says_so(cli, project):
    (project / "logscan.toml").write_text('''
[[ignore]]
signature = "jwt_expired"
reason = "was expected during the migration"
until = 2020-01-31
''')
    report = scan_json(cli)
    assert ("jwt_expired", "api") in signatures_of(report)
    assert report["summary"]["ignored_incidents"] == 0
    shown = cli("config")
    assert shown.exit_code == 0 and "EXPIRED" in shown.stdout and "2020-01-31" in shown.stdout
    data = json.loads(cli("config", "--format", "json").stdout)
    assert data["ignore"][0]["expired"] is True


def test_ignore_by_fingerprint_and_by_service(cli, project):
    """A rule's `service` is the incident's `service`, where users felt it, not any service that logged it."""
    before = scan_json(cli)
    [deadlock] = [i for i in before["incidents"] if i["signature"] == "deadlock"]
    assert deadlock["service"] == "api" and set(deadlock["services"]) == {"api", "db"}
    target = next(i for i in before["incidents"] if i["signature"] == "too_many_connections")
    rules = f'''
[[ignore]]
signature = "deadlock"
service = "db"
reason = "only logged there; users felt it in the api"

[[ignore]]
fingerprint = "{target["fingerprint"]}"
reason = "known"
'''
    (project / "logscan.toml").write_text(rules)
    after = scan_json(cli)
    assert ("deadlock", "api") in signatures_of(after)
    assert target["fingerprint"] not in {i["fingerprint"] for i in after["incidents"]}
    assert after["summary"]["ignored_incidents"] == 1
    (project / "logscan.toml").write_text(rules.replace('service = "db"', 'service = "api"'))
    after = scan_json(cli)
    assert "deadlock" not in {s for s, _ in signatures_of(after)}
    assert after["summary"]["ignored_incidents"] == 2


def test_the_terminal_summary_says_how_many_were_ignored(cli, project, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    (project / "logscan.toml").write_text('[[ignore]]\nsignature = "jwt_expired"\nreason = "x"\n')
    result = cli("scan", str(COMPOSE))
    assert result.exit_code == 0
    assert "ignored incidents 1" in result.stdout


# Services and request ID keys -------------------------------------------------------------------------------


def test_services_mapping_renames_the_service_in_the_report(cli, project):
    (project / "logscan.toml").write_text('[services]\napi = "backend"\n')
    report = scan_json(cli)
    services = {i["service"] for i in report["incidents"]}
    assert "backend" in services and "api" not in services
    assert "backend" in report["summary"]["events_by_service"] and "api" not in report["summary"]["events_by_service"]
    assert ("pg_slow_statement", "db") in signatures_of(report)  # unmapped names stay


JSON_LINES = "".join(
    json.dumps(row) + "\n"
    for row in [
        {"timestamp": "2026-11-23T10:00:00.100Z", "level": "INFO", "message": "request started", "txn_ref": "tr-0001",
         "method": "GET", "path": "/orders/7"},
        {"timestamp": "2026-11-23T10:00:00.200Z", "level": "ERROR", "message": "order lookup failed",
         "txn_ref": "tr-0001", "exc_info": "Traceback (most recent call last):\n  File \"app.py\", line 3, in get\n"
         "ZeroDivisionError: division by zero"},
        {"timestamp": "2026-11-23T10:00:00.300Z", "level": "INFO", "message": "request finished", "txn_ref": "tr-0001",
         "method": "GET", "path": "/orders/7", "status_code": 500, "duration_ms": 12.5},
    ]
)
LOGURU_LINES = "".join(
    json.dumps({"text": f"2026-11-23 10:00:00.{i}00 | ERROR | app:get:3 - {msg}\n", "record": {
        "exception": None, "extra": {"trace": "lg-0042"}, "level": {"name": level}, "message": msg, "name": "app",
        "process": {"id": 7}, "time": {"timestamp": 1795427200.0 + i / 10, "repr": "x"}}}) + "\n"
    for i, (level, msg) in enumerate([("INFO", "GET /items start"), ("ERROR", "cache blew up: KeyError 'x'")])
)


@pytest.mark.parametrize(("lines", "key", "rid", "seen_at"),
                         [(JSON_LINES, "txn_ref", "tr-0001", 3), (LOGURU_LINES, "trace", "lg-0042", None)])
def test_request_id_keys_make_a_custom_key_correlate(cli, project, lines, key, rid, seen_at):
    log = project / "app.log"
    log.write_text(lines)

    def ids(*args):
        rows = [json.loads(line) for line in cli("events", str(log), "--format", "jsonl", *args).stdout.splitlines()]
        return {row["request_id"] for row in rows}

    def unknown(report):
        return next(i for i in report["incidents"] if i["signature"] == "unknown")

    assert ids() == {None}
    # no ID read: the error is tied to the failed request a status line tells (`seen_at`), named by where it is
    before = unknown(scan_json(cli, path=log))
    assert before["affected_requests"] == (seen_at is not None)
    assert before["trace"] == (None if seen_at is None else {**before["trace"], "request_id": None,
                                                              "access_line": f"{log}:{seen_at}"})
    (project / "logscan.toml").write_text(f'request_id_keys = ["{key}"]\n')
    assert ids() == {rid}
    incident = unknown(scan_json(cli, path=log))
    assert incident["request_ids"] == [rid] and incident["affected_requests"] == 1
    assert incident["trace"]["request_id"] == rid


# tail applies the same config as scan -------------------------------------------------------------------------


def test_tail_and_scan_agree_on_the_config(cli, project):
    (project / "logscan.toml").write_text('''
storm_count = 31
min_severity = "info"

[services]
api = "backend"

[[ignore]]
signature = "jwt_expired"
reason = "expected"
''')
    scan = scan_json(cli)
    result = cli("tail", "-", "--format", "jsonl", input=COMPOSE.read_bytes())
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    tail = events[-1]["report"]

    def summary(report):
        return sorted((i["signature"], i["service"], i["count"]) for i in report["incidents"])

    assert summary(tail) == summary(scan)
    assert tail["summary"]["ignored_incidents"] == scan["summary"]["ignored_incidents"] == 1
    signatures = {s for s, _, _ in summary(tail)}
    assert "http_422_storm" not in signatures and "jwt_expired" not in signatures
    assert "pg_shutdown_request" in signatures  # an info incident: min_severity = "info" applied
    announced = {e["incident"]["signature"] for e in events if e["event"] == "opened"}
    assert "jwt_expired" not in announced


def test_tail_flags_override_the_config_thresholds(cli, project):
    (project / "logscan.toml").write_text("storm_count = 31\n")
    result = cli("tail", "-", "--format", "jsonl", "--storm-count", "20", input=COMPOSE.read_bytes())
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.splitlines()[-1])["report"]
    assert "http_422_storm" in {i["signature"] for i in report["incidents"]}


# logscan config -------------------------------------------------------------------------------------------------


def test_config_command_names_where_each_value_comes_from(cli, project):
    (project / "logscan.toml").write_text('storm_count = 31\nrequest_id_keys = ["trace_id"]\n[services]\n"api-1" = "api"\n')
    path = project / "logscan.toml"
    result = cli("config", "--storm-window", "2m")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert f"{path}:storm_count" in lines["storm_count"] and "31" in lines["storm_count"]
    assert "flag --storm-window" in lines["storm_window"] and "2m" in lines["storm_window"]
    assert "default" in lines["slow_count"]
    assert "api-1 -> api" in lines["services"]
    data = json.loads(cli("config", "--format", "json", "--min-severity", "high").stdout)
    assert data["config_file"] == str(path)
    assert data["values"]["storm_count"] == {"value": 31, "source": f"{path}:storm_count"}
    assert data["values"]["min_severity"] == {"value": "high", "source": "flag --min-severity"}
    assert data["values"]["fail_on"] == {"value": None, "source": "default"}
    assert data["values"]["request_id_keys"]["value"] == ["trace_id"]


def test_config_command_shows_the_sentry_dsn_source_but_not_the_dsn(cli, project, monkeypatch):
    monkeypatch.setenv("LOGSCAN_SENTRY_DSN", "https://secretkey@o1.ingest.sentry.io/2")
    result = cli("config", "--format", "json")
    assert "secretkey" not in result.stdout
    assert json.loads(result.stdout)["values"]["sentry_dsn"] == {"value": "(set)", "source": "env LOGSCAN_SENTRY_DSN"}


def test_no_config_means_defaults(cli, project):
    data = json.loads(cli("config", "--format", "json").stdout)
    assert data["config_file"] is None or not Path(data["config_file"]).is_relative_to(project)


def test_a_broken_pyproject_is_an_error_only_when_it_holds_our_table(cli, project):
    (project / "sub" / "pyproject.toml").write_text('[project]\nname = "uses-logscan"\ndependencies = ["logscan"\n')
    assert find_config() is None  # someone else's broken file: passed over
    (project / "sub" / "pyproject.toml").write_text('[tool.logscan]\nstorm_count = = 3\n')
    result = cli("scan", CLEAN)
    assert result.exit_code == 2 and "pyproject.toml" in result.output and "line 2" in result.output
