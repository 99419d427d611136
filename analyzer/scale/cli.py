"""What `scan --engine dask` adds to the scan command: checks before anything is read, and the run itself.

Kept apart from analyzer.commands.app so that the command's own diff stays small. Only the option checks are
imported with the command: the sharding code (analyzer.scale.partial, with Polars and every stage) and
`distributed` are imported when the engine is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the sharding code (and Polars, rich) only when the engine is used: see the docstring
    from rich.console import Console

    from analyzer.analysis.engine import Analysis, Settings
    from analyzer.analysis.signatures import SignatureSet
    from analyzer.config import Effective
    from analyzer.diagnostics import Diagnostics
    from analyzer.ingest.tally import Tally
    from analyzer.ingest.sources import Input
    from analyzer.scale.partial import Job, Partial
    from analyzer.state.checkpoints import Checkpoints

DEFAULT_WORKERS = 2
#: A plain file larger than this is read by several tasks, in byte ranges cut at record starts.
SHARD_BYTES = 256 << 20


class Engine(str, Enum):
    local = "local"
    dask = "dask"


def engine_problem(engine: Engine, scheduler: str | None, workers: int | None, paths: Sequence[str]) -> str | None:
    """Why these options cannot run together (exit 2 before anything is read), or None."""
    if engine is Engine.local:
        if scheduler is not None or workers is not None:
            return "--scheduler and --workers need --engine dask"
        return None
    if scheduler is not None and workers is not None:
        return "--workers sizes a local cluster; with --scheduler the cluster has its own workers"
    if "-" in paths:
        return "--engine dask reads files the workers can open; stdin (-) cannot be shared with them"
    try:
        import distributed  # noqa: F401
    except ImportError:
        from analyzer.scale.dask import INSTALL_HINT

        return INSTALL_HINT
    return None


def job_of(settings: Settings, eff: Effective, log_format: str | None) -> Job:
    from analyzer.scale.partial import Job

    return Job(
        settings=settings,
        signatures=tuple(str(Path(folder).resolve()) for folder in eff.signatures),
        fmt=log_format,
        request_id_keys=tuple(eff.request_id_keys),
        services=tuple(eff.services.items()),
    )


def scan_on_dask(inputs: Sequence[Input], diag: Diagnostics, sigs: SignatureSet, settings: Settings, job: Job,
                 scheduler: str | None, workers: int | None, err: Console, progress: bool,
                 checkpoints: Checkpoints | None = None, filters: Any = None) -> tuple[Analysis, Tally]:
    """The Analysis and Tally a local scan of `inputs` ends with, computed shard by shard on a Dask cluster.

    With `checkpoints` (`scan --state`: the inputs resume from them), what the shards read to is added to them
    (pending, committed by the caller with the state, as after a local scan); should two shards have read or
    continued the same checkpoint, the inputs are read again as one shard (`checkpoint_conflict`).
    `filters` (scan's record filters, when active) count what a local scan's loop counts of the records: all of
    them, those within --since/--until, their time span.

    Raises analyzer.scale.dask.DaskUnavailable (no distributed, no scheduler)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from analyzer.scale import dask as dask_engine
    from analyzer.scale.partial import as_one, checkpoint_conflict, finish, merge_all, merge_checkpoints, plan_shards

    shards = plan_shards(inputs, shard_bytes=SHARD_BYTES, job=job)
    with dask_engine.client(scheduler, workers or DEFAULT_WORKERS) as client:
        if not progress:
            partials, fetch = dask_engine.run(job, shards, client)
        else:
            columns = [TextColumn("shards"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[read]} read")]
            with Progress(*columns, console=err, transient=True, refresh_per_second=5) as bar:
                task = bar.add_task("shards", total=len(shards), read="0 bytes")
                read = 0

                def done(partial: Partial) -> None:
                    nonlocal read
                    read += partial.bytes_read
                    bar.update(task, advance=1, read=f"{read:,} bytes")

                partials, fetch = dask_engine.run(job, shards, client, on_done=done)
        if checkpoint_conflict(partials):
            partials, fetch = dask_engine.run(job, [as_one(shards)], client)
        merged = merge_all(partials)
        if checkpoints is not None:
            merge_checkpoints(merged, checkpoints)
        analysis, tally = finish(merged, sigs, settings, diag, fetch)
    if filters is not None and filters.active:
        filters.seen += tally.records
        filters.kept += merged.in_period
        for name, pick in (("ts_min", min), ("ts_max", max)):
            mine, theirs = getattr(filters, name), getattr(tally, name)
            setattr(filters, name, theirs if mine is None else mine if theirs is None else pick(mine, theirs))
    return analysis, tally
