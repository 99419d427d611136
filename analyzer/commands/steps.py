"""The steps every command takes the same way: the effective config, the inputs, the pipeline, the output
file, and the warnings and errors, which always go to stderr (stdout is the report or the events)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

import typer

from analyzer.commands.options import LogFormat, error, fail, warn
from analyzer.config import ConfigError, Effective, for_run
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.sources import Input, resolve
from analyzer.report.redact import Redactor

if TYPE_CHECKING:  # the pipeline (and Polars) once there is something to read
    from analyzer.ingest.pipeline import Pipeline


def effective(config: str | None, flags: dict[str, object]) -> Effective:
    """The config file (named or found) with the flags over it; exit 2 naming file and key when it is bad."""
    try:
        return for_run(config, flags)
    except (ConfigError, ValueError) as exc:
        raise fail(str(exc)) from None


def pipeline_for(diag: Diagnostics, log_format: LogFormat | None, eff: Effective) -> Pipeline:
    """The pipeline with the config's request ID keys and service names (the default path when there are none)."""
    from analyzer.ingest.pipeline import Pipeline

    return Pipeline(diag, fmt=log_format.value if log_format else None,
                    request_id_keys=eff.request_id_keys, services=eff.services)


def resolve_inputs(paths: Sequence[str], diag: Diagnostics, **kwargs: Any) -> list[Input]:
    """The inputs `paths` name; when none can be used, every reason on stderr and exit 2 before anything is
    printed on stdout (a cron job redirecting stdout still sees why)."""
    inputs = list(resolve(paths, diag, **kwargs))
    if not inputs and diag.errors:
        for line in diag.errors:
            error(line)
        raise typer.Exit(2)
    return inputs


def nothing_read(diag: Diagnostics) -> bool:
    """Every input named failed: errors, and not one byte read (nor skipped as already read)."""
    return bool(diag.errors) and diag.bytes_read == 0 and diag.resumed_bytes == 0


def report_problems(diag: Diagnostics, quiet: bool = False, redactor: Redactor | None = None) -> None:
    """Every warning (unless `quiet`) and every error of the run, one line each, on stderr, through `redactor`
    (default: control sequences removed, nothing masked): a warning may quote a log line."""
    clean = (redactor or Redactor(enabled=False)).text
    if not quiet:
        for line in diag.source_warnings() + diag.warnings:
            warn(clean(line))
    for line in diag.errors:
        error(clean(line))


def not_a_format(path: str | None, formats: Sequence[str]) -> None:
    """`-o jsonl`: before issue 13, `events -o` chose the output style; now -o names a file, so a bare format
    name that is no existing file is taken for the old meaning: exit 2 saying which flag is meant."""
    if path in formats and not os.path.exists(path):
        raise fail(f"-o/--output names the file to write; for the output format use -f/--format {path} "
                   f"(or -o ./{path} to write a file of that name)")


@contextmanager
def open_output(path: str | None) -> Iterator[IO[str]]:
    """`-o FILE` opened for writing (exit 2 naming the file when it cannot be), else stdout."""
    if path is None or path == "-":
        yield sys.stdout
        return
    try:
        handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise fail(f"cannot write to {path}: {exc.strerror or exc}") from None
    with handle:
        yield handle
