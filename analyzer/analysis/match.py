"""Match stage: event frame + compiled SignatureSet -> one row per (event, signature) match.

Every signature looks at an event's `text` column, the whole record as the log
printed it (prefix and traceback included, envelope removed; PostgreSQL csvlog
and jsonlog records rendered as the stderr log would print them). Rust regex
semantics apply: `.` does not cross newlines and `^`/`$` anchor the whole
record unless the pattern sets `(?m)`.

How it stays cheap on large frames (never a Python loop over rows):

1. one prefilter pass over `text` finds the rows holding any keyword;
2. on those rows only, one Aho-Corasick pass (`extract_many`) tells which
   keywords, hence which signatures, each row is a candidate for;
3. per candidate signature (a loop over signatures, not rows): its `when`
   conditions, then its regex, on its candidate rows; signatures without
   keywords run on every row, conditions first;
4. captures are extracted from the matched rows only.

When one event matches several point signatures, only the highest `priority`
survives (ties are all kept), so a catch-all never double-counts an event a
specific signature explains. Window signatures report every selected event and
do not compete; counting them per window is the incidents stage's job.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analyzer.diagnostics import Diagnostics
from analyzer.events import empty_events
from analyzer.ingest.pipeline import Pipeline
from analyzer.analysis.signatures import Signature, SignatureSet
from analyzer.ingest.sources import Input

#: Columns of the frame `match_events` returns.
MATCH_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.UInt32(),  # index of the event in the frame given to match_events
    "signature": pl.String(),  # signature id
    "key": pl.String(),  # values of the signature's `key` captures joined by "|" ("" when it has none)
    "captures": pl.String(),  # JSON object of every named capture (null when its group did not take part)
}


def empty_matches() -> pl.DataFrame:
    """A match frame with no rows."""
    return pl.DataFrame(schema=MATCH_SCHEMA)


def _candidate_rows(events: pl.DataFrame, sigs: SignatureSet) -> dict[int, pl.Series]:
    """Signature position -> rows (UInt32) holding at least one of its keywords."""
    text = events.get_column("text")
    rows = sigs.candidates(text).arg_true().cast(pl.UInt32)
    if rows.len() == 0:
        return {}
    found = text.gather(rows).str.extract_many(list(sigs.keywords), overlapping=True)
    pairs = (
        pl.DataFrame({"row": rows, "keyword": found})
        .explode("keyword")
        .join(sigs.keyword_owners, on="keyword")
        .select("row", "sig")
        .unique()
    )
    return {int(sig): part.get_column("row") for (sig,), part in pairs.partition_by("sig", as_dict=True).items()}


def _match_one(events: pl.DataFrame, sig: Signature, order: int, rows: pl.Series | None) -> pl.LazyFrame:
    """The query for one signature's matches among `rows` (None: every row), with captures, key and priority."""
    frame = events[list(dict.fromkeys(["text", *(cond.column for cond in sig.when)]))]
    frame = frame.with_row_index("row") if rows is None else frame[rows].hstack([rows.alias("row")])
    when = sig.when_expr()
    if when is not None:
        # eagerly: in a lazy query the optimizer would fuse it with the regex filter and run the regex on every row
        frame = frame.filter(when)
    query = frame.lazy()
    if sig.pattern is not None:
        query = query.filter(pl.col("text").str.contains(sig.pattern).fill_null(False))
    if sig.captures:
        groups = pl.col("text").str.extract_groups(sig.pattern or "")
        captures = pl.struct([groups.struct.field(name) for name in sig.captures]).struct.json_encode()
        named = [name for name in sig.key if name in sig.captures]  # `exception`/`culprit` are added with the evidence
        key = pl.concat_str([groups.struct.field(name).fill_null("") for name in named], separator="|") if named else pl.lit("")
    else:
        captures, key = pl.lit("{}"), pl.lit("")
    return query.select(
        pl.col("row").cast(pl.UInt32),
        pl.lit(sig.id, dtype=pl.String).alias("signature"),
        key.alias("key"),
        captures.alias("captures"),
        pl.lit(order, dtype=pl.UInt32).alias("order"),
        pl.lit(sig.priority, dtype=pl.Int64).alias("priority"),
        pl.lit(sig.is_window).alias("window"),
    )


def match_events(events: pl.DataFrame, sigs: SignatureSet) -> pl.DataFrame:
    """Every (event, signature) match of `events`, as MATCH_SCHEMA rows sorted by row then catalogue order.

    `events` is an event frame (analyzer.events), or any frame holding `text`
    and the columns the signatures' `when` conditions name. Point signatures
    are resolved by priority per event; window signatures list every event
    their `when`/pattern selects.
    """
    if events.height == 0 or len(sigs) == 0:
        return empty_matches()
    candidates = _candidate_rows(events, sigs)
    queries = [
        _match_one(events, sig, order, candidates.get(order))
        for order, sig in enumerate(sigs)
        if not sig.keywords or order in candidates
    ]
    found = pl.concat(pl.collect_all(queries)) if queries else empty_matches()
    if found.height == 0:
        return empty_matches()
    best = pl.col("priority") == pl.col("priority").max().over("row")
    point = found.filter(~pl.col("window")).filter(best)
    return pl.concat([point, found.filter(pl.col("window"))]).sort("row", "order").select(list(MATCH_SCHEMA))


# ---------------------------------------------------------------------------
# Examples: every signature carries records it must and must not match
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExampleFailure:
    """One example that did not behave: which signature, which example, and why."""

    signature: str
    kind: str  # "match" or "no_match"
    index: int  # position in the signature's `match` / `no_match` list
    reason: str

    def __str__(self) -> str:
        return f"{self.signature}: {self.kind}[{self.index}]: {self.reason}"


def _describe(events: pl.DataFrame) -> str:
    """How the pipeline read an example: what a failing `when` condition saw."""
    fields = ("format", "level", "logger", "http_status", "duration_ms", "sqlstate", "exc_type")
    parts = []
    for row in events.select(fields).iter_rows(named=True):
        parts.append(", ".join(f"{k}={v}" for k, v in row.items() if v is not None))
    return f"read as {len(parts)} event(s): " + "; ".join(f"[{p}]" for p in parts)


def check_examples(sigs: SignatureSet, ids: Iterable[str] | None = None) -> list[ExampleFailure]:
    """Run the examples of `ids` (default: all) against the whole set; the failures, in catalogue order.

    Each example is written to its own file and read by the real ingest
    pipeline, so format detection, multi-line joining and field parsing are
    what a real run does and `when` conditions on level, format or http_status
    are checked for real. It is then matched against every signature of the
    set, so priorities apply: a `match` example must yield a match of its
    signature, a `no_match` example must not. A window signature's example only
    has to be selected (counting a window is not part of an example).
    """
    wanted = set(ids) if ids is not None else None
    cases = [
        (sig, kind, index, text)
        for sig in sigs
        if wanted is None or sig.id in wanted
        for kind, texts in (("match", sig.examples.match), ("no_match", sig.examples.no_match))
        for index, text in enumerate(texts)
    ]
    if not cases:
        return []
    with tempfile.TemporaryDirectory(prefix="logscan-examples-") as tmp:
        inputs = []
        for n, (_, _, _, text) in enumerate(cases):
            path = Path(tmp, f"{n}.log")
            path.write_text(text, encoding="utf-8")
            inputs.append(Input(str(path)))
        batches = list(Pipeline(Diagnostics()).run(inputs))
    events = pl.concat(batches) if batches else empty_events()
    case_of = events.get_column("source").str.extract(r"(\d+)\.log$", 1).cast(pl.Int64)
    found = match_events(events, sigs)
    found = found.with_columns(case_of.gather(found.get_column("row")).alias("case"))
    failures = []
    for n, (sig, kind, index, _) in enumerate(cases):
        hits = found.filter(pl.col("case") == n)
        mine = hits.filter(pl.col("signature") == sig.id)
        if kind == "match" and mine.height == 0:
            others = sorted(set(hits.get_column("signature")))
            also = f"; matched instead: {', '.join(others)}" if others else ""
            read = _describe(events.filter(case_of == n))
            failures.append(ExampleFailure(sig.id, kind, index, f"no match; {read}{also}"))
        elif kind == "no_match" and mine.height:
            failures.append(ExampleFailure(sig.id, kind, index, f"matched (captures {mine.get_column('captures')[0]})"))
    return failures
