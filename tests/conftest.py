"""Shared helpers: run the pipeline or the CLI on text, the way a user would."""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from analyzer.commands.app import app
from analyzer.diagnostics import Diagnostics
from analyzer.events import empty_events
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.sources import resolve

ROOT = Path(__file__).resolve().parent.parent


def read_events(*paths: str | Path, fmt: str | None = None, chunk_bytes: int | None = None) -> tuple[pl.DataFrame, Diagnostics]:
    """All events of `paths` through the real pipeline, plus its diagnostics."""
    diag = Diagnostics()
    kwargs = {"chunk_bytes": chunk_bytes} if chunk_bytes else {}
    pipeline = Pipeline(diag, fmt=fmt, **kwargs)
    batches = list(pipeline.run(resolve([str(p) for p in paths], diag)))
    events = pl.concat(batches) if batches else empty_events()
    return events, diag


@pytest.fixture(autouse=True, scope="session")
def _cache_home(tmp_path_factory):
    """Every run of the suite, in this process and in the ones it starts, keeps its parsed-TOML cache
    (analyzer.toml_cache) in a folder of its own, never in the user's ~/.cache."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture
def write(tmp_path: Path):
    """Write text or bytes to a file under tmp_path (gzip when the name ends in .gz)."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        if name.endswith(".gz"):
            data = gzip.compress(data)
        path.write_bytes(data)
        return path

    return _write


@pytest.fixture
def cli():
    runner = CliRunner()

    def _run(*args: str, input: str | bytes | None = None):
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return _run


#: Colour and style escapes (a forced terminal may still move the cursor).
SGR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def plain_env(monkeypatch):
    """No colour or terminal settings inherited from whoever runs the tests."""
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return monkeypatch


def json_report(cli, *args: str) -> dict:
    """`scan ARGS --format json`'s report, without the moment it was made (two runs compare equal)."""
    result = cli("scan", *args, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    report.pop("generated_at")
    return report


def strings_of(value: object) -> list[str]:
    """Every string in JSON-like data (a report, a Sentry event), dict keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings_of(k), *strings_of(v))]
    if isinstance(value, list):
        return [s for item in value for s in strings_of(item)]
    return []
