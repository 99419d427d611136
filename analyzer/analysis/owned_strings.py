"""Polars frame helpers the stages after events share.

`own_strings`: Polars stores strings as views into shared buffers, so a few
rows filtered out of a batch keep that whole batch's text alive, and a
frame rebuilt batch after batch keeps every earlier batch's buffers. State
kept across batches (evidence, traces) must own its strings, or memory grows
with the input instead of with the number of problems. (An IPC round trip
would also copy nested columns, but measured worse: it keeps the IPC buffer.)
"""

from __future__ import annotations

import polars as pl


def own_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """The same frame with every top-level String column copied into buffers of its own."""
    strings = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not strings or frame.height == 0:
        return frame
    return frame.with_columns(pl.concat_str(pl.col(name), pl.lit("")).alias(name) for name in strings)
