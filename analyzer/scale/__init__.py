"""Past one machine: a scan cut into shards whose partial results merge into the state of one local scan.

A *shard* is a run of consecutive inputs (whole files, in reading order: a
rotated set keeps its order), or a byte range of a large plain file that
begins where a local scan's batch begins (a record start: a traceback is
never cut) and is read chunk for chunk as a local scan reads it
(`plan_shards(shard_bytes=...)`). `run_shard` runs on it exactly the stages a
local scan runs (sources, framing, formats, match, the trace partials) and
returns a `Partial`: per batch, its trace partial aggregate, its latest time
and its evidence *not yet tied to requests* (a database record in one shard
may belong to a request logged in another); and the shard's counters
(Diagnostics, Tally), route durations and template-miner state.

`Partial.merge` is associative and commutative: segments are kept ordered by
shard index (the order a local scan reads them in), miners merge
(analyzer.miner). `finish` replays the merged batches, in order, through
`Analysis.absorb` (the bookkeeping `Analysis.add` runs: trace table, clock,
settling and linking, compaction), so incidents, ranking and the report are
built once, by the code a local scan uses, from the state a local scan ends in.
The trace rows stay in the shards until the driver knows its table's clock: it
then asks each shard for the rows the table keeps past their arrival, with a
null request ID where no link, merge or lookup will read it (most of a row's
bytes; `_without_unread_ids`). Inputs may be fsspec URLs (analyzer.ingest.urls).

Time inference carries a stream's last time into the next input (rotated
sets); a shard that starts with records without a time of their own says so
(`needs_carry`), and `resolve_carries` runs it again with the time the shards
before it end with (tasks stay pure functions of their arguments: a re-run
gives the same partial).

`analyzer.scale.dask` runs the shards on a Dask cluster (`scan --engine dask`).
"""

from typing import Any

__all__ = ["Job", "Partial", "Shard", "finish", "merge_all", "plan_shards", "resolve_carries", "run_shard"]


def __getattr__(name: str) -> Any:
    """The names above, from analyzer.scale.partial on first use: `scan` imports analyzer.scale.cli for its
    option checks on every run, and the sharding code (with every stage) only matters with `--engine dask`."""
    if name in __all__:
        from analyzer.scale import partial

        return getattr(partial, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
