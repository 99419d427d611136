"""Damaged input gets a clear message and loses no line; unusable arguments give a one-line error."""

from __future__ import annotations

import gzip
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import read_events


def test_invalid_utf8_replaced_and_counted(write, cli):
    path = write("bad.log", b"INFO:     ok\nINFO:     caf\xe9 \xff\xfe\nINFO:     fine\n")
    events, diag = read_events(path)
    assert events.height == 3 and "\ufffd" in events.get_column("message")[1]
    assert diag.sources[str(path)].replaced_lines == 1
    result = cli("events", str(path), "--format", "count")
    assert result.exit_code == 0
    assert "1 line(s) with invalid UTF-8" in result.output and str(path) in result.output


def test_binary_junk_removed_counted_no_line_lost(write):
    junk = bytes(range(256)) * 4
    path = write("junk.log", b"INFO:     a\n" + junk + b"\nINFO:     b\n")
    events, diag = read_events(path)
    assert diag.lines_read == 3 + junk.count(b"\n")
    assert sum(events.get_column("line_count")) + diag.blank_lines == diag.lines_read
    assert diag.sources[str(path)].binary_lines >= 1


def test_fifty_megabyte_line_is_cut_counted_and_neighbours_kept(write, cli):
    path = write("huge.log", b"INFO:     before\n" + b"y" * (50 << 20) + b"\nINFO:     after\n")
    events, diag = read_events(path)
    assert diag.lines_read == 3
    assert events.get_column("message").to_list()[0] == "before"
    assert events.get_column("message").to_list()[-1] == "after"
    assert diag.sources[str(path)].truncated_lines == 1
    result = cli("events", str(path), "--format", "count")
    assert result.exit_code == 0 and "over the line limit" in result.output


def test_truncated_gzip_keeps_what_was_read(write, cli):
    data = gzip.compress(b"".join(b"INFO:     line %d\n" % i for i in range(5000)))
    path = write("cut.log.gz", b"")
    path.write_bytes(data[: len(data) // 2])
    events, diag = read_events(path)
    assert 0 < diag.lines_read < 5000 and events.height == diag.lines_read
    assert any("truncated" in w for w in diag.warnings)
    result = cli("events", str(path), "--format", "count")
    assert result.exit_code == 0 and "damaged or truncated" in result.output


def test_empty_file(write, cli):
    path = write("empty.log", b"")
    events, diag = read_events(path)
    assert events.height == 0 and diag.lines_read == 0
    assert cli("events", str(path), "--format", "count").exit_code == 0


def test_missing_path_is_one_line_error(cli, tmp_path):
    result = cli("events", str(tmp_path / "nope.log"), "--format", "count")
    assert result.exit_code == 2
    assert "no such file or folder" in result.output and "Traceback" not in result.output


def test_folder_with_unreadable_entries_still_reads_the_rest(write, cli, tmp_path):
    write("logs/a.log", "INFO:     a\n")
    write("logs/sub/b.log.1", "INFO:     b\n")
    os.symlink(tmp_path / "gone.log", tmp_path / "logs" / "dangling.log")
    locked = write("logs/locked.log", "INFO:     c\n")
    locked.chmod(0)
    result = cli("events", str(tmp_path / "logs"), "--format", "count")
    assert result.exit_code == 0
    assert "dangling.log: broken link; skipped" in result.output
    if os.geteuid() != 0:  # root reads mode-000 files; the link covers that case there
        assert "locked.log: cannot read" in result.output
    assert "lines read 2" in result.output or "lines read 3" in result.output


def test_rotated_set_read_oldest_first(write):
    write("r/app.log", "2026-11-23 09:00:03,000 [INFO] app: third\n")
    write("r/app.log.1", "2026-11-23 09:00:02,000 [INFO] app: second\n")
    write("r/app.log.2.gz", "2026-11-23 09:00:01,000 [INFO] app: first\n")
    events, _ = read_events(write("r/app.log", "2026-11-23 09:00:03,000 [INFO] app: third\n").parent)
    assert events.get_column("message").to_list() == ["first", "second", "third"]
    assert set(events.get_column("service").to_list()) == {"app"}


LINE_PARTS = st.sampled_from([
    b"INFO:     127.0.0.1:1 - \"GET / HTTP/1.1\" 200 OK", b"Traceback (most recent call last):", b"  File \"x\", line 1",
    b"ValueError: x", b"", b"\t continued", b"2026-11-23 09:01:04.890 UTC [1] ERROR:  boom",
    b"2026-11-23 09:01:04.890 UTC [1] DETAIL:  d", b"api-1  | INFO:     x", b'{"log":"a\\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}',
    b'{"text": "x"', b"\xff\xfe\x00junk", b'"quoted', b"web_1 exited with code 137",
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(st.one_of(LINE_PARTS, st.binary(max_size=60)), max_size=40),
    trailing_newline=st.booleans(),
    chunk=st.sampled_from([32, 100, 4096]),
)
def test_any_bytes_any_interleaving_conserve_lines(write, parts, trailing_newline, chunk):
    data = b"\n".join(parts) + (b"\n" if trailing_newline and parts else b"")
    path = write("prop.log", data)
    events, diag = read_events(path, chunk_bytes=chunk)
    expected = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    assert diag.lines_read == expected
    assert sum(events.get_column("line_count").to_list()) + diag.blank_lines == expected
