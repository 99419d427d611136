"""`scan --engine dask` on a LocalCluster of 2 worker processes: the same JSON report as a local scan, even when a
worker dies mid-run. `distributed` comes with the test extra (it takes logscan[dask]): these tests run, never skip."""

from __future__ import annotations

import functools
import http.server
import io
import os
import signal
import threading
import time
from pathlib import Path

import distributed
import orjson
import pytest
import regex

from analyzer.diagnostics import Diagnostics
from analyzer.ingest.sources import resolve
from analyzer.scale.partial import Job, Partial, Shard, finish, merge_all, plan_shards, run_shard
from conftest import ROOT


#: Every sample set: all of samples/ (set A, with set B inside it), and set B alone.
SAMPLES = [str(ROOT / "samples"), str(ROOT / "samples" / "deploy-b")]


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.stdout)
    out.pop("generated_at")
    return out


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_dask_scan_gives_the_local_report(cli, cluster) -> None:
    for sample in SAMPLES:
        local = _json(cli("scan", sample, "--format", "json"))
        dask = _json(cli("scan", sample, "--format", "json", "--engine", "dask", "--scheduler", cluster.scheduler_address))
        assert dask == local, sample
        assert local["incidents"], sample


def test_a_storm_of_requests_seen_in_access_logs_on_dask_gives_the_local_report(cli, cluster) -> None:
    """Refused requests (422s) that only their access lines show, one file a shard: the same affected requests."""
    paths = [str(ROOT / "tests" / "real_lines" / name) for name in ("gunicorn_storm.log", "loguru_intercept_422_storm.log")]
    local = _json(cli("scan", *paths, "--format", "json"))
    dask = _json(cli("scan", *paths, "--format", "json", "--engine", "dask", "--scheduler", cluster.scheduler_address))
    assert dask == local
    storms = [i for i in local["incidents"] if i["signature"] == "http_422_storm"]
    assert [(i["affected_requests"], i["failed_requests"]) for i in storms] == [(25, 0), (25, 0)]


def test_a_worker_killed_mid_run_changes_nothing(cluster, tmp_path: Path) -> None:
    """A shard task kills its own worker process the first time it runs: the scheduler runs it again on a new
    worker, the re-run returns the same partial, and the report is the local one, nothing counted twice."""
    from analyzer.analysis.engine import Settings
    from analyzer.analysis.signatures import load_signatures
    from analyzer.scale import dask as dask_engine
    from test_scale import local_report, report

    marker = tmp_path / "killed-once"
    paths = (str(ROOT / "samples" / "postgres"), str(ROOT / "samples" / "compose"))

    def dies_once(job: Job, shard: Shard) -> Partial:
        if shard.index == 1 and not os.path.exists(marker):
            Path(marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return run_shard(job, shard)

    diag = Diagnostics()
    shards = plan_shards(resolve(paths, diag))
    with distributed.Client(cluster) as client:
        partials, fetch = dask_engine.run(Job(Settings()), shards, client, task=dies_once)
        assert marker.exists()
        assert sorted(p.segments[0].index for p in partials) == [s.index for s in shards]
        assert all(p.segments[0].trails is None for p in partials)  # they stayed on the workers
        analysis, tally = finish(merge_all(partials), load_signatures(), Settings(), diag, fetch)
    assert report(analysis, diag, tally) == local_report(paths)


def _same_paths(report: dict, root: Path) -> dict:
    return orjson.loads(orjson.dumps(report).replace(str(root).encode(), b"ROOT"))


def _runs(cli, scheduler: str | None, root: Path, state: Path) -> list[dict]:
    """Two `scan --state` runs over logs that change between them: a growing Compose log, a rotated set rotated
    in between (renamed, a new file started), PostgreSQL's folder unchanged (read once, then skipped)."""
    data = (ROOT / "samples" / "compose" / "compose.log").read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1
    app = (ROOT / "samples" / "api" / "api-text.log").read_bytes()
    app_cut = app.index(b"\n", len(app) // 3) + 1
    logs = root / "logs"
    (logs / "app").mkdir(parents=True)
    (logs / "compose.log").write_bytes(data[:cut])
    (logs / "app" / "app.log").write_bytes(app[:app_cut])
    args = [str(logs / "compose.log"), str(logs / "app" / "app.log*"), str(ROOT / "samples" / "postgres")]
    engine = ["--engine", "dask", "--scheduler", scheduler] if scheduler else []
    out = [_json(cli("scan", *args, "--state", str(state), "--format", "json", *engine))]
    with (logs / "compose.log").open("ab") as f:
        f.write(data[cut:])
    os.rename(logs / "app" / "app.log", logs / "app" / "app.log.1")
    with (logs / "app" / "app.log.1").open("ab") as f:
        f.write(app[app_cut : 2 * app_cut])
    (logs / "app" / "app.log").write_bytes(app[2 * app_cut :])
    out.append(_json(cli("scan", *args, "--state", str(state), "--format", "json", *engine)))
    return out


def test_dask_state_runs_give_the_local_state_runs(cli, cluster, tmp_path: Path) -> None:
    """`--state` with the engine: the driver resolves the inputs against its checkpoints, each shard reads from
    where they say, the driver commits what they read to, and keeps the history. Two successive runs give what two
    local `--state` runs give: the same incidents, statuses (new, ongoing, resolved), bytes read and resumed."""
    local = _runs(cli, None, tmp_path / "local", tmp_path / "local-state")
    dask = _runs(cli, cluster.scheduler_address, tmp_path / "dask", tmp_path / "dask-state")
    for mine, theirs in zip(dask, local, strict=True):
        for report in (mine, theirs):  # the two runs read copies in different folders
            report["summary"].pop("sources", None)
        assert _same_paths(mine, tmp_path / "dask") == _same_paths(theirs, tmp_path / "local")
    assert local[1]["summary"]["resumed_bytes"] > 0 and local[1]["summary"]["bytes_read"] > 0
    assert local[0]["incidents"] and {i["status"] for i in local[0]["incidents"]} == {"new"}


def _kill_soon() -> None:
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGKILL)).start()


def test_a_worker_killed_between_the_rounds_changes_nothing(cluster) -> None:
    """The partials are in, and every worker that holds shards' trace rows, trails and strings is killed before the
    driver asks for them: the scheduler runs those shards again (the same task: the same held rows) and the
    report is the local one."""
    from analyzer.analysis.engine import Settings
    from analyzer.analysis.signatures import load_signatures
    from analyzer.scale import dask as dask_engine
    from test_scale import local_report, report

    paths = (str(ROOT / "samples" / "postgres"), str(ROOT / "samples" / "compose"))
    diag = Diagnostics()
    shards = plan_shards(resolve(paths, diag))
    with distributed.Client(cluster) as client:
        partials, fetch = dask_engine.run(Job(Settings()), shards, client)
        before = set(client.scheduler_info()["workers"])
        client.run(_kill_soon)  # the nannies start new ones
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = set(client.scheduler_info()["workers"])
            if len(now) == 2 and not now & before:
                break
            time.sleep(0.2)
        assert not before & set(client.scheduler_info()["workers"])
        analysis, tally = finish(merge_all(partials), load_signatures(), Settings(), diag, fetch)
    assert report(analysis, diag, tally) == local_report(paths)


def _copytruncate_runs(cli, scheduler: str | None, root: Path) -> list[dict]:
    """Two `--state` runs over `app.log*` with a copytruncate in between: the copy (app.log.1) is an input of
    its own and also what the truncated app.log is continued from."""
    app = (ROOT / "samples" / "api" / "api-text.log").read_bytes()
    cuts = [app.index(b"\n", len(app) * k // 3) + 1 for k in (1, 2)]
    root.mkdir()
    log = root / "app.log"
    log.write_bytes(app[: cuts[0]])
    args = [str(root / "app.log*"), "--state", str(root / "state"), "--format", "json"]
    engine = ["--engine", "dask", "--scheduler", scheduler] if scheduler else []
    out = [_json(cli("scan", *args, *engine))]
    (root / "app.log.1").write_bytes(app[: cuts[1]])  # copied with what was written since, then truncated
    log.write_bytes(app[cuts[1] :])
    out.append(_json(cli("scan", *args, *engine)))
    return out


def test_two_shards_on_one_checkpoint_are_read_as_one_run(cli, cluster, tmp_path: Path) -> None:
    """The copy is read as an input and through the truncated file it was copied from: two shards touch its
    checkpoint, so the engine reads the inputs again as one shard, and the report is the local one."""
    local = _copytruncate_runs(cli, None, tmp_path / "local")
    dask = _copytruncate_runs(cli, cluster.scheduler_address, tmp_path / "dask")
    for mine, theirs in zip(dask, local, strict=True):
        assert _same_paths(mine, tmp_path / "dask") == _same_paths(theirs, tmp_path / "local")
    total = sum(r["summary"]["lines_read"] for r in local)
    assert total == (ROOT / "samples" / "api" / "api-text.log").read_bytes().count(b"\n")


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """http.server's file handler, also answering `Range: bytes=a-b` (206), which fsspec's random access to an
    http:// file needs (the stock handler sends the whole file)."""

    def send_head(self):  # noqa: ANN201 - http.server's own signature
        asked = regex.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if asked is None:
            return super().send_head()
        data = Path(self.translate_path(self.path)).read_bytes()
        start, end = int(asked[1]), min(int(asked[2] or len(data) - 1), len(data) - 1)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(max(0, end - start + 1)))
        self.end_headers()
        return io.BytesIO(data[start : end + 1])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_root():
    """A loopback HTTP server (Range requests answered) over samples/, for the workers as for the driver."""
    handler = functools.partial(_RangeHandler, directory=str(ROOT / "samples"))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


def _urls(http_root: str, name: str) -> list[str]:
    return [(ROOT / "samples" / name).as_uri(), f"{http_root}/{name}"]


def test_url_inputs_in_byte_ranges_give_the_local_report(cluster, http_root: str) -> None:
    """file:// and http:// inputs (fsspec), cut into byte ranges read through fsspec's seekable files on the
    workers: the report of a local scan of the same URL, and of the same file by path (but for its name)."""
    from analyzer.analysis.engine import Settings
    from analyzer.analysis.signatures import load_signatures
    from analyzer.scale import dask as dask_engine
    from test_scale import local_report, report

    name, chunk = "api/api-text.log", 20_000
    by_path = local_report((str(ROOT / "samples" / name),), chunk)
    job = Job(Settings(), chunk_bytes=chunk)
    with distributed.Client(cluster) as client:
        for url in _urls(http_root, name):
            diag = Diagnostics()
            shards = plan_shards(resolve([url], diag), shard_bytes=2 * chunk, job=job)
            assert len(shards) > 2 and all(s.span for s in shards), url
            partials, fetch = dask_engine.run(job, shards, client)
            analysis, tally = finish(merge_all(partials), load_signatures(), Settings(), diag, fetch)
            got = report(analysis, diag, tally)
            assert got == local_report((url,), chunk), url
            named = orjson.loads(orjson.dumps(got).replace(url.encode(), str(ROOT / "samples" / name).encode()))
            assert named == by_path, url


def test_scan_of_urls_on_dask_gives_the_local_report(cli, cluster, http_root: str) -> None:
    for url in _urls(http_root, "compose/compose.log"):
        local = _json(cli("scan", url, "--format", "json"))
        dask = _json(cli("scan", url, "--format", "json", "--engine", "dask", "--scheduler", cluster.scheduler_address))
        assert dask == local, url
        assert local["incidents"] and local["summary"]["records"] > 100, url


def test_urls_that_cannot_be_read_exit_2(cli, monkeypatch) -> None:
    """A protocol whose package is missing (scan, either engine), --state with a URL, tail of a URL."""
    from fsspec.registry import known_implementations

    monkeypatch.setitem(known_implementations, "logscanabsent",
                        {"class": "logscan_absent_module.FS", "err": "Install logscan-absent to access it"})
    for engine in ("local", "dask"):
        result = cli("scan", "logscanabsent://bucket/app.log", "--engine", engine)
        assert result.exit_code == 2
        assert "logscanabsent:// protocol needs a package" in result.stderr and "logscan-absent" in result.stderr
        assert result.stdout == ""
    url = (ROOT / "samples" / "compose" / "compose.log").as_uri()
    for args, why in ((("scan", url, "--state", "x"), "a URL cannot be resumed"),
                      (("tail", url), "tail follows local files")):
        result = cli(*args)
        assert result.exit_code == 2 and why in result.stderr, args
