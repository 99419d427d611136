"""Consistency checks of the written samples (run at the end of generate.py).

* every Docker json-file unwraps (partial entries rejoined per stream) to
  exactly the lines of the plain capture of the same service;
* every compose rendering, with its prefixes (and ANSI, timestamps) removed
  and split per service, gives the same lines as the plain captures;
* every file named in the manifest exists with the recorded line count, and
  the request IDs of the api incidents occur in the api log.

These checks read the files only to verify the wrapping code; the manifest's
content comes from what the generator did.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from manifest import count_lines

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")
KEY_ORDER = re.compile(r'^\{"log":".*","stream":"(stdout|stderr)","time":"[0-9T:.\-]+Z"\}$')


def unwrap_json_file(path: Path) -> list[str]:
    lines, pending = [], {"stdout": "", "stderr": ""}
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not KEY_ORDER.match(raw) or "<" in raw or ">" in raw or "&" in raw or "\t" in raw:
            raise AssertionError(f"{path.name}: bad entry {raw[:120]}")
        e = json.loads(raw)
        pending[e["stream"]] += e["log"]
        if e["log"].endswith("\n"):
            lines.append(pending[e["stream"]])
            pending[e["stream"]] = ""
    return lines


def unwrap_compose(path: Path, services: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {s: [] for s in services}
    names = {}
    for s in services:
        names[f"{s}-1"] = names[f"{s}_1"] = names[f"shop-{s}-1"] = s
    for raw in path.read_text(encoding="utf-8").split("\n")[:-1]:
        line = raw
        while line.startswith("\x1b[0m"):  # reset of a coloured status line ends up here
            line = line[4:]
        if line.startswith("\x1b["):
            m = re.match(r"^\x1b\[[0-9;]*m(.*?)\x1b\[0m", line)
            if m and " | " in m.group(1):
                line = m.group(1) + line[m.end():]
            else:
                continue  # a coloured status line (or the reset left over from one)
        if " | " not in line:
            continue  # status line
        name, _, text = line.partition(" | ")
        name = name.strip()
        if name not in names:
            continue
        if TS.match(text):
            text = text[31:]
            text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ", "", text) if len(text) > 16384 else text
        out[names[name]].append(text + "\n")
    return out


def run(repo: Path, manifest: dict) -> list[str]:
    problems: list[str] = []
    files = {f["path"]: f for f in manifest["files"]}
    for rel, f in files.items():
        p = repo / rel
        if not p.exists():
            problems.append(f"missing file {rel}")
        elif count_lines(p) != f["lines"]:
            problems.append(f"{rel}: {count_lines(p)} lines, manifest says {f['lines']}")

    plain = {
        "api": "samples/api/api-text.log", "db": "samples/postgres/default.log",
        "migrate": "samples/alembic/upgrade-head.log", "worker": "samples/json/structlog.log",
        "notifier": "samples/json/python-json-logger.log",
    }
    raw = {s: (repo / p).read_text(encoding="utf-8").splitlines(keepends=True) for s, p in plain.items()}
    for rel, f in files.items():
        if f["wrapping"] == "docker-json-file":
            svc = f["compose_service"]
            if unwrap_json_file(repo / rel) != raw[svc]:
                problems.append(f"{rel}: unwrapped lines differ from {plain[svc]}")
        elif f["wrapping"].startswith("compose"):
            got = unwrap_compose(repo / rel, f["services"])
            for svc, lines in got.items():
                if svc == "api" and f["wrapping"] == "compose-timestamps":
                    lines = [l for l in lines if len(l) <= 16384]
                    want = [l for l in raw[svc] if len(l) <= 16384]
                else:
                    want = raw[svc]
                if lines != want:
                    problems.append(f"{rel}: service {svc} differs from {plain[svc]} "
                                    f"({len(lines)} vs {len(want)} lines)")
    api_text = (repo / plain["api"]).read_text(encoding="utf-8")
    for inc in manifest["incidents"]:
        if inc.get("run") == "api-text":
            for rid in inc["request_ids"]:
                if rid not in api_text:
                    problems.append(f"{inc['signature']}: request id {rid} not in the api log")
        for rel in inc["files"]:
            if rel not in files:
                problems.append(f"{inc['signature']}: file {rel} not in manifest files")
    gz = repo / "samples/rotated/app.log.2.gz"
    if gz.exists():
        gzip.decompress(gz.read_bytes())
    return problems
