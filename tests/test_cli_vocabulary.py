"""One vocabulary for every command (issue 13): each shared flag, shown in use in every command that has it,
means the same thing there. Plus the registries behind the choices (format names, severities)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT

from analyzer.analysis import ranking
from analyzer.commands.options import LogFormat, Severity
from analyzer.events import FORMAT_NAMES, SEVERITIES
from analyzer.ingest import formats

COMPOSE = ROOT / "samples/compose/compose.log"
DATA = COMPOSE.read_bytes()


def _run(cli, command: str, *flags: str):
    """`command` over the compose sample (tail reads it on stdin to its end)."""
    if command == "tail":
        return cli("tail", "-", *flags, input=DATA)
    if command == "config":
        return cli("config", *flags)
    return cli(command, str(COMPOSE), *flags)


MACHINE = {"scan": "json", "events": "jsonl", "tail": "jsonl", "config": "json"}


def _parse(command: str, text: str):
    if MACHINE[command] == "json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines()]


def _stable(command: str, data):
    """The output without what differs between two runs: generation time, and for tail the live events
    before its final report (how a piped input is cut into reads, and so which incidents are announced as
    opened with which counts and which updated, depends on timing; the final report does not)."""
    if command == "tail":
        assert any(event["event"] == "opened" for event in data)
        data = [event for event in data if event["event"] == "report"]
    text = json.dumps(data, sort_keys=True)
    return re.sub(r'"generated_at": "[^"]*"', "", text)


@pytest.mark.parametrize("command", ["scan", "events", "tail", "config"])
def test_format_and_f_choose_the_output_format_everywhere(cli, plain_env, command):
    long = _run(cli, command, "--format", MACHINE[command])
    short = _run(cli, command, "-f", MACHINE[command])
    assert long.exit_code == short.exit_code == 0
    assert _stable(command, _parse(command, long.stdout)) == _stable(command, _parse(command, short.stdout))


@pytest.mark.parametrize("command", ["scan", "events", "tail", "config"])
@pytest.mark.parametrize("flag", ["-o", "--output"])
def test_output_writes_to_a_file_and_nothing_to_stdout(cli, plain_env, tmp_path, command, flag):
    target = tmp_path / "out.txt"
    result = _run(cli, command, "-f", MACHINE[command], flag, str(target))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert _parse(command, target.read_text())  # what stdout would have held


@pytest.mark.parametrize("command", ["scan", "events"])
def test_a_file_url_reads_as_its_path_and_the_help_says_so(cli, plain_env, command):
    """scan and events take the same inputs, URLs included, and describe them in the same words."""
    by_path = _run(cli, command, "-f", MACHINE[command])
    by_url = cli(command, COMPOSE.as_uri(), "-f", MACHINE[command])
    assert by_path.exit_code == by_url.exit_code == 0
    assert _stable(command, _parse(command, by_url.stdout)).replace(COMPOSE.as_uri(), str(COMPOSE)) == \
        _stable(command, _parse(command, by_path.stdout))
    described = re.search(r"PATH\s+(Files.*?stdin\.)", re.sub(r"[\s│]+", " ", cli(command, "--help").stdout))
    assert described is not None and "fsspec URLs" in described.group(1)


@pytest.mark.parametrize("command", ["scan", "events", "tail"])
def test_log_format_forces_the_input_format(cli, plain_env, command):
    result = _run(cli, command, "-f", MACHINE[command], "--log-format", "plain")
    assert result.exit_code == 0
    if command == "events":
        assert {row["format"] for row in _parse(command, result.stdout)} <= {"plain", "compose"}
    else:
        data = _parse(command, result.stdout)
        summary = (data if command == "scan" else data[-1]["report"])["summary"]
        assert set(summary["events_by_format"]) <= {"plain", "compose"}
    assert "loguru" in json.dumps(_parse(command, _run(cli, command, "-f", MACHINE[command]).stdout))


def _services_of(command: str, data) -> set[str]:
    if command == "events":
        return {row["service"] for row in data}
    report = data if command == "scan" else data[-1]["report"]
    return {name for inc in report["incidents"] for name in inc["services"]} | {
        inc["service"] for inc in report["incidents"]}


@pytest.mark.parametrize("command", ["scan", "events", "tail"])
def test_service_keeps_one_service_and_says_when_it_hid_everything(cli, plain_env, command):
    everything = _services_of(command, _parse(command, _run(cli, command, "-f", MACHINE[command]).stdout))
    assert {"api", "worker"} <= everything
    worker = _run(cli, command, "-f", MACHINE[command], "--service", "worker")
    assert worker.exit_code == 0
    assert _services_of(command, _parse(command, worker.stdout)) == {"worker"}
    nobody = _run(cli, command, "-f", MACHINE[command], "--service", "nobody")
    assert nobody.exit_code == 0
    assert "--service nobody hid all" in nobody.stderr and "api" in nobody.stderr  # what was there instead


def _times(command: str, data) -> list[str]:
    if command == "events":
        return [row["ts"] for row in data if row["ts"]]
    report = data if command == "scan" else data[-1]["report"]
    return [inc["last_seen"] for inc in report["incidents"]]


@pytest.mark.parametrize("command", ["scan", "events", "tail"])
def test_since_and_until_filter_by_time_and_say_when_they_hid_everything(cli, plain_env, command):
    late = _run(cli, command, "-f", MACHINE[command], "--since", "2026-11-23T10:43:20")
    early = _run(cli, command, "-f", MACHINE[command], "--until", "2026-11-23T10:43:15")
    assert late.exit_code == early.exit_code == 0
    late_times, early_times = _times(command, _parse(command, late.stdout)), _times(command, _parse(command, early.stdout))
    assert late_times and early_times
    assert all(t >= "2026-11-23T10:43:20" for t in late_times)
    assert all(t < "2026-11-23T10:43:15" for t in early_times)
    future = _run(cli, command, "-f", MACHINE[command], "--since", "2030-01-01")
    assert future.exit_code == 0
    assert re.search(r"--since 2030-01-01 hid all [\d,]+ records \(they span 2026-11-23 10:43:06", future.stderr)


@pytest.mark.parametrize(("command", "flag", "value"), [("scan", "--min-severity", "high"),
                                                        ("tail", "--min-severity", "high"),
                                                        ("events", "--level", "error")])
def test_severity_and_level_floors(cli, plain_env, command, flag, value):
    data = _parse(command, _run(cli, command, "-f", MACHINE[command], flag, value).stdout)
    if command == "events":
        assert data and {row["level"] for row in data} <= {"error", "critical"}
    else:
        report = data if command == "scan" else data[-1]["report"]
        assert report["incidents"] and {i["severity"] for i in report["incidents"]} <= {"high", "critical"}


@pytest.mark.parametrize("command", [[], ["scan"], ["events"], ["tail"], ["config"], ["signatures"],
                                     ["signatures", "list"], ["signatures", "show"], ["signatures", "lint"],
                                     ["signatures", "test"]])
def test_help_is_clean_with_an_example(cli, plain_env, command):
    plain_env.setenv("COLUMNS", "80")
    text = cli(*command, "--help").stdout
    assert not re.search(r"<(bool|str|int|list\[str\]|path)>", text), text
    assert "Examples:" in text and "logscan " + " ".join(command) in text.split("Examples:")[1]
    after = [line.rstrip() for line in text.split("Examples:")[1].splitlines()]
    start = next(i for i, line in enumerate(after) if line)
    examples = after[start:after.index("", start)]
    assert examples and all(line.lstrip().startswith(("logscan", "docker")) for line in examples), examples  # none wraps
    description = [line.rstrip() for line in text.split("╭")[0].splitlines()]
    for line, following in zip(description, description[1:]):  # a line ends early only where a paragraph does
        if line.strip() and following.strip():
            assert len(line) + 1 + len(following.split()[0]) > 79, (line, following)


def test_format_names_come_from_the_formats():
    assert FORMAT_NAMES == (*(f.name for f in formats.FORMATS), "compose")
    assert [member.value for member in LogFormat] == [f.name for f in formats.FORMATS]  # compose is never forced


def test_one_severity_order():
    assert SEVERITIES == ("info", "low", "medium", "high", "critical")
    assert ranking.SEVERITIES is SEVERITIES
    assert [member.value for member in Severity] == list(SEVERITIES)


def test_signature_validation_names_severities_from_the_one_order(cli, plain_env, tmp_path):
    folder = tmp_path / "sigs"
    folder.mkdir()
    (folder / "x.toml").write_text(
        "[[signature]]\nid = 'x'\ntitle = 't'\nseverity = 'warning'\nrole = 'cause'\nkeywords = ['k']\npattern = 'k'\n"
        "cause = 'c'\nfix = ['f']\n")
    result = cli("signatures", "lint", str(folder))
    assert result.exit_code == 1
    assert "must be one of " + ", ".join(reversed(SEVERITIES)) in result.stderr


@pytest.mark.parametrize(("command", "name"), [("events", "jsonl"), ("events", "count"), ("scan", "json")])
def test_a_format_name_given_to_output_is_refused_naming_the_right_flag(cli, plain_env, tmp_path, monkeypatch,
                                                                       command, name):
    monkeypatch.chdir(tmp_path)
    result = cli(command, str(COMPOSE), "-o", name)
    assert result.exit_code == 2 and result.stdout == ""
    assert f"-f/--format {name}" in result.stderr
    assert not (tmp_path / name).exists()
    assert cli(command, str(COMPOSE), "-o", f"./{name}").exit_code == 0 and (tmp_path / name).exists()


def test_service_narrows_fail_on_to_that_service(cli, plain_env):
    worker = _parse("scan", _run(cli, "scan", "-f", "json", "--service", "worker").stdout)["incidents"]
    assert worker and {i["severity"] for i in worker} <= {"medium", "low", "info"}
    assert _run(cli, "scan", "-f", "json", "--fail-on", "high").exit_code == 1
    assert _run(cli, "scan", "-f", "json", "--fail-on", "high", "--service", "worker").exit_code == 0
    assert _run(cli, "scan", "-f", "json", "--fail-on", "medium", "--service", "worker").exit_code == 1
