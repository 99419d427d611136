"""The fallback: any record no other format claims. Nothing is guessed: only the
message and, when the record holds a traceback, its exception type (filled in
for every format by the pipeline)."""

from __future__ import annotations

import polars as pl

from analyzer.ingest.formats.base import Format


def parse(records: pl.DataFrame) -> pl.DataFrame:
    return records.select(pl.col("head").alias("message"))


def light(records: pl.DataFrame) -> pl.DataFrame:
    return records.select(pl.col("head").alias("message"))


FORMAT = Format("plain", r"^", parse, light=light, rank=1000)
