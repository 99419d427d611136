"""The command line: NO_COLOR in `signatures`, config's exit code for a missing signature folder, --quiet."""

from __future__ import annotations

import pytest
from conftest import ROOT, SGR


@pytest.mark.parametrize("command", [
    ["signatures", "list"],
    ["signatures", "show", "deadlock"],
])
def test_no_color_in_signatures_commands_even_when_colour_is_forced(cli, plain_env, command):
    plain_env.setenv("FORCE_COLOR", "1")
    assert SGR.search(cli(*command).stdout)  # forced: bold and dim are drawn
    plain_env.setenv("NO_COLOR", "1")
    result = cli(*command)
    assert result.exit_code == 0, result.output
    assert not SGR.search(result.stdout) and not SGR.search(result.stderr)


def test_no_color_on_signature_problems(cli, plain_env, tmp_path):
    (tmp_path / "bad.toml").write_text('id = "x"\n')
    plain_env.setenv("FORCE_COLOR", "1")
    assert SGR.search(cli("signatures", "lint", str(tmp_path)).stderr)
    plain_env.setenv("NO_COLOR", "1")
    result = cli("signatures", "lint", str(tmp_path))
    assert result.exit_code == 1 and "problem" in result.stderr and not SGR.search(result.stderr)


@pytest.mark.parametrize("command", [["config"], ["scan", str(ROOT / "samples/compose/compose.log")]])
def test_missing_signature_folder_exits_2_in_config_as_in_scan(cli, plain_env, tmp_path, command):
    missing = tmp_path / "nonexistent"
    result = cli(*command, "-s", str(missing))
    assert result.exit_code == 2
    assert "error:" in result.stderr and str(missing) in result.stderr and "no such folder" in result.stderr
    assert result.stdout == ""


def test_config_json_with_a_missing_signature_folder_exits_2(cli, plain_env, tmp_path):
    result = cli("config", "--format", "json", "--signatures", str(tmp_path / "nope"))
    assert result.exit_code == 2 and result.stdout == ""


def test_quiet_hides_warnings_but_not_errors_and_both_stay_off_stdout(cli, plain_env, tmp_path):
    damaged = tmp_path / "damaged.log"
    damaged.write_bytes(b"2026-11-23 10:00:00.000 | ERROR    | app:f:1 - bad \xff\xfe byte\n")
    loud = cli("scan", str(damaged))
    assert loud.exit_code == 0 and "warning:" in loud.stderr and "invalid UTF-8" in loud.stderr
    assert "warning:" not in loud.stdout  # the report's summary keeps the counts, stderr the warnings
    quiet = cli("scan", str(damaged), "-q")
    assert quiet.exit_code == 0 and "warning:" not in quiet.stdout + quiet.stderr
    assert "lines read" in quiet.stdout  # the summary itself is still printed
    missing = cli("scan", str(damaged), str(tmp_path / "nope.log"), "-q")
    assert missing.exit_code == 2 and "error:" in missing.stderr and "nope.log" in missing.stderr
    assert "\nerror:" not in "\n" + missing.stdout and "nope.log" not in missing.stdout
    assert "warning:" not in missing.stdout + missing.stderr


def test_quiet_help_says_what_it_hides(cli, plain_env):
    text = " ".join(cli("scan", "--help").stdout.replace("│", " ").split())
    assert "No progress bar and no warnings" in text and "errors still show" in text
