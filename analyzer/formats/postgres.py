"""PostgreSQL's stderr log, whatever the `log_line_prefix` (13–18).

Every record is `<prefix><SEVERITY>:  <text>` with two spaces after the colon
(reference 3.1). The prefix usually starts with `%m` or `%t` and holds `[%p]`;
common settings also print `%u@%d` or `user=%u,db=%d,app=%a,client=%h`, which
are read when present. DETAIL/HINT/QUERY/CONTEXT/LOCATION/STATEMENT lines and
TAB-led lines continue the previous record.
"""

from __future__ import annotations

import polars as pl

from analyzer.formats import common
from analyzer.formats.base import Format

_TS = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?"
_SEVERITY = r"LOG|ERROR|FATAL|PANIC|WARNING|NOTICE|INFO|DEBUG[1-5]?"
_AUX = r"DETAIL|HINT|QUERY|CONTEXT|LOCATION|STATEMENT"
HEADER = rf"^{_TS}(?: [A-Za-z][\w+:/-]*| [+-]\d\d(?::?\d\d)?)? .*?(?-u:\b)(?:{_SEVERITY}|{_AUX}):  "
AUX = rf"^{_TS}(?: [A-Za-z][\w+:/-]*| [+-]\d\d(?::?\d\d)?)? .*?(?-u:\b)(?:{_AUX}):  "
_SEVERITY_AT = rf"(?-u:\b)(?:{_SEVERITY}):  "
_TS_AT = rf"^({_TS})"
_ZONE_AT = r"^\S+ \S+ ([A-Za-z][\w+:/-]*|[+-]\d\d(?::?\d\d)?) "


def _prefix_fields(prefix: pl.Expr) -> list[pl.Expr]:
    at_form = prefix.str.extract_groups(r"(?:^|\s)(?P<u>[^\s@\[\]]+|\[unknown\])@(?P<d>[^\s@\[\]]+|\[unknown\])")
    user = pl.coalesce(prefix.str.extract(r"(?-u:\b)user=([^,\s\]]+)", 1), at_form.struct.field("u"))
    db = pl.coalesce(prefix.str.extract(r"(?-u:\b)db=([^,\s\]]+)", 1), at_form.struct.field("d"))
    return [
        prefix.str.extract(r"\[(\d+)\]", 1).cast(pl.Int64, strict=False).alias("pid"),
        pl.when(user == "[unknown]").then(None).otherwise(user).alias("db_user"),
        pl.when(db == "[unknown]").then(None).otherwise(db).alias("db_name"),
        prefix.str.extract(r"(?-u:\b)app=([^,\s\]]+)", 1).alias("logger"),
    ]


def statement_duration(message: pl.Expr) -> pl.Expr:
    """`duration: 50.255 ms  statement: ...` -> 50.255."""
    return message.str.extract(r"^duration: ([0-9.]+) ms", 1).cast(pl.Float64, strict=False)


def parse(records: pl.DataFrame) -> pl.DataFrame:
    head = pl.col("head")
    at = head.str.find(_SEVERITY_AT)
    tail = head.str.slice(at)
    colon = tail.str.find(":", literal=True)
    message = tail.str.slice(colon + 3)
    return records.select(
        common.zoned_ts(head.str.extract(_TS_AT, 1), "%Y-%m-%d %H:%M:%S%.f", head.str.extract(_ZONE_AT, 1).fill_null("UTC")).alias("ts"),
        common.level(tail.str.slice(0, colon)).alias("level"),
        message.alias("message"),
        statement_duration(message).alias("duration_ms"),
        *_prefix_fields(head.str.slice(0, at).fill_null("")),
    ).with_columns(pl.coalesce(pl.col("logger"), pl.lit("postgres")).alias("logger"))


def record_text(ts: pl.Expr, pid: pl.Expr, severity: pl.Expr, message: pl.Expr, fields: dict[str, pl.Expr]) -> pl.Expr:
    """Render a structured (csv/json) record as the stderr log would, so signatures see one shape.

    `fields` maps a label (DETAIL, HINT, ...) to its column; null or empty fields
    are left out. Embedded newlines become newline + TAB, as in the stderr log.
    """

    def tabbed(value: pl.Expr) -> pl.Expr:
        return value.str.replace_all("\n", "\n\t", literal=True)

    parts = [pl.format("{} [{}] {}:  {}", ts, pid.cast(pl.String).fill_null(""), severity, tabbed(message.fill_null("")))]
    for label, value in fields.items():
        parts.append(
            pl.when(value.is_not_null() & (value != ""))
            .then(pl.format("\n{}:  {}", pl.lit(label), tabbed(value)))
            .otherwise(pl.lit(""))
        )
    return pl.concat_str(parts)


def structured_events(rows: pl.DataFrame, names: dict[str, str], fields: dict[str, str]) -> pl.DataFrame:
    """Event columns of csvlog/jsonlog rows; `names` maps time/pid/severity/message/sqlstate/user/db/backend
    to the row's column names, `fields` maps stderr labels (DETAIL, ...) to columns."""
    c = {key: pl.col(name) for key, name in names.items()}
    zone = c["time"].str.extract(r" (\S+)$", 1)
    return rows.select(
        common.zoned_ts(c["time"].str.replace(r" \S+$", ""), "%Y-%m-%d %H:%M:%S%.f", zone).alias("ts"),
        c["pid"].cast(pl.Int64, strict=False).alias("pid"),
        common.level(c["severity"]).alias("level"),
        c["message"].str.split("\n").list.first().alias("message"),
        c["sqlstate"].alias("sqlstate"),
        c["user"].alias("db_user"),
        c["db"].alias("db_name"),
        pl.coalesce(c["backend"], pl.lit("postgres")).alias("logger"),
        statement_duration(c["message"]).alias("duration_ms"),
        record_text(c["time"], c["pid"], c["severity"], c["message"], {k: pl.col(v) for k, v in fields.items()}).alias("text"),
    )


FORMAT = Format("postgres", HEADER, parse, aux=AUX)
