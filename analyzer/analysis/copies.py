"""Copies: one database record read from several files is one occurrence.

PostgreSQL writes every record to each of its destinations: `log_destination =
'stderr,csvlog,jsonlog'` puts `postgresql.log`, `.csv` and `.json` side by side,
and a container's stderr is also in Docker's json-file log and in `docker compose
logs` output. A folder scan reads them all, and without this each failure would be
counted once per copy. A copy is recognised by what the server wrote, whatever the
format around it: the same backend (pid), the same second, the same level and the
same message, read from another file. The second, because the destinations do not
print the time alike: csvlog and jsonlog always give milliseconds, while stderr's
`log_line_prefix` often has `%t` (whole seconds). Records that one file holds
several times within a second stay apart there: they are never copies of each other.
And the message is compared without the ` at character N` that stderr appends to it
(PostgreSQL's elog.c writes an error's cursor position there; csvlog and jsonlog
give it a field of its own).

Only the database's own formats are compared. Their pids are unique on a server at
any moment (each connection has its backend), so two different records never share
all four; an application's replicas, on the contrary, often run under the same pid
in their containers and log the same line in the same millisecond, which must
count twice.

The evidence of each batch passes here before it is kept (`Analysis.absorb`), so
`scan`, `tail` and the Dask engine's replay count alike. Memory is bounded: the
most recent MAX_KEYS records are remembered.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

import polars as pl

from analyzer.ingest.formats import DATABASE_FORMATS

MAX_KEYS: Final = 200_000
_CURSOR: Final = r" at character [0-9]+$"


#: The column `evidence_of` adds (analyzer.analysis.engine): the copy key of a database record's evidence, null for
#: the others. A hash, computed where the evidence is made, so that it travels with the evidence however slim (the
#: Dask engine's partials leave messages behind: analyzer.scale.partial `_pack`).
COPY_KEY: Final = "copy_key"


def copy_key() -> pl.Expr:
    """What makes two database records the same record (see the module doc), as one number; null for other rows."""
    database = pl.col("format").cast(pl.String).is_in(list(DATABASE_FORMATS)).fill_null(False)
    said = pl.struct(pl.col("pid"), pl.col("ts").dt.truncate("1s"), pl.col("level").cast(pl.String),
                     pl.col("message").str.replace(_CURSOR, ""))
    known = database & pl.col("pid").is_not_null() & pl.col("ts").is_not_null()
    return pl.when(known).then(said.hash(seed=0)).alias(COPY_KEY)


class Copies:
    """The database records seen so far (copy key -> the file first read), to drop their copies from other files."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self.first: OrderedDict[int, str] = OrderedDict()

    def drop_copies(self, evidence: pl.DataFrame) -> pl.DataFrame:
        """`evidence` (with its COPY_KEY) without the rows of records already read from another file, and without
        the key."""
        if COPY_KEY not in evidence.columns:
            return evidence
        keys = evidence.get_column(COPY_KEY)
        if keys.null_count() == evidence.height:
            return evidence.drop(COPY_KEY)
        copy = [False] * evidence.height
        for i, key, source in evidence.with_row_index("_i").filter(keys.is_not_null()).select(
                "_i", COPY_KEY, pl.col("source").cast(pl.String)).iter_rows():
            first = self.first.setdefault(key, source)
            copy[i] = first != source
            self.first.move_to_end(key)
        while len(self.first) > self.max_keys:
            self.first.popitem(last=False)
        evidence = evidence.drop(COPY_KEY)
        return evidence.filter(~pl.Series(copy)) if any(copy) else evidence
