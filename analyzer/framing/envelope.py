"""Envelopes: what Docker and Compose wrap around an application's lines.

Three shapes are unwrapped into (service, stream, envelope timestamp, line):
the Docker json-file driver (`{"log": ..., "stream": ..., "time": ...}`, with
16 KiB partial entries rejoined), `docker compose logs` prefixes for Compose
v1 (`web_1  | `), v2.0–2.23 (`project-web-1  | `) and v2.23.1+ (`web-1  | `)
with or without `--timestamps`, and `docker logs -t` timestamps. Compose's own
status lines (`web-1 exited with code 137`) are kept as records of their own.
Detection looks at a sample of each input once; see reference section 8.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

import polars as pl
import regex

from analyzer.events import UTC_TS
from analyzer.formats.common import iso_ts
from analyzer.jsonrows import decode

Envelope = Literal["raw", "docker_json", "compose", "docker_ts"]

_DOCKER_PREFIX: Final = '{"log":"'
_COMPOSE_PREFIX: Final = r"^([A-Za-z0-9][\w.-]*) +\|(?: |$)"
_COMPOSE_STATUS: Final = (
    r"^(?:Attaching to .+|([A-Za-z0-9][\w.-]*) (?:exited with code \d+.*|has been recreated|is up-to-date)"
    r"|Gracefully [Ss]topping\.\.\..*|Aborting on container exit\.\.\..*|Stopping [\w.-]+ *\.\.\..*)$"
)
_RFC3339: Final = r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) "
_DOCKER_SCHEMA: Final = pl.Struct({"log": pl.String, "stream": pl.String, "time": pl.String})
_INDEX = regex.compile(r"^(?P<name>.+?)[-_](?P<index>\d+)$")


def detect(sample: list[str]) -> Envelope:
    """Which envelope an input uses, from its first lines (a clear majority decides)."""
    lines = [ln for ln in sample if ln.strip()][:200]
    if not lines:
        return "raw"
    need = max(1, (len(lines) * 3) // 5)
    if sum(ln.startswith(_DOCKER_PREFIX) for ln in lines) >= need:
        return "docker_json"
    prefix = regex.compile(_COMPOSE_PREFIX)
    status = regex.compile(_COMPOSE_STATUS)
    if sum(bool(prefix.match(ln) or status.match(ln)) for ln in lines) >= need:
        return "compose"
    if sum(bool(regex.match(_RFC3339, ln)) for ln in lines) >= need:
        return "docker_ts"
    return "raw"


@dataclass
class ComposeNames:
    """Maps compose container names to service names, stripping index and project prefix.

    Compose v2.0–2.23 prints `<project>-<service>-<index>`; the project prefix is
    recognised once two containers share it and stripping it leaves a service
    name in front of every index.
    """

    project: str | None = None
    seen: set[str] = field(default_factory=set)
    prefixed: set[str] = field(default_factory=set)  # names seen in `name  | ` prefixes

    def learn(self, names: list[str]) -> None:
        new = set(names) - self.seen
        if not new:
            return
        self.seen |= new
        if self.project is None and len(self.seen) >= 2:
            first, *rest = sorted(self.seen)
            common = first
            for name in rest:
                while not name.startswith(common):
                    common = common[:-1]
            cut = max(common.rfind("-"), common.rfind("_"))
            candidate = common[: cut + 1] if cut > 0 else ""
            if candidate and all(_INDEX.match(n[len(candidate) :]) for n in self.seen):
                self.project = candidate

    def service(self, name: str) -> str:
        # Compose v1 names containers `<project>_<service>_<n>` in status lines but `<service>_<n>` in prefixes
        for known in self.prefixed:
            if name != known and name.endswith(known) and name[-len(known) - 1] in "-_":
                name = known
                break
        if self.project and name.startswith(self.project) and _INDEX.match(name[len(self.project) :]):
            name = name[len(self.project) :]
        m = _INDEX.match(name)
        return m["name"] if m else name


def take_timestamp(frame: pl.DataFrame) -> pl.DataFrame:
    """Move a leading RFC 3339 timestamp (`docker logs -t`, `compose logs -t`) into env_ts."""
    stamp = pl.col("line").str.extract(_RFC3339, 1)
    return frame.with_columns(
        pl.coalesce(iso_ts(stamp), pl.col("env_ts")).alias("env_ts"),
        pl.when(stamp.is_not_null()).then(pl.col("line").str.slice(stamp.str.len_chars() + 1)).otherwise(pl.col("line")).alias("line"),
    )


def unwrap_compose(frame: pl.DataFrame, names: ComposeNames) -> pl.DataFrame:
    """Split `name  | line` into service + line; compose's status lines keep their text and name the container."""
    line = pl.col("line")
    frame = frame.with_columns(
        line.str.extract(_COMPOSE_PREFIX, 1).alias("_container"),
        line.str.extract(_COMPOSE_STATUS, 1).alias("_status_of"),
        line.str.contains(_COMPOSE_STATUS).alias("compose_status"),
    )
    frame = frame.with_columns(
        pl.when(pl.col("_container").is_not_null())
        .then(line.str.slice(line.str.find("|", literal=True) + 2))
        .otherwise(line)
        .alias("line"),
    )
    containers = frame.get_column("_container").drop_nulls().unique().to_list()
    status_of = frame.get_column("_status_of").drop_nulls().unique().to_list()
    names.prefixed.update(containers)
    names.learn(containers + status_of)
    mapping = {n: names.service(n) for n in containers + status_of}
    container = pl.coalesce(pl.col("_container"), pl.col("_status_of"))
    frame = frame.with_columns(
        pl.coalesce(
            container.replace_strict(mapping, default=None, return_dtype=pl.String),
            pl.when(pl.col("compose_status")).then(pl.lit("compose")),
            pl.col("service"),
        ).alias("service"),
    ).drop("_container", "_status_of")
    prefixed = frame.filter(~pl.col("compose_status"))
    if prefixed.height and prefixed.get_column("line").str.contains(_RFC3339).any():
        frame = take_timestamp(frame)
    return frame


def unwrap_docker_json(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Unwrap json-file entries; returns the frame and how many lines were not valid entries.

    A line that is not a valid entry keeps its raw text (nothing is lost) and
    is counted. `partial` marks entries without a trailing newline (16 KiB
    pieces of a longer line, to be rejoined).
    """
    rows = decode(frame.get_column("line"), _DOCKER_SCHEMA)
    valid = rows.get_column("_valid") & rows.get_column("log").is_not_null()
    bad = int((~valid).sum())
    log = rows.get_column("log")
    frame = frame.with_columns(
        pl.when(valid).then(log.str.strip_suffix("\n")).otherwise(pl.col("line")).alias("line"),
        pl.when(valid).then(rows.get_column("stream")).otherwise(pl.col("stream")).alias("stream"),
        pl.when(valid).then(iso_ts(rows.get_column("time").alias("t"))).otherwise(pl.lit(None, dtype=UTC_TS)).alias("env_ts"),
        (valid & ~log.str.ends_with("\n").fill_null(True)).alias("partial"),
    )
    return frame, bad


def rejoin_partials(frame: pl.DataFrame) -> pl.DataFrame:
    """Concatenate each run of partial entries with the entry that ends it (same stream).

    All pieces of a split line carry the first piece's time (reference 8.1).
    A run still open at the end of the frame stays partial (the caller holds it).
    """
    if not frame.get_column("partial").any():
        return frame
    ended = (~pl.col("partial")).cast(pl.Int64)
    frame = frame.with_columns(ended.cum_sum().shift(1, fill_value=0).over("stream").alias("_piece"))
    joined = frame.group_by(["stream", "_piece"], maintain_order=True).agg(
        pl.col("line_no").first(),
        pl.col("nphys").sum(),
        pl.col("line").str.join(""),
        pl.col("partial").last(),
        pl.exclude("line_no", "nphys", "line", "partial").first(),
    )
    return joined.drop("_piece").select(frame.drop("_piece").columns).sort("line_no")
