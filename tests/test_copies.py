"""A database record read from several files counts once (analyzer.analysis.copies).

samples/deploy-b/postgres/ holds what a real PostgreSQL 17 wrote with `log_destination =
'stderr,csvlog,jsonlog'`: the same records three times, stderr's with `%t` (whole seconds) and
` at character N` after a message where the other two give the cursor position a field of its own.
samples/deploy-b/compose/compose.log holds the same server's stderr as `docker compose logs` printed it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import polars as pl
from conftest import ROOT, json_report, read_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.analysis.copies import Copies
from analyzer.analysis.engine import Analysis
from analyzer.analysis.signatures import load_signatures
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.sources import resolve

PG = ROOT / "samples/deploy-b/postgres"
DESTINATIONS = ("postgresql.log", "postgresql.csv", "postgresql.json")
SIGS = load_signatures()
#: A line of stderr that continues the record before it (framing reads it so too).
_CONTINUES = re.compile(r"^(?:\t|\S+ \S+ UTC \[[0-9]+\]: \[[0-9]+-[0-9]+\] \S* (?:DETAIL|HINT|CONTEXT|STATEMENT|QUERY|LOCATION):  )")


def _counts(report: dict) -> Counter[str]:
    return Counter({i["signature"]: i["count"] for i in report["incidents"]})


def _in_process(*paths: Path) -> Counter[str]:
    """Incident counts of a scan of `paths` (in process: the same stages as `scan`)."""
    diag = Diagnostics()
    analysis = Analysis(SIGS)
    for events in Pipeline(diag).run(resolve([str(p) for p in paths], diag)):
        analysis.add(events)
    return Counter(dict(analysis.incidents().select("signature", "count").iter_rows()))


def test_each_destination_alone_and_all_three_together_count_alike(cli, tmp_path):
    for name in DESTINATIONS:
        shutil.copy(PG / name, tmp_path / name)
    alone = [_counts(json_report(cli, str(PG / name))) for name in DESTINATIONS]
    assert alone[0] == alone[1] == alone[2] and alone[0]["deadlock"] == 2  # the same records, three formats
    assert _counts(json_report(cli, str(tmp_path))) == alone[0]


def test_the_compose_copy_of_the_servers_stderr_counts_once_with_the_file():
    compose = ROOT / "samples/deploy-b/compose/compose.log"
    both = _in_process(compose, PG / "postgresql.csv")
    assert both["pg_slow_statement"] == _in_process(compose)["pg_slow_statement"] == 5
    assert both["statement_timeout"] == _in_process(compose)["statement_timeout"]


def test_a_record_written_twice_in_one_file_counts_twice(tmp_path):
    lines = (PG / "postgresql.log").read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "ERROR:  deadlock detected" in line)
    end = next(i for i in range(at + 1, len(lines)) if not _CONTINUES.match(lines[i]))  # the record's end
    doubled = tmp_path / "postgresql.log"
    doubled.write_text("".join(lines[:end] + lines[at:end] + lines[end:]))  # the deadlock's record again, at once
    assert _in_process(doubled)["deadlock"] == _in_process(PG / "postgresql.log")["deadlock"] + 1


def test_only_the_databases_records_are_taken_for_copies():
    # an application's replicas often run under the same pid and log the same line in the same millisecond
    for path, database in ((ROOT / "samples/api/api-text.log", False), (PG / "postgresql.csv", True)):
        events, _ = read_events(path)
        analysis = Analysis(SIGS)
        first = analysis.add(events).height
        again = analysis.add(events.with_columns(pl.lit("elsewhere.log").alias("source"))).height
        assert first > 0 and again == (0 if database else first), path


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_overlapping_pieces_of_one_csvlog_count_as_the_whole(tmp_path, data):
    """Two files holding overlapping stretches of one csvlog (a copy taken while it was written, say) count what
    the whole file counts: the overlap once, the rest once."""
    rows = (PG / "postgresql.csv").read_text().splitlines(keepends=True)
    starts = [i for i, row in enumerate(rows) if row.startswith("2026-")]  # a record per line here
    cut_b = data.draw(st.integers(0, len(starts) - 1), label="second file starts at record")
    cut_a = data.draw(st.integers(cut_b, len(starts)), label="first file ends at record")
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # one per example
    end_a = starts[cut_a] if cut_a < len(starts) else len(rows)
    for piece, text in (("a", rows[:end_a]), ("b", rows[starts[cut_b]:])):  # one name: one service, as copies are
        (folder / piece).mkdir()
        (folder / piece / "postgresql.csv").write_text("".join(text))
    assert _in_process(folder) == _in_process(PG / "postgresql.csv")


def test_memory_is_bounded():
    copies = Copies(max_keys=3)
    evidence = pl.DataFrame({"copy_key": [1, 2, 3, 4, 5], "source": ["a"] * 5}, schema={"copy_key": pl.UInt64, "source": pl.String})
    assert copies.drop_copies(evidence).height == 5
    assert len(copies.first) == 3
    # the two forgotten are not known as copies any more; the three remembered are
    again = evidence.with_columns(pl.lit("b").alias("source"), pl.int_range(5).alias("n"))
    assert copies.drop_copies(again).get_column("n").to_list() == [0, 1]
