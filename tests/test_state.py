"""Incremental runs (`scan --state`): incident history across runs, and checkpoints that read only new bytes.

A "run" here is what `scan --state` does: open the job's state, resolve the
inputs with its checkpoints, read them (through the real pipeline, or
`read_chunks`), and commit the state at the end.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.state import checkpoints as checkpoints_module
from analyzer.state import history as history_module
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.sources import Input, read_chunks, resolve
from analyzer.state.store import StateError, default_state_dir, job_id, open_state

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


# --- helpers ------------------------------------------------------------------------------------------


def run_read(args: list[str], state_dir: Path, chunk_bytes: int = 1 << 20, commit: bool = True):
    """One run over `args` with read_chunks: ([(path, line) read], diagnostics)."""
    diag = Diagnostics()
    state = open_state(state_dir, args, diag)
    read: list[tuple[str, str]] = []
    for inp in resolve(args, diag, resume=state.checkpoints):
        for chunk in read_chunks(inp, diag, chunk_bytes):
            read.extend((inp.path, line) for line in chunk.data.decode().splitlines())
    if commit:
        state.commit()
    else:
        state.close()
    return read, diag


def run_lines(args: list[str], state_dir: Path, chunk_bytes: int = 1 << 20, commit: bool = True):
    """One run over `args` with read_chunks: (the lines read, diagnostics)."""
    read, diag = run_read(args, state_dir, chunk_bytes, commit)
    return [line for _, line in read], diag


def run_pipeline(args: list[str], state_dir: Path):
    """One run through the real pipeline: (the `text` of every event, diagnostics)."""
    diag = Diagnostics()
    state = open_state(state_dir, args, diag)
    texts: list[str] = []
    for batch in Pipeline(diag).run(resolve(args, diag, resume=state.checkpoints)):
        texts.extend(batch.get_column("text").to_list())
    state.commit()
    return texts, diag


def numbered(start: int, stop: int, prefix: str = "line") -> str:
    return "".join(f"2026-11-23 10:00:{i % 60:02d} INFO {prefix} {i}\n" for i in range(start, stop))


def notices(diag: Diagnostics, *words: str) -> list[str]:
    return [w for w in diag.warnings if all(word in w for word in words)]


# --- incident history -----------------------------------------------------------------------------


def incident(fp: str, **extra: str) -> dict[str, str]:
    return {"fingerprint": fp, "signature": f"sig_{fp}", "title": f"Title {fp}", "service": "api",
            "severity": "high", "last_seen": "2026-11-23T10:00:00Z", **extra}


def history_run(state_dir: Path, fps: list[str], when: datetime) -> dict:
    """One run that found the incidents `fps`: the report after `annotate`, history recorded and committed."""
    diag = Diagnostics()
    state = open_state(state_dir, ["app.log"], diag)
    report = {"incidents": [incident(fp) for fp in fps]}
    state.history.annotate(report)
    state.history.record(report["incidents"], when)
    state.commit()
    assert diag.warnings == []
    return report


def test_statuses_new_ongoing_resolved_regressed(tmp_path):
    r1 = history_run(tmp_path, ["A", "B"], T0)
    assert [i["status"] for i in r1["incidents"]] == ["new", "new"] and r1["resolved"] == []
    r2 = history_run(tmp_path, ["A", "C"], T0 + timedelta(hours=1))
    assert {i["fingerprint"]: i["status"] for i in r2["incidents"]} == {"A": "ongoing", "C": "new"}
    assert r2["resolved"] == [{"fingerprint": "B", "signature": "sig_B", "title": "Title B", "service": "api",
                               "severity": "high", "last_seen": "2026-11-23T10:00:00Z"}]
    r3 = history_run(tmp_path, ["C"], T0 + timedelta(hours=2))
    assert {i["fingerprint"]: i["status"] for i in r3["incidents"]} == {"C": "ongoing"}
    assert [r["fingerprint"] for r in r3["resolved"]] == ["A"]
    r4 = history_run(tmp_path, ["A", "B", "D"], T0 + timedelta(hours=3))
    assert {i["fingerprint"]: i["status"] for i in r4["incidents"]} == {"A": "regressed", "B": "regressed", "D": "new"}
    assert [r["fingerprint"] for r in r4["resolved"]] == ["C"]


def test_compare_ignores_what_this_run_recorded(tmp_path):
    diag = Diagnostics()
    state = open_state(tmp_path, ["x"], diag)
    state.history.record([incident("A")], T0)
    assert state.history.compare([incident("A")]).statuses == {"A": "new"}
    state.close()


def test_history_is_per_job_and_bounded(tmp_path, monkeypatch):
    history_run(tmp_path, ["A"], T0)
    diag = Diagnostics()
    other = open_state(tmp_path, ["other.log"], diag)  # another job: knows nothing of A
    assert other.history.compare([incident("A")]).statuses == {"A": "new"}
    other.close()
    monkeypatch.setattr(history_module, "MAX_RUNS", 3)
    monkeypatch.setattr(history_module, "MAX_INCIDENTS", 4)
    for n in range(6):
        history_run(tmp_path, [f"X{n}"], T0 + timedelta(hours=n + 1))
    state = open_state(tmp_path, ["app.log"], Diagnostics())
    assert len(state.history.runs) == 3
    assert set(state.history.incidents) == {"X2", "X3", "X4", "X5"}  # least recently seen forgotten first
    assert state.history.compare([incident("X5")]).statuses == {"X5": "ongoing"}
    state.close()


def test_job_id_is_order_and_spelling_independent(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert job_id(["b.log", "a.log"]) == job_id([str(tmp_path / "a.log"), "./b.log"])
    assert job_id(["a.log"]) != job_id(["a.log", "b.log"])
    assert job_id(["a.log"], "nightly") == job_id(["z.log"], "nightly")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "logscan"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_state_dir() == Path.home() / ".local" / "state" / "logscan"


# --- checkpoints ----------------------------------------------------------------------------------


def test_growing_file_read_twice_reads_only_the_new_bytes(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    first, second = numbered(0, 100), numbered(100, 150)
    log.write_text(first)
    texts, diag = run_pipeline([str(log)], state)
    assert texts == first.splitlines()
    assert diag.bytes_read == len(first) and diag.resumed_bytes == 0
    with log.open("a") as f:
        f.write(second)
    texts, diag = run_pipeline([str(log)], state)
    assert texts == second.splitlines()
    stats = diag.sources[str(log)]
    assert (stats.bytes, stats.resumed_bytes, stats.lines) == (len(second), len(first), 50)
    texts, diag = run_pipeline([str(log)], state)  # nothing new
    assert texts == [] and diag.bytes_read == 0 and diag.resumed_bytes == len(first) + len(second)


def test_resumed_chunks_carry_true_offsets_and_line_numbers(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    log.write_text(numbered(0, 10))
    run_lines([str(log)], state)
    with log.open("a") as f:
        f.write(numbered(10, 40))
    diag = Diagnostics()
    st8 = open_state(state, [str(log)], diag)
    (inp,) = resolve([str(log)], diag, resume=st8.checkpoints)
    data = log.read_bytes()
    chunks = list(read_chunks(inp, diag, chunk_bytes=100))
    assert len(chunks) > 3 and chunks[0].offset == len(numbered(0, 10))
    for chunk in chunks:
        assert data[chunk.offset : chunk.offset + len(chunk.data)] == chunk.data
        assert chunk.first_line == data[: chunk.offset].count(b"\n") + 1
    st8.close()


def test_rename_rotation_between_runs_loses_and_repeats_nothing(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    args = [str(tmp_path / "app.log*")]
    log.write_text(numbered(0, 20))
    seen, _ = run_lines(args, state)
    with log.open("a") as f:
        f.write(numbered(20, 30))  # written before the rotation: only in app.log.1 afterwards
    log.rename(tmp_path / "app.log.1")
    log.write_text(numbered(30, 35))
    lines, diag = run_lines(args, state)
    assert lines == numbered(20, 35).splitlines()
    assert diag.sources[str(tmp_path / "app.log.1")].resumed_bytes == len(numbered(0, 20))
    assert notices(diag, "app.log.1", "continues", "app.log")  # said, not silent
    seen += lines
    lines, _ = run_lines(args, state)
    assert lines == []
    assert Counter(seen) == Counter(numbered(0, 35).splitlines())


@pytest.mark.parametrize("copy", ["app.log.1", "app.log.1.gz", "app.log-20261123", None])
def test_copytruncate_of_a_file_named_alone_reads_the_unread_lines_from_its_copy(tmp_path, copy):
    log, state = tmp_path / "app.log", tmp_path / "state"
    log.write_text(numbered(0, 30))
    run_lines([str(log)], state)
    with log.open("a") as f:  # written after the last run, before the rotation
        f.write(numbered(30, 40))
    if copy:
        data = log.read_bytes()
        (tmp_path / copy).write_bytes(gzip.compress(data) if copy.endswith(".gz") else data)
    with log.open("r+") as f:  # copytruncate, then the app writes on
        f.truncate(0)
    with log.open("a") as f:
        f.write(numbered(40, 45))
    lines, diag = run_lines([str(log)], state)
    if copy is None:  # nowhere to be found: said, with the byte they started at
        assert lines == numbered(40, 45).splitlines()
        assert notices(diag, str(log), "shrank", f"after byte {len(numbered(0, 30)):,}", "are lost")
        return
    assert lines == numbered(30, 45).splitlines()
    assert notices(diag, str(log), "shrank", f"read from its copy {tmp_path / copy}")
    assert diag.resumed_bytes == len(numbered(0, 30))
    lines, diag = run_lines([str(log)], state)  # the same job again: nothing new
    assert lines == [] and not notices(diag, "lost")


def test_a_file_named_alone_renamed_before_anything_of_it_was_read_is_read_under_its_new_name(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    log.touch()
    assert run_lines([str(log)], state)[0] == []  # its checkpoint: offset 0, no first bytes to recognise it by
    log.write_text(numbered(0, 10))
    log.rename(tmp_path / "app.log.1")
    log.write_text(numbered(10, 12))
    lines, diag = run_lines([str(log)], state)
    assert lines == numbered(0, 12).splitlines()
    assert notices(diag, str(log), f"read from its copy {tmp_path / 'app.log.1'}")


def test_a_file_named_alone_rotated_twice_between_runs_loses_no_generation(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    log.write_text(numbered(0, 10))
    run_lines([str(log)], state)
    with log.open("a") as f:
        f.write(numbered(10, 15))
    log.rename(tmp_path / "app.log.1")  # first rotation
    log.write_text(numbered(15, 25))
    (tmp_path / "app.log.2.gz").write_bytes(gzip.compress((tmp_path / "app.log.1").read_bytes()))
    (tmp_path / "app.log.1").unlink()
    shutil.copy(log, tmp_path / "app.log.1")  # second rotation (copytruncate), the generation no run saw
    log.write_text(numbered(25, 30))
    lines, diag = run_lines([str(log)], state)
    assert lines == numbered(10, 30).splitlines()
    assert notices(diag, str(log), f"read from its copy {tmp_path / 'app.log.2.gz'}", str(tmp_path / "app.log.1"))


def test_a_file_seen_empty_then_copytruncated_and_compressed_is_read_from_its_copy(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    log.touch()
    os.utime(log, ns=(1, 1))  # seen empty long ago
    run_lines([str(log)], state)
    log.write_text(numbered(0, 10))
    (tmp_path / "app.log.1.gz").write_bytes(gzip.compress(log.read_bytes()))
    log.write_text("")
    log.write_text(numbered(10, 12))
    lines, diag = run_lines([str(log)], state)
    assert lines == numbered(0, 12).splitlines()
    assert notices(diag, str(log), "empty at the last run", str(tmp_path / "app.log.1.gz"))


def test_copytruncate_with_the_copy_among_the_inputs_reads_each_line_once(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    args = [str(tmp_path / "app.log*")]
    log.write_text(numbered(0, 30))
    seen, _ = run_lines(args, state)
    with log.open("a") as f:
        f.write(numbered(30, 40))
    shutil.copy(log, tmp_path / "app.log.1")
    log.write_text("")  # same inode, truncated
    with log.open("a") as f:
        f.write(numbered(40, 45))
    lines, diag = run_lines(args, state)
    assert lines == numbered(30, 45).splitlines()
    assert diag.sources[str(tmp_path / "app.log.1")].resumed_bytes == len(numbered(0, 30))
    assert notices(diag, "app.log:", "shrank")
    assert Counter(seen + lines) == Counter(numbered(0, 45).splitlines())


def test_recreated_file_same_size_other_content_is_reread(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    old, new = numbered(0, 20, "old"), numbered(0, 20, "new")
    assert len(old) == len(new)
    log.write_text(old)
    run_lines([str(log)], state)
    log.unlink()
    log.write_text(new)  # may well get the same inode back
    lines, diag = run_lines([str(log)], state)
    assert lines == new.splitlines()
    assert notices(diag, str(log), "from the start")
    assert diag.resumed_bytes == 0


def test_rewritten_in_place_same_first_bytes_is_reread(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    head = "x" * 5000 + "\n"  # the first 4 KiB stay the same: the bytes before the checkpoint tell
    log.write_text(head + numbered(0, 10, "old"))
    run_lines([str(log)], state)
    with log.open("r+") as f:
        f.write(head + numbered(0, 10, "new"))
    lines, diag = run_lines([str(log)], state)
    assert lines == (head + numbered(0, 10, "new")).splitlines()
    assert notices(diag, str(log), "changed before byte")


def test_partial_last_line_is_carried_to_the_next_run(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    log.write_bytes(b"one\ntwo\nthr")
    lines, diag = run_lines([str(log)], state)
    assert lines == ["one", "two"]
    assert diag.sources[str(log)].held_bytes == 3 and notices(diag, str(log), "unfinished", "next run")
    lines, diag = run_lines([str(log)], state)  # still being written: still held, said again
    assert lines == [] and diag.sources[str(log)].held_bytes == 3
    with log.open("ab") as f:
        f.write(b"ee\nfour\n")
    lines, diag = run_lines([str(log)], state)
    assert lines == ["three", "four"] and diag.held_bytes == 0 and diag.resumed_bytes == len(b"one\ntwo\n")


def test_partial_line_completed_in_the_renamed_file(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    args = [str(tmp_path / "app.log*")]
    log.write_bytes(b"a\nb")
    assert run_lines(args, state)[0] == ["a"]
    with log.open("ab") as f:
        f.write(b"c\n")
    log.rename(tmp_path / "app.log.1")
    log.write_bytes(b"d\n")
    assert run_lines(args, state)[0] == ["bc", "d"]


def test_gz_rotated_copy_resumes_past_what_was_read(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    args = [str(tmp_path / "app.log*")]
    log.write_text(numbered(0, 200))
    seen, _ = run_lines(args, state)
    with log.open("a") as f:
        f.write(numbered(200, 230))
    (tmp_path / "app.log.1.gz").write_bytes(gzip.compress(log.read_bytes()))  # logrotate with compress
    log.unlink()
    log.write_text(numbered(230, 240))
    lines, diag = run_lines(args, state, chunk_bytes=1000)
    assert lines == numbered(200, 240).splitlines()
    gz = diag.sources[str(tmp_path / "app.log.1.gz")]
    assert gz.resumed_bytes == len(numbered(0, 200)) and gz.bytes == len(numbered(200, 230))
    assert notices(diag, "app.log.1.gz", "continues", f"{len(numbered(0, 200)):,} bytes")
    seen += lines
    lines, diag = run_lines(args, state)  # unchanged .gz: skipped (counted), nothing read twice
    assert lines == [] and diag.sources[str(tmp_path / "app.log.1.gz")].resumed_bytes == len(numbered(0, 230))
    assert Counter(seen) == Counter(numbered(0, 240).splitlines())


def test_gz_whose_content_only_starts_alike_is_read_whole_with_a_notice(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    args = [str(tmp_path / "app.log*")]
    common = "x" * 5000 + "\n"
    log.write_text(common + numbered(0, 10, "old"))
    run_lines(args, state)
    (tmp_path / "app.log.1.gz").write_bytes(gzip.compress((common + numbered(0, 10, "new")).encode()))
    log.unlink()
    lines, diag = run_lines(args, state)
    assert lines == (common + numbered(0, 10, "new")).splitlines()
    assert notices(diag, "app.log.1.gz", "read from the start") and diag.resumed_bytes == 0


def test_long_unfinished_line_cut_then_rest_skipped_next_run(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    log.write_bytes(b"a\n" + b"y" * 5000)
    diag = Diagnostics()
    s = open_state(state, [str(log)], diag)
    (inp,) = resolve([str(log)], diag, resume=s.checkpoints)
    lines = [ln for c in read_chunks(inp, diag, 1000, max_line_bytes=100) for ln in c.data.decode().splitlines()]
    s.commit()
    assert lines == ["a", "y" * 100] and diag.sources[str(log)].truncated_lines == 1
    with log.open("ab") as f:
        f.write(b"y" * 10 + b"\nb\n")
    diag = Diagnostics()
    s = open_state(state, [str(log)], diag)
    (inp,) = resolve([str(log)], diag, resume=s.checkpoints)
    lines = [ln for c in read_chunks(inp, diag, 1000, max_line_bytes=100) for ln in c.data.decode().splitlines()]
    s.commit()
    assert lines == ["b"]


def test_a_run_that_does_not_commit_is_read_again(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    log.write_text(numbered(0, 10))
    run_lines([str(log)], state, commit=False)  # crashed before the end
    lines, diag = run_lines([str(log)], state)
    assert lines == numbered(0, 10).splitlines() and diag.resumed_bytes == 0


def test_stdin_is_never_checkpointed(tmp_path):
    diag = Diagnostics()
    s = open_state(tmp_path, ["-"], diag)
    (inp,) = resolve(["-"], diag, resume=s.checkpoints)
    assert inp.is_stdin and inp.resume is None
    s.close()


def test_without_state_nothing_changes(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"a\nb\nunfinished")
    diag = Diagnostics()
    chunks = list(read_chunks(Input(str(log)), diag))
    assert b"".join(c.data for c in chunks) == b"a\nb\nunfinished" and chunks[-1].final
    assert chunks[0].first_line == 0 and diag.resumed_bytes == diag.held_bytes == 0 and diag.warnings == []


def test_checkpoints_are_pruned(tmp_path, monkeypatch):
    state = tmp_path / "state"
    for name in ("a.log", "b.log", "c.log"):
        (tmp_path / name).write_text(numbered(0, 3))
    args = [str(tmp_path / "*.log")]
    run_lines(args, state)
    diag = Diagnostics()
    s = open_state(state, args, diag)
    assert len(s.checkpoints.files) == 3
    s.checkpoints.settle(now=s.checkpoints.files[next(iter(s.checkpoints.files))].seen + 31 * 86400)
    assert s.checkpoints.files == {}  # not seen for 31 days
    s.close()
    monkeypatch.setattr(checkpoints_module, "MAX_CHECKPOINTS", 2)
    run_lines(args, state)
    s = open_state(state, args, Diagnostics())
    assert len(s.checkpoints.files) == 2
    s.close()


# --- the state folder -----------------------------------------------------------------------------


def _damage(data: dict, part: str, content: bytes) -> bytes:
    """The state file with one part replaced by `content` (the whole file when `part` is "file")."""
    if part == "file":
        return content
    return orjson.dumps({**data, part: orjson.loads(content)})


DAMAGE = [b'{"schema": "something/else"}', b'[1, 2]',
          b'{"schema": "logscan.checkpoints/1", "files": {"1:2": {"path": 3}}}',
          b'{"schema": "logscan.history/1", "runs": [{"time": 1}], "incidents": {}}']


@pytest.mark.parametrize(("part", "content"), [("file", b"{not json")] + [
    (part, content) for part in ("file", "checkpoints", "history") for content in DAMAGE])
def test_corrupt_state_is_set_aside_and_rebuilt(tmp_path, part, content):
    log, state = tmp_path / "app.log", tmp_path / "state"
    log.write_text(numbered(0, 10))
    run_lines([str(log)], state)
    diag = Diagnostics()
    s = open_state(state, [str(log)], diag)
    s.history.record([incident("A")], T0)
    s.commit()
    (folder,) = [p for p in state.iterdir() if (p / "state.json").exists()]
    damaged = _damage(orjson.loads((folder / "state.json").read_bytes()), part, content)
    (folder / "state.json").write_bytes(damaged)
    lines, diag = run_lines([str(log)], state)
    (warning,) = notices(diag, "state.json", "damaged", "set aside")
    asides = list(folder.glob("state.json.corrupt-*"))
    assert len(asides) == 1 and asides[0].read_bytes() == damaged and str(asides[0]) in warning
    assert orjson.loads((folder / "state.json").read_bytes())["schema"] == "logscan.state/1"  # rewritten whole
    s = open_state(state, [str(log)], Diagnostics())
    status = s.history.compare([incident("A")]).statuses
    s.close()
    if part == "history":
        assert lines == []  # checkpoints intact
        assert status == {"A": "new"}  # history rebuilt
    else:
        assert lines == numbered(0, 10).splitlines()  # rebuilt: read from the start
        assert status == ({"A": "new"} if part == "file" else {"A": "ongoing"})  # an intact history is kept


def test_unwritable_state_dir_is_one_clear_error(tmp_path):
    (tmp_path / "afile").write_text("I am a file")
    where = tmp_path / "afile" / "state"
    with pytest.raises(StateError) as err:
        open_state(where, ["app.log"], Diagnostics())
    assert str(where) in str(err.value) and "Not a directory" in str(err.value)
    (tmp_path / "statefile").write_text("")
    with pytest.raises(StateError, match="statefile"):
        open_state(tmp_path / "statefile", ["app.log"], Diagnostics())


def test_a_write_failure_at_commit_is_a_state_error(tmp_path):
    s = open_state(tmp_path / "state", ["app.log"], Diagnostics())
    s.history.record([incident("A")], T0)
    shutil.rmtree(s.dir)
    (tmp_path / "state" / s.dir.name).write_text("now a file")
    with pytest.raises(StateError, match="cannot write the state file"):
        s.commit()


def test_two_runs_of_one_job_at_once(tmp_path):
    first = open_state(tmp_path, ["app.log"], Diagnostics())
    with pytest.raises(StateError, match="another logscan run"):
        open_state(tmp_path, ["app.log"], Diagnostics())
    open_state(tmp_path, ["other.log"], Diagnostics()).close()  # another job is fine
    first.commit()
    open_state(tmp_path, ["app.log"], Diagnostics()).close()


def test_state_files_are_written_atomically(tmp_path, monkeypatch):
    log, state = tmp_path / "app.log", tmp_path / "state"
    log.write_text(numbered(0, 5))
    run_lines([str(log)], state)
    (folder,) = state.iterdir()
    before = (folder / "state.json").read_bytes()
    with log.open("a") as f:
        f.write(numbered(5, 6))

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(StateError, match="No space left"):
        run_lines([str(log)], state)
    monkeypatch.undo()
    assert (folder / "state.json").read_bytes() == before  # the old state, whole
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


# --- property: whatever happens between runs, each line is read once ------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 40)),
        st.tuples(st.just("partial"), st.just(0)),
        st.tuples(st.just("rename"), st.just(0)),
        st.tuples(st.just("copytruncate"), st.just(0)),
        st.tuples(st.just("truncate"), st.just(0)),
        st.tuples(st.just("rewrite"), st.just(0)),
        st.tuples(st.just("recreate"), st.just(0)),
        st.tuples(st.just("run"), st.just(0)),
    ),
    min_size=1,
    max_size=14,
)


class _Writer:
    """An app writing numbered lines to app.log, and logrotate (rename + compress, or copytruncate)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.log = folder / "app.log"
        self.next = 0
        self.partial: bytes | None = None  # the rest of a line half-written to app.log
        self.log.write_bytes(b"")

    def line(self, tag: str = "L") -> bytes:
        self.next += 1
        return f"{tag}{self.next:06d} {'p' * (self.next % 7)}\n".encode()

    def write(self, data: bytes) -> None:
        with self.log.open("ab") as f:
            f.write(data)

    def finish_partial(self) -> None:
        if self.partial is not None:
            self.write(self.partial)
            self.partial = None

    def shift_rotated(self) -> None:
        one = self.folder / "app.log.1"
        if one.exists():
            (self.folder / "app.log.2.gz").write_bytes(gzip.compress(one.read_bytes()))
            one.unlink()

    def do(self, op: str, n: int) -> None:
        if op == "append":
            self.finish_partial()
            self.write(b"".join(self.line() for _ in range(n)))
        elif op == "partial" and self.partial is None:
            line = self.line()
            self.write(line[:4])
            self.partial = line[4:]
        elif op == "rename":
            self.finish_partial()
            self.shift_rotated()
            self.log.rename(self.folder / "app.log.1")
            self.log.write_bytes(b"")
        elif op == "copytruncate":
            self.finish_partial()
            self.shift_rotated()
            shutil.copy(self.log, self.folder / "app.log.1")
            with self.log.open("r+b") as f:
                f.truncate(0)
        elif op == "truncate":  # lines not read yet are gone with it
            self.partial = None
            with self.log.open("r+b") as f:
                f.truncate(0)
        elif op == "rewrite":  # rewritten in place with a new first line: the rest is read again
            data = self.log.read_bytes()
            with self.log.open("r+b") as f:
                f.write(self.line("R") + data)
        elif op == "recreate":  # deleted and written anew with the same bytes (e.g. synced by rename)
            data = self.log.read_bytes()
            self.log.unlink()
            self.log.write_bytes(data)

    def complete_lines(self) -> set[str]:
        """Every whole line present in the log files now."""
        out: set[str] = set()
        for path in self.folder.glob("app.log*"):
            data = path.read_bytes()
            data = gzip.decompress(data) if path.name.endswith(".gz") else data
            out.update(line.decode() for line in data.split(b"\n")[:-1])
        return out


@settings(max_examples=int(os.environ.get("LOGSCAN_STATE_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, chunk=st.sampled_from([16, 64, 1 << 20]))
def test_any_appends_rotations_truncations_between_runs_read_each_line_once(ops, chunk):
    with tempfile.TemporaryDirectory() as tmp:
        folder, state = Path(tmp) / "logs", Path(tmp) / "state"
        folder.mkdir()
        writer = _Writer(folder)
        args = [str(folder / "app.log*")]
        reads: Counter[str] = Counter()
        present: set[str] = set()
        # a rewrite in place is read again (with a notice) by the next run: that run comes before any other change,
        # since a copy of the rewritten file made before it would be content never seen, read whole without one
        steps = [step for op, n in ops for step in ([(op, n), ("run", 0)] if op == "rewrite" else [(op, n)])]
        for op, n in [*steps, ("run", 0)]:
            if op != "run":
                writer.do(op, n)
                continue
            present |= writer.complete_lines()
            read, diag = run_read(args, state, chunk_bytes=chunk)
            this_run: Counter[str] = Counter()
            for path, line in read:
                if reads[line] or this_run[line]:  # read twice: only where a notice said this file is read again
                    assert notices(diag, f"{path}: ", "from the start"), (path, line, diag.warnings)
                this_run[line] += 1
            reads.update(this_run)
        assert set(reads) == present  # nothing lost, nothing half-read, nothing made up


def test_first_bytes_changed_but_not_the_bytes_before_the_checkpoint(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    filler = numbered(0, 300)  # > 4 KiB: the bytes before the checkpoint do not reach the first line
    log.write_text("first old\n" + filler)
    run_lines([str(log)], state)
    log.write_text("first new\n" + filler)  # same size, same inode, only the first line differs
    lines, diag = run_lines([str(log)], state)
    assert lines == ("first new\n" + filler).splitlines()
    assert notices(diag, str(log), "first bytes", "read again from the start")


def test_new_file_starting_like_the_rotated_one_is_read_whole(tmp_path):
    log, state = tmp_path / "app.log", tmp_path / "state"
    args = [str(tmp_path / "app.log*")]
    banner = "2026-11-23 10:00:00 INFO app starting\n"
    log.write_text(banner)
    assert run_lines(args, state)[0] == [banner.strip()]
    log.rename(tmp_path / "app.log.1")
    log.write_text(banner + "2026-11-23 11:00:00 INFO serving\n")  # starts with all the old file held
    lines, _ = run_lines(args, state)
    assert lines == [banner.strip(), "2026-11-23 11:00:00 INFO serving"]


def test_damaged_gz_with_state_keeps_what_could_be_read_and_is_not_read_twice(tmp_path):
    state = tmp_path / "state"
    text = numbered(0, 2000)
    gz = tmp_path / "app.log.1.gz"
    gz.write_bytes(gzip.compress(text.encode())[:-5000])
    lines, diag = run_lines([str(gz)], state)
    assert lines and text.startswith("\n".join(lines)) and notices(diag, "damaged or truncated")
    got = diag.sources[str(gz)].bytes
    lines, diag = run_lines([str(gz)], state)
    assert lines == [] and diag.sources[str(gz)].resumed_bytes == got


def test_pipeline_over_an_unchanged_gz_and_a_grown_file(tmp_path):
    state = tmp_path / "state"
    (tmp_path / "app.log.1.gz").write_bytes(gzip.compress(numbered(0, 10).encode()))
    log = tmp_path / "app.log"
    log.write_text(numbered(10, 20))
    args = [str(tmp_path / "app.log*")]
    texts, _ = run_pipeline(args, state)
    assert texts == numbered(0, 20).splitlines()
    with log.open("a") as f:
        f.write(numbered(20, 25) + "2026-11-23 10:00:25 INFO li")  # the last line still being written
    texts, diag = run_pipeline(args, state)
    assert texts == numbered(20, 25).splitlines()
    assert diag.resumed_bytes == len(numbered(0, 20)) and diag.lines_read == 5 and diag.held_bytes == 27
    with log.open("a") as f:
        f.write("ne 25\n")
    texts, diag = run_pipeline(args, state)
    assert texts == ["2026-11-23 10:00:25 INFO line 25"]
