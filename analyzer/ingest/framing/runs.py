"""Collapsing runs of rows within streams: shared by record assembly and Docker's partial entries."""

from __future__ import annotations

import polars as pl

SID = "sid"


def per_stream(expr: pl.Expr, streams: int) -> pl.Expr:
    """Apply a window expression per stream; a single stream needs no grouping."""
    return expr.over(SID) if streams > 1 else expr


def collapse_runs(frame: pl.DataFrame, start: pl.Series, aggs: dict[str, pl.Expr]) -> pl.DataFrame:
    """One row per run: a row where `start` holds, or a stream's first row, and the rows after it in its stream
    up to the next one.

    Each run keeps its first row's values except the columns of `aggs`, which are
    computed over the run's rows. Only runs of more than one row are grouped,
    and runs come out in the order of their first rows.
    """
    streams = frame.get_column(SID).n_unique()
    first = per_stream(pl.int_range(pl.len()) == 0, streams)
    marks = frame.select(SID, (pl.lit(start) | first).alias("_start"))
    start = marks.get_column("_start")
    alone = marks.select(per_stream(pl.col("_start").shift(-1), streams).fill_null(True)).to_series()
    runs = frame.filter(start)
    longer = ~(start & alone)
    if not longer.any():
        return runs
    # within a stream, the grouped rows are whole runs, each led by its start row
    run = per_stream(pl.col("_start").cast(pl.Int32).cum_sum(), streams)
    grouped = (
        frame.filter(longer)
        .with_columns(start.filter(longer).alias("_start"))
        .with_columns(run.alias("_run"))
        .group_by(SID, "_run", maintain_order=True)
        .agg(**aggs)
    )
    at = (~alone).filter(start).arg_true()
    return runs.with_columns(runs.get_column(name).clone().scatter(at, grouped.get_column(name)) for name in aggs)
