"""`scan --engine dask`: the shards of a scan as tasks on a Dask cluster (the optional extra `logscan[dask]`).

Every task is `run_shard(job, shard)`, a pure function of its arguments: when
a worker dies, the scheduler runs its tasks again elsewhere and the re-run
returns the same partial; each shard's result is taken once (by shard index,
`Partial.merge` refuses a shard twice), so nothing is counted twice. The
driver merges the partials and builds the report itself (analyzer.scale.partial.finish), fetching from the
workers only the trails of the requests the report may show.
Inputs must be paths the workers can read (the same files at the same paths).
"""

from __future__ import annotations

import logging
import operator
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl

from analyzer.scale.partial import (
    Job,
    Partial,
    Shard,
    TrailFetch,
    detach_trails,
    pick_packed,
    resolve_carries,
    run_shard,
    unpack_frame,
)

INSTALL_HINT = "--engine dask needs the optional extra: pip install 'logscan[dask]'"


class DaskUnavailable(RuntimeError):
    """distributed is not installed, or the scheduler cannot be reached."""


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise DaskUnavailable(INSTALL_HINT) from None
    return distributed


@contextmanager
def client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A Client of the cluster at `scheduler`, or of a LocalCluster of `workers` processes (closed afterwards)."""
    distributed = _distributed()
    if scheduler:
        try:
            c = distributed.Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise DaskUnavailable(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with c:
            yield c
        return
    cluster = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


def _detached(task: Callable[[Job, Shard], Partial], job: Job, shard: Shard) -> tuple[Partial, pl.DataFrame]:
    return detach_trails(task(job, shard))


def run(job: Job, shards: Sequence[Shard], dask_client: Any,
        on_done: Callable[[Partial], None] = lambda _: None,
        task: Callable[[Job, Shard], Partial] = run_shard) -> tuple[list[Partial], TrailFetch]:
    """Every shard's partial (carries resolved: analyzer.scale.partial.resolve_carries), computed on the cluster,
    and the function that fetches trails from where the shards ran (for `finish`, while the client is open).

    `on_done` is called in the driver as each partial arrives (progress); `task` is `run_shard` (tests wrap it).
    Each task's trails stay on its worker as a future the driver never gathers; if that worker dies, the
    scheduler computes them again from the shard (the same task: the same trails).
    """
    distributed = _distributed()
    run_id = uuid.uuid4().hex[:12]
    trails: dict[int, Any] = {}  # shard index -> future of its trails

    def compute(batch: Sequence[Shard], round_: str) -> list[Partial]:
        keys = [f"logscan-{run_id}-{round_}-{s.index}" for s in batch]
        futures = []
        for shard, key in zip(batch, keys, strict=True):
            both = dask_client.submit(_detached, task, job, shard, key=key, pure=False)
            futures.append(dask_client.submit(operator.itemgetter(0), both, key=f"{key}-partial"))
            trails[shard.index] = dask_client.submit(operator.itemgetter(1), both, key=f"{key}-trails")
        got: dict[str, Partial] = {}
        for future in distributed.as_completed(futures):
            partial = future.result()
            got[future.key] = partial
            if round_ == "shard":  # a carry round re-reads shards already counted
                on_done(partial)
        return [got[f"{k}-partial"] for k in keys]

    def fetch(index: int, wanted: pl.DataFrame) -> pl.DataFrame:
        return unpack_frame(dask_client.submit(pick_packed, trails[index], wanted, pure=False).result())

    partials = resolve_carries(shards, compute(shards, "shard"), lambda again: compute(again, "carry"))
    return partials, fetch
