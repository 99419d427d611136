"""The generator's record of what it produced and injected: ``samples/manifest.json``.

``files``: one entry per sample file (path relative to the repository root)
with the logscan format names per service and stream, the services, the
line count, the wrapping (``none``, ``docker-json-file``, ``compose-v1``,
``compose-v2``, ``compose-v2-project``, ``compose-timestamps``,
``compose-ansi``) and what produced it.

``incidents``: one entry per injected problem with the logscan signature id
it should be found as, the service, the files where it appears, the request
IDs of the requests that failed that way (sent by the generator as
``X-Request-ID``) and the number of occurrences, all taken from what the
generator did and what its clients saw, not from reading the logs.

``non_incidents``: things present on purpose that must *not* become
incidents (422s below the storm threshold, a normal gunicorn shutdown, ...).

``runs``: every process run and every request sent, with outcomes.
"""

from __future__ import annotations

import gzip
import json
import platform
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path


def versions(postgresql: str, packages: Iterable[str], **extra: str) -> dict[str, str | None]:
    """What produced a sample set: Python's, PostgreSQL's (`postgresql`) and each installed package's version."""
    found: dict[str, str | None] = {"python": platform.python_version(), "postgresql": postgresql, **extra}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


WRAPPINGS = {"none", "docker-json-file", "compose-v1", "compose-v2", "compose-v2-project",
             "compose-timestamps", "compose-ansi"}
FORMATS = {"uvicorn", "gunicorn", "loguru", "loguru_json", "python", "postgres", "postgres_csv",
           "postgres_json", "json", "plain"}
SIGNATURES = {"missing_greenlet", "pool_exhausted", "too_many_connections", "alembic_multiple_heads",
              "alembic_missing_revision", "alembic_not_up_to_date", "http_422_storm", "slow_request",
              "pg_slow_statement", "deadlock", "relation_missing", "address_in_use", "jwt_expired",
              "statement_timeout", "worker_timeout", "container_oom_killed", "unknown"}


def count_lines(path: Path) -> int:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    n = data.count(b"\n")
    return n + (1 if data and not data.endswith(b"\n") else 0)


class Manifest:
    def __init__(self, repo_root: Path):
        self.root = repo_root
        self.files: list[dict] = []
        self.incidents: list[dict] = []
        self.non_incidents: list[dict] = []
        self.runs: dict = {}
        self.versions: dict = {}
        self.notes: list[str] = []

    def rel(self, path: Path) -> str:
        return Path(path).resolve().relative_to(self.root).as_posix()

    def add_file(self, path: Path, *, formats: dict[str, dict[str, list[str]]], wrapping: str,
                 produced_by: str, description: str, **extra) -> str:
        """``formats``: service -> stream (``stdout``/``stderr``/``file``) -> format names."""
        assert wrapping in WRAPPINGS, wrapping
        for per_stream in formats.values():
            for names in per_stream.values():
                assert set(names) <= FORMATS, names
        all_formats = sorted({f for s in formats.values() for names in s.values() for f in names})
        entry = {
            "path": self.rel(path),
            "services": sorted(formats),
            "formats": formats,
            "all_formats": all_formats,
            "wrapping": wrapping,
            "lines": count_lines(Path(path)),
            "bytes": Path(path).stat().st_size,
            "produced_by": produced_by,
            "description": description,
        }
        entry.update(extra)
        self.files.append(entry)
        return entry["path"]

    def add_incident(self, signature: str, *, service: str, files: list[str], occurrences: int,
                     request_ids: list[str] | None = None, **details) -> None:
        assert signature in SIGNATURES, signature
        entry = {"signature": signature, "service": service, "files": sorted(set(files)),
                 "request_ids": list(request_ids or []), "occurrences": occurrences}
        entry.update(details)
        self.incidents.append(entry)

    def add_non_incident(self, kind: str, *, files: list[str], **details) -> None:
        entry = {"kind": kind, "files": sorted(set(files))}
        entry.update(details)
        self.non_incidents.append(entry)

    def write(self, path: Path) -> None:
        doc = {
            "schema": 1,
            "generator": "samples/generate/generate.py",
            "notes": self.notes,
            "versions": self.versions,
            "files": sorted(self.files, key=lambda f: f["path"]),
            "incidents": self.incidents,
            "non_incidents": self.non_incidents,
            "runs": self.runs,
        }
        path.write_text(dumps(doc) + "\n", encoding="utf-8")


def dumps(obj, indent: int = 0, width: int = 220) -> str:
    """JSON with small objects and lists kept on one line (readable, compact)."""
    flat = json.dumps(obj, ensure_ascii=False)
    if len(flat) + indent <= width or not isinstance(obj, (dict, list)) or not obj:
        return flat
    pad = " " * (indent + 1)
    if isinstance(obj, dict):
        items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 1, width)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + dumps(v, indent + 1, width) for v in obj]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


class Checks:
    """Planned outcomes vs. what happened: each unmet expectation is kept and said on stderr at once (both
    generators fail at the end when any is left)."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def expect(self, cond: bool, what: str) -> None:
        if not cond:
            self.problems.append(what)
            print(f"!! {what}", file=sys.stderr)
