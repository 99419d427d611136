"""Envelopes: what Docker, Kubernetes, Compose and syslog/journald wrap around an application's lines.

Five shapes are unwrapped into (service, stream, envelope timestamp, line):
the Docker json-file driver (`{"log": ..., "stream": ..., "time": ...}`, with
16 KiB partial entries rejoined), the CRI log files of Kubernetes nodes
(containerd, CRI-O: `<RFC 3339 time> stdout|stderr P|F <line>`, `P` pieces rejoined;
the container is the service, named by the file's path), `docker compose logs` prefixes for Compose
v1 (`web_1  | `), v2.0–2.23 (`project-web-1  | `) and v2.23.1+ (`web-1  | `)
with or without `--timestamps`, and `docker logs -t` timestamps. Compose's own
status lines (`web-1 exited with code 137`) are kept as records of their own.
Services run by systemd log through journald or syslog instead: `journalctl`'s
`short`, `short-precise` and `short-iso` output and rsyslog's traditional and
RFC 3339 files print `<time> <host> <identifier>[<pid>]: <line>`; the identifier
is the service, each process its own stream (two workers' tracebacks never
interleave into one record), and PostgreSQL's `syslog_sequence_numbers` prefix
(`[12-1] `) is dropped. A time without a year (`Dec  4 00:52:08`) is taken as
UTC in the latest year that puts it at most a day in the future. Detection looks at a
sample of each input once; see reference section 8.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

import polars as pl
import regex

from analyzer.events import UTC_TS
from analyzer.ingest.formats.common import iso_times, on_rows
from analyzer.ingest.framing.runs import collapse_runs, per_stream
from analyzer.ingest.framing.streams import Streams
from analyzer.ingest.jsonrows import decode

Envelope = Literal["raw", "docker_json", "cri", "compose", "docker_ts", "syslog"]

_DOCKER_PREFIX: Final = '{"log":"'
_COMPOSE_PREFIX: Final = r"^([A-Za-z0-9][A-Za-z0-9_.-]*) +\|(?: |$)"
_COMPOSE_STATUS: Final = (
    r"^(?:Attaching to .+|([A-Za-z0-9][A-Za-z0-9_.-]*) (?:exited with code [0-9]+.*|has been recreated|is up-to-date)"
    r"|Gracefully [Ss]topping\.\.\..*|Aborting on container exit\.\.\..*|Stopping [A-Za-z0-9_.-]+ *\.\.\..*)$"
)
_RFC3339: Final = r"^([0-9]{4}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]+)?(?:Z|[+-][0-9][0-9]:[0-9][0-9])) "
_BSD_TIME: Final = r"[A-Z][a-z]{2} [ 0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]+)?"
_ISO_TIME: Final = r"[0-9]{4}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]+)?(?:Z|[+-][0-9][0-9]:?[0-9][0-9])?"
#: `Dec 04 00:52:08 web1 uvicorn[2211]: ` (journalctl short, rsyslog traditional), `short-precise` with
#: microseconds, `2026-12-04T00:52:08+0000 web1 ...` (short-iso) or `...08.123456+00:00 ...` (rsyslog RFC 3339).
_SYSLOG: Final = (
    rf"^(?:(?P<bsd>{_BSD_TIME})|(?P<iso>{_ISO_TIME})) (?P<host>\S+) (?P<ident>[^\s\[\]:]+)(?:\[(?P<pid>[0-9]+)\])?: "
)
#: containerd prints RFC3339Nano (`...18.1234Z`, trailing zeros cut), CRI-O nine digits and an offset; the tag is
#: `P` (a piece of a longer line) or `F`, maybe followed by more `:`-separated tags (cri-api constants.go).
_CRI: Final = r"^([0-9]{4}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]+)?(?:Z|[+-][0-9][0-9]:[0-9][0-9])) (stdout|stderr) ([PF])(?::\S*)? "
#: `/var/log/pods/<namespace>_<pod>_<uid>/<container>/0.log` and `/var/log/containers/<pod>_<namespace>_<container>-<id>.log`
_POD_LOG: Final = regex.compile(r"/pods/[^/]+/(?P<container>[^/]+)/\d+\.log(?:\.[^/]*)?$")
_CONTAINER_LOG: Final = regex.compile(r"/containers/[^/_]+_[^/_]+_(?P<container>[^/]+)-[0-9a-f]{64}\.log$")
_PG_SEQUENCE: Final = r"^\[[0-9]+-[0-9]+\] "  # PostgreSQL's syslog_sequence_numbers
_DOCKER_SCHEMA: Final = pl.Struct({"log": pl.String, "stream": pl.String, "time": pl.String})
_INDEX = regex.compile(r"^(?P<name>.+?)[-_](?P<index>\d+)$")
_PREFIX_RE = regex.compile(_COMPOSE_PREFIX)


def detect(sample: list[str]) -> Envelope:
    """Which envelope an input uses, from its first lines (a clear majority decides)."""
    lines = [ln for ln in sample if ln.strip()][:200]
    if not lines:
        return "raw"
    need = max(1, (len(lines) * 3) // 5)
    if sum(ln.startswith(_DOCKER_PREFIX) for ln in lines) >= need:
        return "docker_json"
    cri = regex.compile(_CRI)
    if sum(bool(cri.match(ln)) for ln in lines) >= need:  # before docker_ts: a CRI line starts with a time too
        return "cri"
    status = regex.compile(_COMPOSE_STATUS)
    if sum(bool(_PREFIX_RE.match(ln) or status.match(ln)) for ln in lines) >= need:
        return "compose"
    syslog = regex.compile(_SYSLOG)
    if sum(bool(syslog.match(ln)) for ln in lines) >= need:  # before docker_ts: short-iso starts with a time too
        return "syslog"
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
    stamp = frame.select(pl.col("line").str.extract(_RFC3339, 1)).to_series()
    line = pl.col("line")
    return frame.with_columns(
        pl.coalesce(iso_times(stamp), pl.col("env_ts")).alias("env_ts"),
        pl.when(stamp.is_not_null()).then(line.str.slice(stamp.str.len_chars() + 1)).otherwise(line).alias("line"),
    )


def unwrap_compose(frame: pl.DataFrame, names: ComposeNames, streams: Streams) -> pl.DataFrame:
    """Split `name  | line` into the service's stream (`sid`) + line; compose's status lines keep their text,
    are flagged, and belong to the container they name (or to the stream `compose`).

    The prefix pattern runs on the few distinct prefixes rather than on every
    line, and the status pattern only on the lines without a prefix.
    """
    line = pl.col("line")
    frame = frame.with_columns(line.str.find("|", literal=True).alias("_bar"))
    prefix = frame.select(line.str.head(pl.col("_bar") + 2)).to_series()  # `name  | ` if the line has a prefix
    containers = {p: m[1] for p in prefix.unique().drop_nulls().to_list() if (m := _PREFIX_RE.match(p))}
    index = prefix.replace_strict({p: i for i, p in enumerate(containers)}, default=None, return_dtype=pl.UInt32)
    bare = index.is_null()
    unprefixed = frame.get_column("line").filter(bare)
    status = unprefixed.str.contains(_COMPOSE_STATUS)
    status_of = unprefixed.str.extract(_COMPOSE_STATUS, 1)
    named = status_of.drop_nulls().unique().to_list()
    names.prefixed.update(containers.values())
    names.learn([*containers.values(), *named])
    sid = frame.get_column("sid")
    if containers:
        lut = pl.Series([streams.id(names.service(c)) for c in containers.values()], dtype=pl.UInt32)
        sid = lut.gather(index).fill_null(sid)
    if status.any():
        own = [pl.lit(streams.id("compose"), dtype=pl.UInt32)]
        if named:
            ids = {n: streams.id(names.service(n)) for n in named}
            own.insert(0, status_of.replace_strict(ids, default=None, return_dtype=pl.UInt32))
        sid = sid.scatter(bare.arg_true(), pl.select(pl.when(status).then(pl.coalesce(own)).otherwise(sid.filter(bare))).to_series())
    frame = frame.with_columns(
        sid.alias("sid"),
        pl.when(pl.lit(bare)).then(line).otherwise(line.str.slice(pl.col("_bar") + 2)).alias("line"),
        on_rows(bare, status, False).alias("compose_status"),
    ).drop("_bar")
    if frame.filter(~pl.col("compose_status")).get_column("line").str.contains(_RFC3339).any():
        frame = take_timestamp(frame)
    return frame


def unwrap_docker_json(frame: pl.DataFrame, streams: Streams, service: str) -> tuple[pl.DataFrame, int]:
    """Unwrap json-file entries; returns the frame and how many lines were not valid entries.

    A line that is not a valid entry keeps its raw text (nothing is lost) and
    is counted. `partial` marks entries without a trailing newline (16 KiB
    pieces of a longer line, to be rejoined); `sid` is the entry's stream.
    """
    rows = decode(frame.get_column("line"), _DOCKER_SCHEMA)
    valid = rows.get_column("_valid") & rows.get_column("log").is_not_null()
    bad = int((~valid).sum())
    log = rows.get_column("log")
    stream = pl.select(pl.when(valid).then(rows.get_column("stream"))).to_series()
    ids = {name: streams.id(service, name) for name in stream.drop_nulls().unique().to_list()}
    frame = frame.with_columns(
        pl.when(valid).then(log.str.strip_suffix("\n")).otherwise(pl.col("line")).alias("line"),
        stream.replace_strict(ids, default=streams.id(service), return_dtype=pl.UInt32).alias("sid"),
        pl.when(valid).then(iso_times(rows.get_column("time"))).otherwise(pl.lit(None, dtype=UTC_TS)).alias("env_ts"),
        (valid & ~log.str.ends_with("\n").fill_null(True)).alias("partial"),
    )
    return frame, bad


def _whole(prefix: str) -> str:
    """An anchored prefix pattern whose whole match is also the group `whole`: its fields and its length in one
    pass over the lines."""
    return f"^(?P<whole>{prefix.removeprefix('^')})"


def kubernetes_container(path: str) -> str | None:
    """The container a Kubernetes node's log file belongs to, by the kubelet's file layout (None: not one)."""
    m = _POD_LOG.search(path) or _CONTAINER_LOG.search(path)
    return m["container"] if m else None


def unwrap_cri(frame: pl.DataFrame, streams: Streams, service: str) -> pl.DataFrame:
    """Unwrap CRI log lines into the stream (`sid`), time and line; `partial` marks `P` pieces (to be rejoined).
    A line that is not one keeps its text."""
    line = pl.col("line")
    parts = frame.select(line.str.extract_groups(_whole(_CRI)).struct.rename_fields(["whole", "time", "stream", "tag"])
                         .struct.unnest()).with_columns(pl.col("whole").str.len_chars().alias("cut"))
    wrapped = parts.get_column("stream").is_not_null()
    ids = {name: streams.id(service, name) for name in parts.get_column("stream").drop_nulls().unique().to_list()}
    return frame.with_columns(
        pl.when(pl.lit(wrapped)).then(line.str.slice(pl.lit(parts.get_column("cut")))).otherwise(line).alias("line"),
        parts.get_column("stream").replace_strict(ids, default=None, return_dtype=pl.UInt32)
        .fill_null(frame.get_column("sid")).alias("sid"),
        iso_times(parts.get_column("time")).alias("env_ts"),
        (parts.get_column("tag") == "P").fill_null(False).alias("partial"),
    )


def rejoin_partials(frame: pl.DataFrame) -> pl.DataFrame:
    """Concatenate each run of partial entries with the entry that ends it (same stream).

    All pieces of a split line carry the first piece's time (reference 8.1).
    A run still open at the end of the frame stays partial (the caller holds it).
    """
    if not frame.get_column("partial").any():
        return frame
    streams = frame.get_column("sid").n_unique()
    after_partial = frame.select(per_stream(pl.col("partial").shift(1), streams).fill_null(False)).to_series()
    pieces = {"line": pl.col("line").str.join(""), "nphys": pl.col("nphys").sum(), "partial": pl.col("partial").last()}
    return collapse_runs(frame, ~after_partial, pieces)


def unwrap_syslog(frame: pl.DataFrame, streams: Streams, now: datetime) -> pl.DataFrame:
    """Split `<time> <host> <identifier>[<pid>]: line` into the identifier's stream per process (`sid`), the time
    (`env_ts`) and the line. Lines without the prefix (journalctl's `-- Boot ... --`) stay as they are."""
    line = pl.col("line")
    parts = frame.select(line.str.extract_groups(_whole(_SYSLOG)).struct.unnest()).with_columns(
        pl.col("whole").str.len_chars().alias("_cut"))
    wrapped = parts.get_column("ident").is_not_null()
    keys = parts.filter(wrapped).select("ident", "pid").unique(maintain_order=True)
    lut = keys.with_columns(pl.Series("_sid", [streams.id(ident, f"pid {pid}" if pid else None)
                                               for ident, pid in keys.iter_rows()], dtype=pl.UInt32))
    sid = parts.join(lut, on=["ident", "pid"], how="left", nulls_equal=True, maintain_order="left").get_column("_sid")
    return frame.with_columns(
        sid.fill_null(frame.get_column("sid")).alias("sid"),
        pl.when(pl.lit(wrapped)).then(line.str.slice(pl.lit(parts.get_column("_cut"))).str.replace(_PG_SEQUENCE, ""))
        .otherwise(line).alias("line"),
        pl.coalesce(iso_times(parts.get_column("iso")), _year_less_times(parts.get_column("bsd"), now)).alias("env_ts"),
    )


def _year_less_times(stamps: pl.Series, now: datetime) -> pl.Series:
    """`Dec  4 00:52:08[.123456]` as UTC in the latest year that puts it at most a day after `now`."""
    def in_year(year: int) -> pl.Expr:
        return (pl.lit(f"{year} ") + pl.col("t").str.replace("  ", " 0", literal=True)).str.to_datetime(
            "%Y %b %d %H:%M:%S%.f", time_unit="us", time_zone="UTC", strict=False)

    years = stamps.to_frame("t").select(in_year(now.year + 1).alias("next"), in_year(now.year).alias("this"),
                                        in_year(now.year - 1).alias("last"))  # each parsed once
    latest = pl.lit(now + timedelta(days=1))
    chosen = pl.when(pl.col("next") <= latest).then("next").when(pl.col("this") <= latest).then("this").otherwise("last")
    return years.select(chosen.cast(UTC_TS)).to_series()
