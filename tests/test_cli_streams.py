"""stdout is the report; stderr is every warning, error and note, in every command (issue 13).

Each command is run through the real CLI with a missing path, a damaged input and a bad flag: the
diagnostic must be on stderr, and stdout must hold nothing but what the command reports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

COMPOSE = ROOT / "samples/compose/compose.log"
DAMAGED = b"2026-11-23 10:00:00.000 | ERROR    | app:f:1 - bad \xff\xfe byte\n"


# a missing path ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["scan"], ["scan", "--format", "json"], ["events"], ["events", "--format", "jsonl"], ["events", "--format", "count"],
])
def test_a_missing_path_is_an_error_on_stderr_and_nothing_on_stdout(cli, plain_env, tmp_path, command):
    missing = tmp_path / "nonexistent" / "app.log"
    result = cli(*command, str(missing))
    assert result.exit_code == 2
    assert result.stdout == ""  # no "No incidents found.", no empty report: a cron job's file stays empty
    assert "error:" in result.stderr and str(missing) in result.stderr


@pytest.mark.parametrize("command", [["scan"], ["events"]])
def test_a_missing_path_beside_a_good_one_reports_the_good_one_and_errors_on_stderr(cli, plain_env, tmp_path,
                                                                                      command):
    missing = tmp_path / "nope.log"
    result = cli(*command, str(COMPOSE), str(missing))
    assert result.exit_code == 2
    assert str(missing) not in result.stdout and "error:" not in result.stdout
    assert "error:" in result.stderr and str(missing) in result.stderr
    assert "api" in result.stdout  # the readable input is still reported


def test_signatures_and_config_with_a_missing_path(cli, plain_env, tmp_path):
    for args in (["signatures", "lint", str(tmp_path / "nope")], ["signatures", "list", "-s", str(tmp_path / "nope")],
                 ["config", "--config", str(tmp_path / "nope.toml")], ["scan", str(COMPOSE), "-s", str(tmp_path / "x")]):
        result = cli(*args)
        assert result.exit_code == 2, args
        assert result.stdout == "", args
        assert "nope" in result.stderr or "x" in result.stderr, args


def _logscan() -> str:
    script = Path(sys.executable).with_name("logscan")
    if not script.exists():
        pytest.skip("the logscan script is not installed next to this Python")
    return str(script)


def test_tail_waits_for_a_missing_path_saying_so_on_stderr(tmp_path):
    missing = tmp_path / "later.log"
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen([_logscan(), "tail", str(missing), "-f", "jsonl"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, bufsize=0)
    try:
        assert proc.stderr is not None
        said = proc.stderr.readline()  # tail is up and waiting (a fixed sleep lost to a slow start on a busy machine)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert said.startswith(b"warning:") and str(missing).encode() in said
    lines = out.decode().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["report"]  # stdout: the report and only it


# a damaged input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["scan"], ["scan", "--format", "json"], ["scan", "--format", "markdown"], ["events"], ["events", "-f", "jsonl"],
    ["events", "-f", "csv"], ["events", "-f", "count"], ["tail", "-"], ["tail", "-", "-f", "jsonl"],
])
def test_damaged_input_warns_on_stderr_only(cli, plain_env, tmp_path, command):
    damaged = tmp_path / "damaged.log"
    damaged.write_bytes(DAMAGED)
    stdin = "-" in command
    result = cli(*command, *([] if stdin else [str(damaged)]), input=DAMAGED if stdin else None)
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "invalid UTF-8" in result.stderr
    assert "warning:" not in result.stdout
    if "jsonl" in command:
        for line in result.stdout.splitlines():
            json.loads(line)  # nothing but JSON lines
    if "json" in command:
        json.loads(result.stdout)


def test_broken_signature_files_are_reported_on_stderr(cli, plain_env, tmp_path):
    bad = tmp_path / "sigs"
    bad.mkdir()
    (bad / "x.toml").write_text("[[signature]]\nid = 'x'\n")
    for args, code in ((["signatures", "lint", str(bad)], 1), (["signatures", "list", "-s", str(bad)], 1),
                       (["scan", str(COMPOSE), "-s", str(bad)], 2), (["tail", "-", "-s", str(bad)], 2)):
        result = cli(*args, input=b"")
        assert result.exit_code == code, args
        assert result.stdout == "", args
        assert "x.toml" in result.stderr, args


def test_a_broken_config_file_is_reported_on_stderr(cli, plain_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logscan.toml").write_text("storm_cont = 3\n")
    for args in (["config"], ["config", "-f", "json"], ["scan", str(COMPOSE)], ["events", str(COMPOSE)],
                 ["tail", "-"]):
        result = cli(*args, input=b"")
        assert result.exit_code == 2, args
        assert result.stdout == "", args
        assert "storm_cont" in result.stderr, args


# a bad flag ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["scan", str(COMPOSE)], ["events", str(COMPOSE)], ["tail", "-"], ["config"],
                                     ["signatures", "list"]])
@pytest.mark.parametrize("flag", [["--no-such-flag"], ["--format", "yaml"], ["--since", "yesterday"]])
def test_a_bad_flag_is_a_usage_error_on_stderr(cli, plain_env, command, flag):
    result = cli(*command, *flag, input=b"")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip()
    assert "Traceback" not in result.stderr


def test_events_template_column_names_records_of_one_kind_with_one_text(cli, tmp_path):
    """`template` (issue 11): the mined template of every record; records that differ only in their
    variable parts share one text, other kinds get another."""
    log = tmp_path / "app.log"
    log.write_text("".join(
        f"connection from 10.0.{i % 7}.{i} closed after {i * 3} ms\n" if i % 2 else f"job {i} done in {i}.5 s\n"
        for i in range(1, 201)
    ))
    result = cli("events", str(log), "-f", "jsonl", "--log-format", "plain")
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 200
    by_kind = {kind: {r["template"] for r in rows if r["message"].startswith(kind)} for kind in ("connection", "job")}
    assert all(len(texts) == 1 for texts in by_kind.values()), by_kind
    assert by_kind["connection"] != by_kind["job"]
    assert "<*>" in next(iter(by_kind["job"]))
