"""The fast column rules give exactly what the plain rule (one regex, one expression) gives,
on ordinary values and on the odd ones each shortcut must not get wrong."""

from __future__ import annotations

import random

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.diagnostics import SourceStats
from analyzer.ingest.formats import FORMATS, common
from analyzer.ingest.framing.decode import decode_lines
from analyzer.ingest.framing.detect import Detector


def plain_rule(values: list[str | None], expr: pl.Expr) -> list:
    return pl.DataFrame({"v": values}, schema={"v": pl.String}).select(expr).to_series().to_list()


SAMPLE_LINES = [
    'INFO:     127.0.0.1:1 - "GET / HTTP/1.1" 200 OK',
    '127.0.0.1:1 - "GET /x HTTP/1.1" 404',
    "[2026-11-23 09:03:34 +0000] [9321] [CRITICAL] WORKER TIMEOUT (pid:9322)",
    "2026-11-23 09:08:01.530 | WARNING  | __main__:<module>:18 - Pool usage high: 95%",
    "2026-11-23 09:12:20.877 UTC [16454] postgres@postgres ERROR:  relation does not exist",
    "2026-11-23 09:12:20.877 UTC [16454] DETAIL:  Key (id)=(1) already exists.",
    '2026-11-23 09:02:48.516 UTC,"postgres","postgres",8747,"[local]",6b040138.222b,2,"",2026-11-23 09:02:48 UTC,,0,FATAL',
    '{"timestamp":"2026-11-23 09:02:48.440 UTC","pid":8731}',
    '{"text": "x", "record": {}}',
    '{"event": "login", "level": "info"}',
    "2026-11-23 09:08:01,530 [INFO] app.db: connected",
    "ERROR:asyncio:Task was destroyed but it is pending!",
    "INFO  [alembic.runtime.migration] Running upgrade",
    "FAILED: Target database is not up to date.",
    "PostgreSQL Database directory appears to contain a database; Skipping initialization",
    "Traceback (most recent call last):",
    '  File "x.py", line 1, in f',
    "ValueError: bad",
    "",
    "just words",
    "2026-11-23 09:08:01.530 INFO something",  # python-like with a space separator
]


def first_match(lines: list[str]) -> list[int]:
    codes = []
    for line in lines:
        frame = pl.DataFrame({"l": [line]})
        hits = [i for i, f in enumerate(FORMATS[:-1]) if frame.select(pl.col("l").str.contains(f.header)).item()]
        codes.append(hits[0] if hits else len(FORMATS) - 1)
    return codes


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_detector_gives_the_first_matching_header_whatever_it_tried_first(seed):
    rng = random.Random(seed)
    detector = Detector(FORMATS)
    expected = dict(zip(SAMPLE_LINES, first_match(SAMPLE_LINES), strict=True))
    for _ in range(3):  # later batches start from the formats the previous one held
        weights = [rng.random() ** 3 for _ in SAMPLE_LINES]
        batch = rng.choices(SAMPLE_LINES, weights=weights, k=200)
        codes = detector.codes(pl.Series(batch, dtype=pl.String)).to_list()
        assert codes == [expected[line] for line in batch]


def test_detector_verifies_lines_an_earlier_header_also_claims():
    detector = Detector(FORMATS)
    detector.likely = [FORMATS.index(next(f for f in FORMATS if f.name == "python"))]
    line = "2026-11-23 09:08:01.530 | INFO     | app:h:1 - matches loguru (earlier) and python"
    assert detector.codes(pl.Series([line])).to_list() == first_match([line])


def old_access_fields(message: pl.Expr) -> list[pl.Expr]:
    """The rule as a regex: what `common.access_fields` must reproduce."""
    is_access = message.str.contains(r'^\S* - "[A-Z]+ \S* HTTP/[0-9.]+" \d{3}(?: |$)')
    request = message.str.extract(r'^\S* - "([A-Z]+ \S*) HTTP/[0-9.]+" \d{3}', 1)
    space = request.str.find(" ", literal=True)
    return [
        request.str.slice(0, space).alias("http_method"),
        request.str.slice(space + 1).str.replace(r"\?.*$", "").alias("http_path"),
        pl.when(is_access).then(message.str.extract(r'HTTP/[0-9.]+" (\d{3})', 1)).cast(pl.Int32, strict=False).alias("http_status"),
    ]


ACCESS_MESSAGES = [
    '127.0.0.1:1 - "GET /x HTTP/1.1" 499 ', 'é:1 - "GET /ü?q=1 HTTP/1.1" 200 OK', 'x - "GET /a" HTTP/1.1" 200',
    'x - "GET  HTTP/1.1" 2000', 'x - "GET / HTTP/1.1" 200', 'ñ - "GET /p HTTP/1.1" 200x', 'a - "get / HTTP/1.1" 200',
    "", None, 'x - "GET /?" HTTP/1.0" 301 Moved', "Started server process [1]", 'a\tb - "GET / HTTP/1.1" 200',
    ' - "POST /items HTTP/2" 422 Unprocessable Entity', 'x - "GET / HTTP/1.1" 200 - "PUT /y HTTP/1.1" 201',
]


def test_access_fields_match_the_regex_rule():
    frame = pl.DataFrame({"m": ACCESS_MESSAGES}, schema={"m": pl.String})
    expected = frame.select(old_access_fields(pl.col("m")))
    assert common.access_fields(frame.get_column("m")).equals(expected)


TIMES = [
    "2026-11-23 00:00:00.101", "2026-11-23 00:00:00", "2026-1-23 00:00:00", " 2026-11-23 00:00:00", "+2026-11-23 00:00:00",
    "2026-11-23T00:00:00.123456789Z", "2026-11-23T00:00:00Z", "2026-11-23T00:00:00.5+02:00", "2026-11-23T00:00:00.5+0200",
    "2026-02-30 00:00:00", "2026-11-23 24:00:00", "2026-11-23 00:00:60", "2026-11-23 00:00", "", None, "garbage",
]


def test_iso_times_match_iso_ts():
    assert common.iso_times(pl.Series(TIMES, dtype=pl.String)).to_list() == plain_rule(TIMES, common.iso_ts(pl.col("v")))


@pytest.mark.parametrize("zone", ["UTC", "CET", "+0200", "-05:30", "-05", "XYZ", None, "+02:3"])
def test_zoned_times_per_zone(zone):
    local = ["2026-11-23 10:00:00.5", "2026-11-23 11:00:00"]
    got = common.zoned_times(pl.Series(local), "%Y-%m-%d %H:%M:%S%.f", pl.Series([zone, zone], dtype=pl.String))
    offsets = {"UTC": 0, "CET": 60, "+0200": 120, "-05:30": -330, "-05": 0, "XYZ": 0, "+02:3": 0}
    naive = plain_rule(local, common.naive_ts(pl.col("v"), "%Y-%m-%d %H:%M:%S%.f"))
    if zone is None:
        assert got.to_list() == [None, None]
    else:
        assert [(n - t).total_seconds() / 60 for n, t in zip(naive, got.to_list(), strict=True)] == [offsets[zone]] * 2


IDS = [
    "done | req_id=9e3779b97f4a7c15", "{'request_id': 'r-9'}", 'X-Request-ID: "abc:def/1"', "correlation_id = xy",
    "req_id=ab", "preq_id=abcd", "REQUEST-ID: " + "a" * 200, 'request_id: ""x12', "req_id=abc req_id=def", None, "",
    "duration_ms=12.5 took: 3 s elapsed=1.2s", "duration=5 msx", "latency_ms: 7ms", "time_ms=abc",
]


def test_request_ids_match_the_pattern_group():
    expected = plain_rule(IDS, pl.col("v").str.extract(common.REQUEST_ID_PATTERN, 1))
    assert common.request_ids(pl.Series(IDS, dtype=pl.String)).to_list() == expected


def test_durations_match_the_pattern_group():
    expected = plain_rule(IDS, common.to_ms(pl.col("v").str.extract(common.DURATION_PATTERN, 1)))
    assert common.durations_ms(pl.Series(IDS, dtype=pl.String)).to_list() == expected


@pytest.mark.parametrize(
    "data",
    [b"a\n\nb\n", b"a\nb", b"\n\n", b"x\r\ny\r\n", b"caf\xe9\n", b"a\x00b\nc\n", b"a\x1fb\n", b"x\n\x00",
     b"\xc3\xa9t\xc3\xa9\n\xe2\x94\x82 \xe2\x94\x94\n"],
)
def test_decode_fast_and_exact_paths_agree(data):
    stats = SourceStats()
    lines = decode_lines(data, stats, 1 << 20).to_list()
    raw = data.split(b"\n")
    if data.endswith(b"\n"):
        raw.pop()
    exact = [line.replace(b"\x00", b"").replace(b"\x1f", b"").decode("utf-8", "replace").strip("\r") for line in raw]
    assert lines == exact
    assert stats.lines == len(exact)


TRACEBACK_LINES = [
    "2026-11-23 09:08:01.530 | INFO     | app:h:1 - ok",
    "2026-11-23 09:08:01.531 | ERROR    | app:h:2 - request failed",
    "2026-11-23 09:08:01.532 | ERROR    | app:h:3 - Traceback (most recent call last):",
    '{"event": "interjected", "level": "info"}',
    "2026-11-23 09:12:20.877 UTC [16454] DETAIL:  Key (id)=(1) already exists.",
    "2026-11-23 09:12:20.877 UTC [16454] LOG:  duration: 3.1 ms  statement: SELECT 1",
    "Traceback (most recent call last):",
    '  File "x.py", line 1, in f',
    "    raise ValueError('bad')",
    "    ^^^^^^^^^^^^^^^^",
    "ValueError: bad",
    "The above exception was the direct cause of the following exception:",
    "[SQL: SELECT 1",
    "FROM t]",
    "",
    "just words",
]


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 100_000), streams=st.integers(1, 3))
def test_one_line_records_outside_tracebacks_are_marked_as_the_rules_on_every_line_mark_them(seed, streams):
    from analyzer.ingest.framing import multiline

    rng = random.Random(seed)
    weights = [rng.random() ** 2 for _ in TRACEBACK_LINES]
    text = rng.choices(TRACEBACK_LINES, weights=weights, k=rng.randint(1, 120))
    lines = pl.DataFrame({"line": text, "sid": [rng.randrange(streams) for _ in text]},
                         schema={"line": pl.String, "sid": pl.UInt32})
    marked = multiline.mark_starts(lines, Detector(FORMATS), set())
    with pytest.MonkeyPatch.context() as patched:  # the rules read every line
        patched.setattr(multiline, "_outside_tracebacks", lambda frame, _: pl.repeat(False, frame.height, eager=True))
        everywhere = multiline.mark_starts(lines, Detector(FORMATS), set())
    assert marked.equals(everywhere)


AUX_PIECES = ["2026-11-23 09:12:20.877 ", "UTC ", "[16454] ", "app@db ", "DETAIL:  ", "DETAIL: ", "HINT:  ", "LOG:  ",
              "STATEMENT:  ", "xDETAIL:  ", "é ", "\t", "x", " ", "CONTEXT:", "  "]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from(AUX_PIECES), max_size=7).map("".join), min_size=1, max_size=60))
def test_aux_lines_found_through_their_words_are_those_the_aux_pattern_finds(lines):
    from analyzer.ingest.framing.multiline import _aux

    postgres = next(f for f in FORMATS if f.aux_words)
    column = pl.Series(lines, dtype=pl.String)
    assert _aux(column, postgres).to_list() == column.str.contains(postgres.aux).to_list()


PG_PIECES = ["2026-11-23 09:12:20.877", "2026-11-23 09:12:20", " UTC", " CET", " +02", " [16454]", " [12345678901]",
             " app@db", " user=app,db=x", " LOG:  ", " ERROR:  ", " DETAIL:  ", "duration: 12.5 ms", "duration: 1e9 ms",
             "  statement: SELECT 1", " [99999999999]", ":", " x"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PG_PIECES), min_size=1, max_size=8).map(lambda p: "2026-11-23 09:12:20.877" + "".join(p)),
                min_size=1, max_size=40))
def test_postgres_light_parse_reads_what_the_parse_reads(lines):
    from analyzer.ingest.formats import postgres

    records = pl.DataFrame({"head": lines, "text": lines})
    full, light = postgres.parse(records), postgres.light(records)
    assert light.get_column("message").is_null().equals(full.get_column("message").is_null())
    for name in ("ts", "duration_ms"):
        assert light.get_column(name).equals(full.get_column(name)), name
    told = light.get_column("pid").is_not_null()
    assert light.get_column("pid").filter(told).equals(full.get_column("pid").filter(told))
    assert (full.get_column("pid").filter(~told).fill_null(0).max() or 0) < 1e9
