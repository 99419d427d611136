"""Fast start (issue 12): what a run imports when it has little or nothing to do, in a fresh interpreter.

Start-up time itself is measured in benchmarks/startup.py; these tests hold the import structure that gives
it: the `logscan` group loads a subcommand's module only when that subcommand runs, sentry-sdk only with a
DSN, each report format's module only when that format is asked for.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: Runs the command line on argv[2:] in this interpreter, then writes the names of the imported modules to
#: the file argv[1] (stdout stays the command's own).
_RUN = """
import json, sys
from analyzer.cli import app
out, args = sys.argv[1], sys.argv[2:]
try:
    app(args)
except SystemExit as exc:
    code = exc.code
with open(out, "w") as handle:
    json.dump({"code": code, "modules": sorted(sys.modules)}, handle)
"""

COMMAND_MODULES = ("analyzer.commands.app", "analyzer.commands.tail", "analyzer.commands.events",
                   "analyzer.commands.config", "analyzer.commands.signatures")
REPORT_MODULES = {"json": "analyzer.report.json", "markdown": "analyzer.report.markdown",
                  "html": "analyzer.report.html"}


def _run(tmp_path: Path, *args: str, stdin: bytes = b"") -> tuple[int, set[str], str]:
    """Exit code, imported modules and stdout of `logscan ARGS` in a fresh interpreter."""
    found = tmp_path / "modules.json"
    proc = subprocess.run([sys.executable, "-c", _RUN, str(found), *args], input=stdin, capture_output=True,
                          timeout=120, check=False)
    result = json.loads(found.read_text())
    return result["code"], set(result["modules"]), proc.stdout.decode()


def test_version_loads_no_subcommand_nor_analysis(tmp_path):
    code, modules, out = _run(tmp_path, "--version")
    assert code == 0 and out.startswith("logscan ")
    heavy = {"polars", "rich", "sentry_sdk", "regex", "analyzer.run", "analyzer.ingest", *COMMAND_MODULES}
    assert not heavy & modules


def test_a_mistyped_command_is_suggested_without_loading_any(tmp_path):
    code, modules, _ = _run(tmp_path, "scna")
    assert code == 2
    assert not set(COMMAND_MODULES) & modules and "polars" not in modules


def test_a_subcommand_loads_its_own_module_only(tmp_path):
    code, modules, _ = _run(tmp_path, "config", "--format", "json")
    assert code == 0
    assert "analyzer.commands.config" in modules
    assert not set(COMMAND_MODULES) - {"analyzer.commands.config"} & modules


@pytest.mark.parametrize("report_format", ["text", *REPORT_MODULES])
def test_scanning_an_empty_file_loads_only_the_format_asked_for(tmp_path, report_format):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    code, modules, out = _run(tmp_path, "scan", str(empty), "--format", report_format)
    assert code == 0 and out
    wanted = REPORT_MODULES.get(report_format)
    assert {name for name in REPORT_MODULES.values() if name in modules} == ({wanted} if wanted else set())
    # no Polars and no stage (nothing to analyze), no Sentry without a DSN, no Dask engine, no other command
    unwanted = {"polars", "analyzer.ingest.pipeline", "analyzer.analysis.engine",
                "sentry_sdk", "analyzer.report.sentry", "distributed", "analyzer.scale.dask",
                *(set(COMMAND_MODULES) - {"analyzer.commands.app"})}
    assert not unwanted & modules


def test_a_scan_with_bytes_to_read_builds_the_stages(tmp_path):
    empty, log = tmp_path / "empty.log", tmp_path / "app.log"
    empty.write_bytes(b"")
    log.write_text("2026-11-22 10:00:00.000 | ERROR    | app:run:1 - boom\n")
    for args, stdin in (((str(empty), str(log)), b""), (("-",), log.read_bytes())):
        code, modules, out = _run(tmp_path, "scan", *args, "-f", "json", stdin=stdin)
        assert code == 0 and json.loads(out)["summary"]["records"] == 1
        assert {"polars", "analyzer.ingest.pipeline", "analyzer.analysis.engine"} <= modules


def test_scanning_empty_stdin_loads_the_same_as_an_empty_file(tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    _, from_file, report = _run(tmp_path, "scan", str(empty), "--format", "json")
    code, from_stdin, piped = _run(tmp_path, "scan", "-", "--format", "json")
    assert code == 0
    assert json.loads(piped)["incidents"] == json.loads(report)["incidents"] == []
    assert from_stdin == from_file and "polars" not in from_stdin


def test_options_of_every_kind_are_converted_without_pydantic(tmp_path):
    # typer would build a pydantic TypeAdapter per option (analyzer.commands.coercion): text, lists, numbers, choices
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    code, modules, out = _run(tmp_path, "scan", str(empty), "-", "-f", "json", "--top", "3", "--service", "api",
                              "--service", "db", "--min-severity", "high", "--storm-count", "5", "--since", "1h")
    assert code == 0 and json.loads(out)["incidents"] == []
    assert "pydantic" not in modules and "typer._adapters" not in modules


def test_the_command_line_vocabulary_is_plain_data():
    """`--log-format`'s and `--min-severity`'s choices are named without importing a stage (nor Polars)."""
    code = ("import sys, analyzer.commands.options; "
            "print(sorted(m for m in sys.modules if m == 'polars' or m.startswith('analyzer.ingest')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert proc.stdout.strip() == "[]"
