"""gunicorn's access log (and any Common/Combined Log Format line): `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s ...`.

gunicorn's default `access_log_format` is
`%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"` (reference 1.6):
`127.0.0.1 - - [03/Dec/2026:18:54:33 +0000] "POST /orders HTTP/1.1" 422 2 "-" "curl/7.88.1"`.
Deployments often append the request time: `%(D)s` (microseconds), `%(L)s`
(seconds, decimal) or `%(M)s` (milliseconds), or `key=value` extras
(`request_time=%(L)s request_id=%({x-request-id}i)s`). Trailing bare numbers
are read as gunicorn prints them: a decimal one is `%(L)s`; integers are
`%(D)s` (the first, or the only one: the one gunicorn's docs show), so
`%(D)s %(L)s %(M)s` reads the same duration three ways. The extras are the
space-separated fields after the status and size (and after the referer and user
agent, when the line has them), whatever follows them: a request-ID header
(`%({x-request-id}i)s`, `%({x-correlation-id}i)s`) prints a bare value there,
which is the request ID when it is shaped like one (a UUID, or 16 to 64 hex
digits; `-`, the header missing, is none). Method, path and status come from the
shared request step (analyzer.ingest.formats.common.request_fields), `key=value`
durations and request IDs too.
"""

from __future__ import annotations

import polars as pl

from analyzer.ingest.formats import common
from analyzer.ingest.formats.base import Format

HEADER = r'^\S+ \S+ \S+ \[[0-9][0-9]/[A-Z][a-z]{2}/[0-9]{4}:[0-9][0-9]:[0-9][0-9]:[0-9][0-9] [+-][0-9]{4}\] "'
_Q = r'"(?:[^"\\]|\\.)*"'  # a quoted field
#: What the extras follow: `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s`, then `"%(f)s" "%(a)s"` if present.
_FIXED = rf"^\S+ \S+ \S+ \[[^\]]*\] {_Q} [0-9]{{3}} \S+(?: {_Q} {_Q})?"
_NUMBER = r"^[0-9]+(?:\.[0-9]+)?$"
_ID = rf"^{common.ID_SHAPE}$"


def _duration(extras: pl.Expr) -> pl.Expr:
    """Milliseconds from the bare numbers among the extras: the first decimal one is seconds (`%(L)s`),
    else the first integer is microseconds (`%(D)s`)."""
    numbers = extras.list.eval(pl.element().filter(pl.element().str.contains(_NUMBER)))
    seconds = numbers.list.eval(pl.element().filter(pl.element().str.contains(".", literal=True))).list.first()
    return pl.coalesce(
        seconds.cast(pl.Float64, strict=False) * 1000, numbers.list.first().cast(pl.Float64, strict=False) / 1000
    )


def parse(records: pl.DataFrame) -> pl.DataFrame:
    head = pl.col("head")
    extras = head.str.replace(_FIXED, "").str.strip_chars(" ").str.split(" ")
    parts = records.select(
        head.str.extract(r"^\S+ \S+ \S+ \[([^\]]+)\]", 1).alias("time"),
        pl.when(head.str.contains(_FIXED)).then(extras).alias("extras"),
    )
    return records.select(
        head.alias("message"),
        pl.lit("gunicorn.access").alias("logger"),
        pl.lit("info").alias("level"),
    ).with_columns(
        parts.select(pl.col("time").str.to_datetime("%d/%b/%Y:%H:%M:%S %z", time_unit="us", strict=False)
                     .dt.convert_time_zone("UTC")).to_series().alias("ts"),
        parts.select(_duration(pl.col("extras"))).to_series().alias("duration_ms"),
        parts.select(pl.col("extras").list.eval(pl.element().filter(pl.element().str.contains(_ID))).list.first())
        .to_series().alias("request_id"),
    )


FORMAT = Format("gunicorn_access", HEADER, parse, rank=70)
