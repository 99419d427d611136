"""Turn the captured runs into the committed sample files and the manifest.

Everything written here is either a byte-exact copy of what the software
printed (per stream, or merged in arrival order), a file the software wrote
itself (PostgreSQL's stderr/csv/json logs), a cut of such a file (the
rotated set), or the Docker/Compose wrapping of the captured lines
(:mod:`dockerwrap`).
"""

from __future__ import annotations

import gzip
import heapq
import re
import shutil
from pathlib import Path

import dockerwrap as dw
from capture import Line, write_lines
from manifest import Manifest

PROJECT = "shop"
COMPOSE_SERVICES = ["db", "migrate", "api", "worker", "notifier"]

API_TEXT_FORMATS = {"stdout": ["uvicorn"], "stderr": ["uvicorn", "loguru"]}
SERVICE_FORMATS = {
    "db": {"stderr": ["postgres"]},
    "migrate": {"stderr": ["python"]},
    "api": API_TEXT_FORMATS,
    "worker": {"stdout": ["json"]},
    "notifier": {"stderr": ["json"]},
}
RECORD_START = re.compile(rb"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| |(INFO|ERROR|WARNING|DEBUG|CRITICAL):  "
                          rb"|\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[[A-Z]+\] |\d+\.\d+\.\d+\.\d+:\d+ - \")")


def _ok(reqs, status):
    return [r for r in reqs if r.status == status]


def _rids(reqs):
    return [r.request_id for r in reqs]


class Writer:
    def __init__(self, out: Path, manifest: Manifest):
        self.out = out
        self.m = manifest
        self.files: dict[str, list[str]] = {}  # group -> relative paths

    def group(self, name: str, *paths: str) -> None:
        self.files.setdefault(name, []).extend(paths)

    # -- plain copies ---------------------------------------------------------
    def captured(self, lines: list[Line], rel: str, *, formats, produced_by, description,
                 streams: bool = False, group: str | None = None, **extra) -> list[str]:
        base = self.out / rel
        paths = write_lines(lines, base, merged_only=not streams)
        out = [self.m.add_file(paths["merged"], formats=formats, wrapping="none", produced_by=produced_by,
                               description=description, **extra)]
        if streams:
            for stream in ("stdout", "stderr"):
                f = {svc: {stream: v[stream]} for svc, v in formats.items() if v.get(stream)}
                out.append(self.m.add_file(paths[stream], formats=f, wrapping="none", produced_by=produced_by,
                                           description=f"{description} ({stream} only)", **extra))
        if group:
            self.group(group, *out)
        return out

    def copy(self, src: Path, rel: str, *, formats, produced_by, description, group=None, **extra) -> str:
        dst = self.out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        p = self.m.add_file(dst, formats=formats, wrapping="none", produced_by=produced_by,
                            description=description, **extra)
        if group:
            self.group(group, p)
        return p


# --- compose project --------------------------------------------------------------

def compose_events(containers: dict[str, dw.Container], statuses: list[tuple[int, str, str]],
                   attach_ns: int) -> list[dw.Event]:
    """Merge the containers' lines in arrival order (order within a container kept)."""
    streams = []
    for svc, c in containers.items():
        streams.append([(l.ts_ns, l.seq, dw.Event("line", svc, l)) for l in c.lines])
    streams.append([(ts, 0, dw.Event("status", svc, text=text)) for ts, svc, text in sorted(statuses)])
    merged = [e for _, _, e in heapq.merge(*streams, key=lambda t: (t[0], t[1]))]
    return [dw.Event("attach", text=",".join(sorted(containers)))] + merged


def interleave_traceback(events: list[dw.Event], request_id: str, other: str = "db",
                         window_ns: int = 200_000_000) -> dict | None:
    """Make one api traceback be interrupted by ``other``'s lines, as compose's
    concurrent per-container readers can print it: the ``other`` lines that
    arrived within ``window_ns`` of the traceback's first line are moved to
    the middle of the traceback (their relative order kept)."""
    marker = f"req_id={request_id}".encode()
    start = None
    for i, e in enumerate(events):
        if e.kind == "line" and e.service == "api" and marker in e.line.data and b"status=500" in e.line.data:
            start = i
            break
    if start is None:
        return None
    tb = [i for i in range(start, len(events))
          if events[i].kind == "line" and events[i].service == "api"
          and events[i].line.data.startswith(b"Traceback (most recent call last):")]
    if not tb:
        return None
    tb_start = tb[0]
    end = tb_start
    for j in range(tb_start + 1, len(events)):
        e = events[j]
        if e.kind == "line" and e.service == "api":
            if RECORD_START.match(e.line.data):
                break
            end = j
    t0 = events[tb_start].line.ts_ns
    movers = [i for i in range(len(events)) if events[i].kind == "line" and events[i].service == other
              and abs(events[i].line.ts_ns - t0) <= window_ns and not (tb_start < i <= end)]
    if not movers:
        return None
    moved = [events[i] for i in movers]
    keep = [e for k, e in enumerate(events) if k not in set(movers)]
    tb_pos = keep.index(events[tb_start])
    insert_at = tb_pos + 6
    keep[insert_at:insert_at] = moved
    events[:] = keep
    return {"service": "api", "request_id": request_id, "interrupted_by": other, "lines_moved": len(moved),
            "after_traceback_line": 6}


def write_compose(w: Writer, events: list[dw.Event]) -> dict[str, str]:
    variants = {
        "compose-v2": ("compose/compose.log", dict(style="v2", status=True),
                       "`docker compose up` as printed by Compose v2.23.1+ (v5 status lines with \\r ESC[K)"),
        "compose-v1": ("compose/compose-v1.log", dict(style="v1", status=True),
                       "`docker-compose up` as printed by Compose v1 (1.29)"),
        "compose-v2-project": ("compose/compose-v2-project.log", dict(style="v2-project", status=False),
                               "`docker compose logs` as printed by Compose v2.0-v2.23.0 (project-service-N names)"),
        "compose-timestamps": ("compose/compose-timestamps.log", dict(style="v2", status=False, timestamps=True),
                               "`docker compose logs -t` (daemon timestamps after the prefix), v2.23.1+ names"),
        "compose-ansi": ("compose/compose-ansi.log", dict(style="v2", status=True, ansi=True),
                         "`docker compose up` on a terminal: ANSI colours around the prefix, v2.23.1+/v5"),
    }
    paths = {}
    for wrapping, (rel, opts, desc) in variants.items():
        text = dw.render_compose(events, project=PROJECT, services=COMPOSE_SERVICES, **opts)
        p = w.out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        paths[wrapping] = w.m.add_file(
            p, formats=SERVICE_FORMATS, wrapping=wrapping, description=desc,
            produced_by="real lines of the compose project run, wrapped by samples/generate/dockerwrap.py",
            status_lines=opts.get("status", False))
    return paths


def rotate(w: Writer, lines: list[Line]) -> list[tuple[str, list[Line]]]:
    """Cut a real log (the gunicorn run) at record boundaries into app.log.2.gz
    (oldest), app.log.1, app.log, as logrotate would leave them."""
    starts = [i for i, l in enumerate(lines) if RECORD_START.match(l.data)]
    n = len(lines)
    cuts = [min(starts, key=lambda s: abs(s - n * k // 3)) for k in (1, 2)]
    parts = [lines[:cuts[0]], lines[cuts[0]:cuts[1]], lines[cuts[1]:]]
    d = w.out / "rotated"
    d.mkdir(parents=True, exist_ok=True)
    oldest = b"".join(l.data for l in parts[0])
    with open(d / "app.log.2.gz", "wb") as fh, gzip.GzipFile("app.log.2", "wb", fileobj=fh, mtime=0) as gz:
        gz.write(oldest)
    (d / "app.log.1").write_bytes(b"".join(l.data for l in parts[1]))
    (d / "app.log").write_bytes(b"".join(l.data for l in parts[2]))
    out = []
    for name, order in (("app.log.2.gz", 0), ("app.log.1", 1), ("app.log", 2)):
        out.append((w.m.add_file(d / name, formats={"api": {"stderr": ["gunicorn", "loguru"], "stdout": ["gunicorn"]}},
                                wrapping="none",
                                produced_by="cut from samples/gunicorn/gunicorn.log at record boundaries",
                                description="rotated gunicorn log (logrotate naming; .2.gz oldest)",
                                rotation_index=order), parts[order]))
    return out
