"""The command line as people use it: progress, --quiet, NO_COLOR, --version, completion, `-` for stdin,
and exit codes documented in every command's --help."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SGR
from rich.console import Console

from analyzer.commands.app import _progress, show_progress
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.sources import Input, known_size

COMPOSE = ROOT / "samples/compose/compose.log"
ANSI = "\x1b["



# Progress ------------------------------------------------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_shown_only_on_a_real_terminal_and_without_quiet():
    terminal = Console(file=_Tty())
    assert terminal.is_terminal and show_progress(terminal, quiet=False)
    assert not show_progress(terminal, quiet=True)
    assert not show_progress(Console(file=io.StringIO(), force_terminal=False), quiet=False)
    # FORCE_COLOR / TTY_COMPATIBLE: rich treats a pipe as a terminal (colours), but no bar is drawn into it
    assert not show_progress(Console(file=io.StringIO(), force_terminal=True), quiet=False)


def test_forced_terminal_stderr_gets_no_progress_bar_when_piped(monkeypatch):
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.setenv(name, "1")
        err = Console(stderr=True)
        assert err.is_terminal  # rich believes it
        monkeypatch.setattr(sys, "stderr", io.StringIO())
        assert not show_progress(err, quiet=False)
        monkeypatch.setattr(sys, "stderr", _Tty())
        assert show_progress(err, quiet=False)
        monkeypatch.delenv(name)


def test_progress_bar_shows_bytes_of_the_known_total(tmp_path):
    log = tmp_path / "a.log"
    log.write_bytes(b"x" * 5000)
    assert known_size([Input(str(log))]) == 5000
    assert known_size([Input(str(log)), Input("-")]) is None  # stdin: no total
    packed = tmp_path / "b.log.1"  # gzip whatever the name: its size says nothing of what it holds
    packed.write_bytes(gzip.compress(b"y" * 5000))
    assert known_size([Input(str(log)), Input(str(packed))]) is None
    screen = io.StringIO()
    err = Console(file=screen, force_terminal=True, width=120)
    diag = Diagnostics()
    with _progress(err, [Input(str(log))], diag, enabled=True) as tick:
        diag.source(str(log)).bytes = 5000
        tick()
    assert "reading" in screen.getvalue() and "5.0" in screen.getvalue() and "kB" in screen.getvalue()
    silent = io.StringIO()
    with _progress(Console(file=silent, force_terminal=True), [Input(str(log))], diag, enabled=False) as tick:
        tick()
    assert silent.getvalue() == ""


def _scan_with_tty_stderr(*args: str) -> tuple[int, str, str]:
    """Run the real logscan with stderr on a pseudo-terminal: exit code, stdout, what the terminal got."""
    import pty

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")} | {"NO_COLOR": "1"}
    proc = subprocess.Popen([_logscan(), "scan", *args], stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    out = proc.stdout.read() if proc.stdout else b""
    code = proc.wait(timeout=60)
    screen = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side is closed and drained
            break
        if not data:
            break
        screen += data
    os.close(master)
    return code, out.decode(), screen.decode(errors="replace")


def test_scan_draws_progress_on_a_terminal_stderr_unless_quiet(cli, plain_env):
    code, out, screen = _scan_with_tty_stderr(str(COMPOSE), "--format", "json")
    assert code == 0 and "reading" in screen
    json.loads(out)  # the report itself is untouched
    code, out, screen = _scan_with_tty_stderr(str(COMPOSE), "--format", "json", "-q")
    assert code == 0 and "reading" not in screen
    assert "reading" not in cli("scan", str(COMPOSE), "--format", "json").stderr  # not a terminal
    for forced in ("TTY_COMPATIBLE", "FORCE_COLOR"):  # rich treats the captured stderr as a terminal: still no bar
        plain_env.setenv(forced, "1")
        assert "reading" not in cli("scan", str(COMPOSE), "--format", "json").stderr
        plain_env.delenv(forced)


# --quiet -------------------------------------------------------------------------------------------------------


def test_quiet_drops_warnings_but_not_errors(cli, tmp_path, plain_env):
    damaged = tmp_path / "damaged.log"
    damaged.write_bytes(b"2026-11-23 10:00:00.000 | ERROR    | app:f:1 - bad \xff\xfe byte\n")
    loud = cli("scan", str(damaged), "--format", "json")
    assert loud.exit_code == 0 and "warning:" in loud.stderr and "invalid UTF-8" in loud.stderr
    quiet = cli("scan", str(damaged), "--format", "json", "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert json.loads(quiet.stdout)["summary"]["warnings"]  # still in the report
    missing = cli("scan", str(damaged), str(tmp_path / "nope.log"), "--format", "json", "-q")
    assert missing.exit_code == 2 and "error:" in missing.stderr and "nope.log" in missing.stderr
    assert "warning:" not in missing.stderr


# NO_COLOR ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["scan", str(COMPOSE)],
    ["events", str(ROOT / "samples/alembic/upgrade-head.log")],
    ["config"],
])
def test_no_color_means_no_escape_codes_even_when_colour_is_forced(cli, plain_env, command):
    plain_env.setenv("FORCE_COLOR", "1")
    assert ANSI in cli(*command).stdout  # forced: rich styles the output
    plain_env.setenv("NO_COLOR", "1")
    result = cli(*command)
    assert result.exit_code == 0
    assert ANSI not in result.stdout
    assert not SGR.search(result.stderr)  # the progress bar may be drawn (a forced terminal), without colour


def test_no_color_in_tail_text_output(cli, plain_env):
    plain_env.setenv("FORCE_COLOR", "1")
    plain_env.setenv("NO_COLOR", "1")
    result = cli("tail", "-", input=COMPOSE.read_bytes())
    assert result.exit_code == 0 and "too_many_connections" in result.stdout
    assert not SGR.search(result.stdout)  # the live board moves the cursor on a (forced) terminal, colourless
    plain_env.delenv("NO_COLOR")
    assert SGR.search(cli("tail", "-", input=COMPOSE.read_bytes()).stdout)


def test_no_color_on_errors(cli, plain_env):
    plain_env.setenv("FORCE_COLOR", "1")
    plain_env.setenv("NO_COLOR", "1")
    result = cli("scan", str(COMPOSE), "--since", "yesterday")
    assert result.exit_code == 2 and "error:" in result.stderr and ANSI not in result.stderr


# --version, completion, stdin, exit codes -----------------------------------------------------------------------


def test_version(cli):
    from importlib.metadata import version

    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"logscan {version('logscan')}"


def _logscan() -> str:
    script = Path(sys.executable).with_name("logscan")
    if not script.exists():
        pytest.skip("the logscan script is not installed next to this Python")
    return str(script)


def test_shell_completion_script_and_completions():
    # typer's own switch: take the shell named here, not the one found among this process's ancestors (under
    # `timeout` or a job runner none is a shell, and typer then says "Shell  not supported")
    env = {**os.environ, "SHELL": "/bin/bash", "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    shown = subprocess.run([_logscan(), "--show-completion", "bash"], capture_output=True, text=True, env=env,
                           check=False)
    assert shown.returncode == 0 and "_LOGSCAN_COMPLETE=complete_bash" in shown.stdout
    env |= {"_LOGSCAN_COMPLETE": "complete_bash", "COMP_WORDS": "logscan sc", "COMP_CWORD": "1"}
    words = subprocess.run([_logscan()], capture_output=True, text=True, env=env, check=False).stdout.split()
    assert words == ["scan"]
    env |= {"COMP_WORDS": "logscan scan --min-severity h", "COMP_CWORD": "3"}
    assert subprocess.run([_logscan()], capture_output=True, text=True, env=env, check=False).stdout.split() == ["high"]


def test_dash_reads_stdin_in_scan_events_and_tail(cli):
    data = COMPOSE.read_bytes()
    scan = cli("scan", "-", "--format", "json", input=data)
    assert scan.exit_code == 0
    assert "too_many_connections" in {i["signature"] for i in json.loads(scan.stdout)["incidents"]}
    events = cli("events", "-", "--format", "count", input=data)
    assert events.exit_code == 0 and "lines read" in events.stdout
    assert json.loads(scan.stdout)["summary"]["lines_read"] == data.count(b"\n")
    tail = cli("tail", "-", "--format", "jsonl", input=data)
    assert tail.exit_code == 0
    report = json.loads(tail.stdout.splitlines()[-1])["report"]
    assert {i["fingerprint"] for i in report["incidents"]} == {i["fingerprint"] for i in json.loads(scan.stdout)["incidents"]}


@pytest.mark.parametrize(("command", "codes"), [
    (["scan"], ("0 =", "1 =", "2 =", "--fail-on", "config")),
    (["tail"], ("0 =", "2 =", "config")),
    (["events"], ("0 =", "2 =")),
    (["signatures"], ("0 =", "1 =", "2 =")),
    (["config"], ("0 =", "2 =")),
])
def test_every_command_documents_its_exit_codes(cli, plain_env, command, codes):
    result = cli(*command, "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "Exit codes:" in text
    for code in codes:
        assert code in text, (command, code)
