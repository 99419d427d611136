"""Kubernetes nodes' container logs: the CRI format containerd and CRI-O write, `<time> <stream> P|F <line>`.

No container runtime runs here: real uvicorn lines (tests/real_lines/journald_short.log, unwrapped) are
wrapped exactly as the runtimes print them (cri-api's log tags; containerd's RFC3339Nano times with trailing
zeros cut, CRI-O's nine digits and an offset), long lines split into `P` pieces as a runtime does past its
buffer. The report must be the one of the bare lines.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT

from analyzer.ingest.framing.envelope import kubernetes_container
from tests.conftest import read_events

BARE = [re.sub(r"^\S+ \S+ \S+ \S+ uvicorn\[\d+\]: ", "", line.rstrip("\n"))
        for line in open(ROOT / "tests/real_lines/journald_short.log") if " uvicorn[" in line]


def containerd_time(n: int) -> str:
    fraction = f"{n * 7919 % 1_000_000_000:09d}".rstrip("0")
    return f"2026-12-04T00:57:{18 + n // 60:02d}{'.' + fraction if fraction else ''}Z"


def crio_time(n: int) -> str:
    return f"2026-12-04T00:57:{18 + n // 60:02d}.{n * 7919 % 1_000_000_000:09d}+00:00"


def cri(lines: list[str], time, piece: int = 0) -> str:
    """`lines` as a runtime writes them; lines longer than `piece` (when set) split into P pieces."""
    out = []
    for n, line in enumerate(lines):
        stream = "stdout" if ' - "' in line else "stderr"  # uvicorn: access lines to stdout, the rest to stderr
        cuts = [line[i:i + piece] for i in range(0, len(line), piece)] if piece and line else [line]
        out += [f"{time(n)} {stream} {'P' if i < len(cuts) - 1 else 'F'} {cut}" for i, cut in enumerate(cuts)]
    return "\n".join(out) + "\n"


def report(cli, path) -> list[tuple]:
    result = cli("scan", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    return [(i["signature"], i["title"], i["count"]) for i in json.loads(result.stdout)["incidents"]]


@pytest.mark.parametrize("time", [containerd_time, crio_time])
@pytest.mark.parametrize("piece", [0, 17])
def test_a_cri_file_reports_what_its_bare_lines_report(cli, plain_env, write, time, piece):
    bare = report(cli, write("bare.log", "\n".join(BARE) + "\n"))
    wrapped = write("var/log/pods/shop_api-7d9f_0c1d/api/0.log", cri(BARE, time, piece))
    assert report(cli, wrapped) == bare and bare[0][0] == "unhandled_asgi_exception"


def test_pieces_are_rejoined_across_chunks_and_streams_kept_apart(write):
    path = write("var/log/containers/api-7d9f_shop_api-" + "ab" * 32 + ".log", cri(BARE, containerd_time, 17))
    events, diag = read_events(path, chunk_bytes=900)
    rows = events.to_dicts()
    assert {row["service"] for row in rows} == {"api"} and {row["stream"] for row in rows} == {"stdout", "stderr"}
    assert diag.lines_read == cri(BARE, containerd_time, 17).count("\n")
    assert all(row["ts"] is not None and not row["ts_inferred"] for row in rows)
    assert {row["format"] for row in rows} == {"uvicorn"}


@pytest.mark.parametrize(("path", "container"), [
    ("/var/log/pods/shop_api-7d9f8_1b2c-3d4e/api/0.log", "api"),
    ("/var/log/pods/shop_api-7d9f8_1b2c-3d4e/migrate/3.log.20261204-005718", "migrate"),
    ("/var/log/containers/api-7d9f8_shop_worker-" + "0f" * 32 + ".log", "worker"),
    ("/var/log/app/api.log", None),
])
def test_the_container_is_named_by_the_kubelets_file_layout(path, container):
    assert kubernetes_container(path) == container
