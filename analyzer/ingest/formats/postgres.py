"""PostgreSQL's stderr log, whatever the `log_line_prefix` (13–18).

Every record is `<prefix><SEVERITY>:  <text>` with two spaces after the colon
(reference 3.1). The prefix usually starts with `%m` or `%t` and holds `[%p]`;
common settings also print `%u@%d` or `user=%u,db=%d,app=%a,client=%h`, which
are read when present. DETAIL/HINT/QUERY/CONTEXT/LOCATION/STATEMENT lines and
TAB-led lines continue the previous record. The lines the official Docker
image's `docker-entrypoint.sh` prints before the server starts (reference 3.5)
are records of their own, with no time or level.
"""

from __future__ import annotations

import polars as pl

from analyzer.ingest.formats import common
from analyzer.ingest.formats.base import Format

_TS = r"[0-9]{4}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]+)?"
_SEVERITY = r"LOG|ERROR|FATAL|PANIC|WARNING|NOTICE|INFO|DEBUG[1-5]?"
_AUX = r"DETAIL|HINT|QUERY|CONTEXT|LOCATION|STATEMENT"
ENTRYPOINT = (
    r"^PostgreSQL (?:Database directory appears to contain a database; Skipping initialization"
    r"|init process complete; ready for start up\.)$"
)
_LEAD = r"(?:\S+ ){0,2}"  # prefix escapes before the time (`[%p] %m `): at most two words
HEADER = (
    rf"^(?:{_LEAD}{_TS}(?: [A-Za-z][A-Za-z0-9_+:/-]*| [+-][0-9][0-9](?::?[0-9][0-9])?)? .*?(?-u:\b)(?:{_SEVERITY}|{_AUX}):  "
    rf"|{ENTRYPOINT[1:]})"
)
AUX_WORDS = rf"(?:{_AUX}):  "
AUX = rf"^{_LEAD}{_TS}(?: [A-Za-z][A-Za-z0-9_+:/-]*| [+-][0-9][0-9](?::?[0-9][0-9])?)? .*?(?-u:\b)(?:{_AUX}):  "
_HUGE_PID = r"\[[0-9]{10,}\]"  # a `[%p]` too long for a pid: read only where it appears
_SEVERITY_AT = rf"(?-u:\b)(?:{_SEVERITY}):  "
_ZONE = r"^(?:[A-Za-z][A-Za-z0-9_+:/-]*|[+-][0-9][0-9](?::?[0-9][0-9])?)$"  # the third space-separated word, when it is a zone
_VALUE = r"(\[unknown\]|[^,\s\[\]]+)"  # a `user=%u`-style value: empty before authentication, `[unknown]` while it runs
_AT_FORM = r"(?:^|[\s:])(?P<u>[^\s@\[\]:]+|\[unknown\])@(?P<d>[^\s@\[\]:]+|\[unknown\])"  # `%u@%d`, also `%r:%u@%d:`
#: The zone after `%t`/`%m` when the prefix goes on without a space (`%t:%r:%u@%d:[%p]: ` prints `UTC:10.0.0.5(5432):...`).
_ZONE_BEFORE_COLON = r"^([A-Za-z][A-Za-z0-9_+/-]*|[+-][0-9][0-9](?::?[0-9][0-9])?):"


def _prefix_fields(prefix: pl.DataFrame) -> pl.DataFrame:
    """pid, user, database and application from the distinct prefixes (column `v`): what `log_line_prefix`
    printed between the time and the severity (`[7]: [3-1] user=app,db=shop,app=api `, `[16454] app@shop `)."""
    p, user, db = pl.col("v"), pl.col("db_user"), pl.col("db_name")
    at_form = p.str.extract_groups(_AT_FORM)  # `%u@%d`
    fields = prefix.select(
        p.str.extract(r"\[([0-9]+)\]", 1).cast(pl.Float64, strict=False).alias("pid"),
        pl.coalesce(p.str.extract(r"(?-u:\b)user=" + _VALUE, 1), at_form.struct.field("u")).alias("db_user"),
        pl.coalesce(p.str.extract(r"(?-u:\b)db=" + _VALUE, 1), at_form.struct.field("d")).alias("db_name"),
        p.str.extract(r"(?-u:\b)app=" + _VALUE, 1).alias("logger"),
    )
    app = pl.col("logger")
    return fields.with_columns(
        pl.when(user == "[unknown]").then(None).otherwise(user).alias("db_user"),
        pl.when(db == "[unknown]").then(None).otherwise(db).alias("db_name"),
        pl.when(app == "[unknown]").then(None).otherwise(app).alias("logger"),
    )


def statement_duration(message: pl.Expr) -> pl.Expr:
    """`duration: 50.255 ms  statement: ...` -> 50.255."""
    return message.str.extract(r"^duration: ([0-9.]+) ms", 1).cast(pl.Float64, strict=False)


def parse(records: pl.DataFrame) -> pl.DataFrame:
    """Event columns of stderr records; a prefix that prints something before the time (`[%p] %m %a `) is
    read from the time on, and what came before it is read for the fields too."""
    head = records.get_column("head")
    led = ~head.str.contains(r"^(?:[0-9]|PostgreSQL )").fill_null(True)
    if not led.any():
        return _parse(records)
    events = _parse(records) if not led.all() else None
    lines = head.filter(led)
    at = lines.str.find(_TS)
    lead = lines.str.slice(0, at).fill_null("")
    inner = _parse(records.filter(led).with_columns(lines.str.slice(at.fill_null(0)).alias("head")))
    found = common.by_value(lead, _prefix_fields)
    inner = inner.with_columns(
        pl.coalesce(found.get_column(c), inner.get_column(c)).alias(c) for c in ("pid", "db_user", "db_name")
    )
    if events is None:
        return inner
    return common.patch(events, led, inner.select(events.columns))


def light(records: pl.DataFrame) -> pl.DataFrame:
    """What the screen's light parse needs (analyzer.ingest.formats.base.Format.light), as `parse` reads it."""
    led = ~records.get_column("head").str.contains(r"^(?:[0-9]|PostgreSQL )").fill_null(True)
    return parse(records) if led.any() else _light(records)  # a prefix before the time: rare, read whole


def _parse(records: pl.DataFrame) -> pl.DataFrame:
    head, at, tail = pl.col("head"), pl.col("at"), pl.col("tail")
    # `date time [zone] <rest of the prefix>SEVERITY:  message`
    parts = records.select(
        head, head.str.find(_SEVERITY_AT).alias("at"), head.str.splitn(" ", 4).alias("words")
    ).with_columns(
        head.str.slice(at).alias("tail"),
        # after `date time `: the time part holds none of the fields, and the rest repeats from line to line
        head.str.slice(0, at).fill_null("").str.slice(12 + pl.col("words").struct.field("field_1").str.len_chars()).alias("prefix"),
        head.str.head(11 + pl.col("words").struct.field("field_1").str.len_chars()).alias("time"),
        pl.when(pl.col("words").struct.field("field_3").is_not_null())
        .then(pl.col("words").struct.field("field_2"))
        .alias("zone"),
    )
    parts = parts.with_columns(tail.str.find(":", literal=True).alias("colon"))
    events = parts.select(tail.str.slice(pl.col("colon") + 3).alias("message")).with_columns(
        statement_duration(pl.col("message")).alias("duration_ms"),
        common.levels(parts.select(tail.str.slice(0, pl.col("colon"))).to_series()).alias("level"),
    )
    events = events.with_columns(_times(parts).alias("ts")).hstack(common.by_value(parts.get_column("prefix"), _prefix_fields).get_columns())
    other = events.get_column("message").is_null()  # no severity: maybe a docker-entrypoint.sh line
    entry = common.on_rows(other, records.filter(other).select(head.str.contains(ENTRYPOINT)).to_series(), False)
    return events.with_columns(
        pl.when(entry).then(records.get_column("head")).otherwise(pl.col("message")).alias("message"),
        pl.when(entry)
        .then(pl.lit("docker-entrypoint.sh"))
        .otherwise(pl.coalesce(pl.col("logger"), pl.lit("postgres")))
        .alias("logger"),
    )


def _times(parts: pl.DataFrame) -> pl.Series:
    """UTC times from the `time` and `zone` parts of `_parse`."""
    v = pl.col("v")
    zone = common.per_value(parts.get_column("zone"), pl.when(v.str.contains(_ZONE) & ~v.str.contains(":", literal=True))
                            .then(v).otherwise(v.str.extract(_ZONE_BEFORE_COLON, 1)))
    return common.zoned_times(parts.get_column("time"), "%Y-%m-%d %H:%M:%S%.f", zone.fill_null("UTC"))


def _light(records: pl.DataFrame) -> pl.DataFrame:
    """`ts`, whether the record parses (`message` null or not: `_parse` finds a message wherever it finds a
    severity, whose match holds the colon it reads the message after), its statement's duration, and a pid
    only where one may be out of range (ten digits or more), each read as `_parse` reads it, and the durations
    and prefixes only of the records that hold `duration: ` or such a number at all."""
    head = records.get_column("head")
    words = pl.col("words").struct
    parts = records.select(
        "head", pl.col("head").str.find(_SEVERITY_AT).alias("at"), pl.col("head").str.splitn(" ", 4).alias("words")
    ).select(
        "at",
        pl.col("head").str.head(11 + words.field("field_1").str.len_chars()).alias("time"),
        pl.when(words.field("field_3").is_not_null()).then(words.field("field_2")).alias("zone"),
        words.field("field_1").str.len_chars().alias("time_chars"),
    )
    found = parts.get_column("at").is_not_null()
    entry = common.on_rows(~found, head.filter(~found).str.contains(ENTRYPOINT), False)
    message = pl.select(pl.when(found | entry).then(pl.lit("")).otherwise(pl.lit(None, dtype=pl.String))).to_series()
    events = pl.DataFrame({"message": message, "ts": _times(parts)})
    timed = found & head.str.contains("duration: ", literal=True)
    at = parts.get_column("at").filter(timed)
    said = head.filter(timed).str.slice(at)
    said = said.str.slice(said.str.find(":", literal=True) + 3)
    duration = common.on_rows(timed, said.to_frame("m").select(statement_duration(pl.col("m"))).to_series(), None)
    pid = pl.repeat(None, records.height, dtype=pl.Float64, eager=True)
    numbered = head.str.contains(_HUGE_PID).fill_null(False)
    if numbered.any():
        mine = parts.filter(numbered)
        prefix = head.filter(numbered).str.slice(0, mine.get_column("at")).fill_null("").str.slice(
            12 + mine.get_column("time_chars"))
        huge = common.on_rows(numbered, prefix.str.contains(_HUGE_PID).fill_null(False), False)
        if huge.any():
            pid = common.on_rows(huge, common.by_value(prefix.filter(huge.filter(numbered)), _prefix_fields).get_column("pid"), None)
    return events.with_columns(duration.alias("duration_ms"), pid.alias("pid"))


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
    time = rows.select(c["time"].str.replace(r" \S+$", "").alias("local"), c["time"].str.extract(r" (\S+)$", 1).alias("zone"))
    events = rows.select(
        c["pid"].cast(pl.Float64, strict=False).alias("pid"),
        c["message"].str.splitn("\n", 2).struct.field("field_0").alias("message"),
        c["sqlstate"].alias("sqlstate"),
        c["user"].alias("db_user"),
        c["db"].alias("db_name"),
        pl.coalesce(c["backend"], pl.lit("postgres")).alias("logger"),
        statement_duration(c["message"]).alias("duration_ms"),
        record_text(c["time"], c["pid"], c["severity"], c["message"], {k: pl.col(v) for k, v in fields.items()}).alias("text"),
    )
    return events.with_columns(
        common.zoned_times(time.get_column("local"), "%Y-%m-%d %H:%M:%S%.f", time.get_column("zone")).alias("ts"),
        common.levels(rows.get_column(names["severity"])).alias("level"),
    )


FORMAT = Format("postgres", HEADER, parse, aux=AUX, aux_words=AUX_WORDS, light=light, rank=80, database=True)
