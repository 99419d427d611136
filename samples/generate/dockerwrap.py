"""Wrap captured lines exactly as Docker's json-file driver and Docker Compose print them.

No Docker engine runs on the machine that generates the samples, so this
module reproduces, from their source code, what the daemon and Compose would
have written around the real lines captured here:

json-file (moby ``daemon/logger/copier.go`` + ``jsonfilelog``):
  one JSON object per line, keys ``log``, ``stream``, ``time``; ``log`` is the
  raw line including its ``\\n``; escaping: ``"``/``\\`` backslashed, ``\\n``,
  ``\\r``, every other byte < 0x20 and ``<``, ``>``, ``&`` as ``\\u00XX``,
  invalid UTF-8 as ``\\ufffd``, U+2028/2029 escaped; ``time`` is the receive
  time in UTC, RFC3339Nano with trailing zeros trimmed. A line longer than the
  16 KiB copy buffer becomes several entries: all but the last without
  ``\\n``, all with the first part's time.

``docker compose up`` / ``docker compose logs`` (compose v2/v5 ``cmd/formatter/logs.go``;
v1 ``log_printer.py``):
  ``<name padded to width> | <line>``; v2 registers a container when it
  first prints, and the width (longest registered name + 1) grows then; v1
  pads to the longest service name + 3 from the start. Names: ``api-1``
  (v2.23.1+), ``shop-api-1`` (v2.0-v2.23.0), ``api_1`` (v1). ANSI colours
  wrap the whole prefix (``ESC[36m`` ... ``ESC[0m``), rotating per container.
  Status lines (``up`` only): ``Attaching to ...``, ``<name> exited with code N``,
  prefixed with ``\\r ESC[K`` (goterm RESET_LINE) by v5. ``logs -t`` puts the
  daemon's fixed-width RFC3339Nano timestamp and a space after the prefix; the
  daemon also stamps every 16 KiB part of a split line, so a long line gets a
  second timestamp in the middle (docker/cli#4941, moby#37681).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from capture import Line

PARTIAL_SIZE = 16 * 1024
_HEX = "0123456789abcdef"

# colour rotation of compose v2 (cyan, yellow, green, magenta, blue, then bright)
COLORS = ["36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1"]
RESET_LINE = "\r\x1b[K"


# --- time formats --------------------------------------------------------------

def rfc3339nano(ts_ns: int) -> str:
    """Go ``time.RFC3339Nano`` in UTC: fraction with trailing zeros trimmed."""
    sec, frac = divmod(ts_ns, 1_000_000_000)
    base = datetime.fromtimestamp(sec, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    f = f"{frac:09d}".rstrip("0")
    return f"{base}.{f}Z" if f else f"{base}Z"


def rfc3339nano_fixed(ts_ns: int) -> str:
    """moby ``jsonmessage.RFC3339NanoFixed``: always nine fraction digits."""
    sec, frac = divmod(ts_ns, 1_000_000_000)
    base = datetime.fromtimestamp(sec, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}Z"


# --- json-file ------------------------------------------------------------------

def docker_json_string(data: bytes) -> str:
    """moby's ``ffjsonWriteJSONBytesAsString`` applied to raw bytes."""
    out = ['"']
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            if 0x20 <= b and b not in (0x5C, 0x22, 0x3C, 0x3E, 0x26):
                out.append(chr(b))
            elif b in (0x5C, 0x22):
                out.append("\\" + chr(b))
            elif b == 0x0A:
                out.append("\\n")
            elif b == 0x0D:
                out.append("\\r")
            else:
                out.append("\\u00" + _HEX[b >> 4] + _HEX[b & 0xF])
            i += 1
            continue
        # decode one UTF-8 rune
        for size in (2, 3, 4):
            try:
                ch = data[i:i + size].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1:
                break
        else:
            out.append("\\ufffd")
            i += 1
            continue
        if ch in ("\u2028", "\u2029"):
            out.append("\\u202" + _HEX[ord(ch) & 0xF])
        else:
            out.append(ch)
        i += size
    out.append('"')
    return "".join(out)


def json_file_entries(line: Line) -> list[str]:
    """The json-file line(s) Docker writes for one captured line."""
    data = line.data
    terminated = data.endswith(b"\n")
    body = data[:-1] if terminated else data
    parts: list[bytes] = []
    while len(body) >= PARTIAL_SIZE:
        parts.append(body[:PARTIAL_SIZE])
        body = body[PARTIAL_SIZE:]
    if terminated:
        parts.append(body + b"\n")
    elif body:
        parts.append(body)
    t = rfc3339nano(line.ts_ns)
    return ['{"log":' + docker_json_string(p) + ',"stream":"' + line.stream + '","time":"' + t + '"}\n'
            for p in parts]


def container_id(project: str, service: str) -> str:
    """A stable 64-hex container ID for a service of the sample project."""
    return hashlib.sha256(f"logscan-sample/{project}/{service}".encode()).hexdigest()


@dataclass
class Container:
    """A compose service's container as the samples present it."""

    project: str
    service: str
    lines: list[Line]
    image: str
    cmd: list[str]
    exit_code: int
    started_ns: int
    finished_ns: int
    oom_killed: bool = False
    env: tuple = ()

    @property
    def id(self) -> str:
        return container_id(self.project, self.service)

    @property
    def name(self) -> str:
        return f"{self.project}-{self.service}-1"


def write_container(root: Path, c: Container, *, with_config: bool = True,
                    compose_version: str = "2.29.7") -> dict:
    """Write ``<root>/<id>/<id>-json.log`` (and ``config.v2.json``)."""
    d = root / c.id
    d.mkdir(parents=True, exist_ok=True)
    log_path = d / f"{c.id}-json.log"
    entries = [e for line in c.lines for e in json_file_entries(line)]
    log_path.write_text("".join(entries), encoding="utf-8")
    out = {"log": log_path, "entries": len(entries),
           "partial_entries": sum(1 for e in entries if not json.loads(e)["log"].endswith("\n"))}
    if with_config:
        cfg = config_v2(c, log_path=f"/var/lib/docker/containers/{c.id}/{c.id}-json.log",
                        compose_version=compose_version)
        (d / "config.v2.json").write_text(json.dumps(cfg, separators=(",", ":")), encoding="utf-8")
        out["config"] = d / "config.v2.json"
    return out


def _go_time(ts_ns: int) -> str:
    return rfc3339nano(ts_ns)


def config_v2(c: Container, *, log_path: str, compose_version: str) -> dict:
    """A ``config.v2.json`` with the fields Docker stores (subset, real key names)."""
    labels = {
        "com.docker.compose.config-hash": hashlib.sha256(f"{c.service}-config".encode()).hexdigest(),
        "com.docker.compose.container-number": "1",
        "com.docker.compose.depends_on": "",
        "com.docker.compose.image": "sha256:" + hashlib.sha256(c.image.encode()).hexdigest(),
        "com.docker.compose.oneoff": "False",
        "com.docker.compose.project": c.project,
        "com.docker.compose.project.config_files": f"/srv/{c.project}/compose.yaml",
        "com.docker.compose.project.working_dir": f"/srv/{c.project}",
        "com.docker.compose.service": c.service,
        "com.docker.compose.version": compose_version,
    }
    return {
        "StreamConfig": {},
        "State": {
            "Running": False, "Paused": False, "Restarting": False, "OOMKilled": c.oom_killed,
            "RemovalInProgress": False, "Dead": False, "Pid": 0, "ExitCode": c.exit_code, "Error": "",
            "StartedAt": _go_time(c.started_ns), "FinishedAt": _go_time(c.finished_ns), "Health": None,
        },
        "ID": c.id,
        "Created": _go_time(c.started_ns - 850_000_000),
        "Managed": False,
        "Path": c.cmd[0],
        "Args": c.cmd[1:],
        "Config": {
            "Hostname": c.id[:12], "Domainname": "", "User": "", "AttachStdin": False,
            "AttachStdout": True, "AttachStderr": True, "Tty": False, "OpenStdin": False,
            "StdinOnce": False, "Env": list(c.env), "Cmd": c.cmd, "Image": c.image,
            "Volumes": None, "WorkingDir": "/app", "Entrypoint": None, "OnBuild": None,
            "Labels": labels,
        },
        "Image": labels["com.docker.compose.image"],
        "ImageManifest": None,
        "NetworkSettings": {"Bridge": "", "SandboxID": "", "Networks": {f"{c.project}_default": {}}},
        "LogPath": log_path,
        "Name": "/" + c.name,
        "Driver": "overlay2",
        "OS": "linux",
        "RestartCount": 0,
        "HasBeenStartedBefore": False,
        "HasBeenManuallyStopped": False,
        "MountPoints": {},
        "AppArmorProfile": "docker-default",
        "HostnamePath": f"/var/lib/docker/containers/{c.id}/hostname",
        "HostsPath": f"/var/lib/docker/containers/{c.id}/hosts",
        "ResolvConfPath": f"/var/lib/docker/containers/{c.id}/resolv.conf",
    }


# --- docker compose -------------------------------------------------------------

@dataclass
class Event:
    """One thing compose prints: a container's line or a status line."""

    kind: str  # "line" | "status" | "attach"
    service: str = ""
    line: Line | None = None
    text: str = ""


def compose_name(style: str, project: str, service: str) -> str:
    if style == "v1":
        return f"{service}_1"
    if style == "v2-project":
        return f"{project}-{service}-1"
    return f"{service}-1"


def render_compose(events: list[Event], *, style: str, project: str, services: list[str],
                   ansi: bool = False, timestamps: bool = False, status: bool = True,
                   reset_line: bool = True) -> str:
    """Render the events as one compose version prints them.

    ``style``: ``v2`` (v2.23.1+ / v5 names), ``v2-project`` (v2.0-v2.23.0),
    ``v1`` (docker-compose 1.x).
    """
    out: list[str] = []
    registered: dict[str, str] = {}  # name -> colour code
    width = 0
    if style == "v1":
        width = max(len(s) for s in services) + 3

    def color(code: str | None, s: str) -> str:
        return f"\x1b[{code}m{s}\x1b[0m" if (ansi and code) else s

    def register(name: str) -> None:
        nonlocal width
        if name in registered:
            return
        registered[name] = COLORS[len(registered) % len(COLORS)]
        if style != "v1":
            width = max(len(n) for n in registered) + 1

    for ev in events:
        if ev.kind == "attach":
            if not status:
                continue
            names = [compose_name(style, project, s) if style != "v1" else f"{project}_{s}_1"
                     for s in ev.text.split(",")]
            out.append("Attaching to " + ", ".join(names) + "\n")
            continue
        name = compose_name(style, project, ev.service)
        if ev.kind == "status":
            if not status:
                continue
            register(name)
            lead = RESET_LINE if (reset_line and style == "v2") else ""
            shown = name if style != "v1" else f"{project}_{ev.service}_1"
            out.append(color(registered[name], f"{lead}{shown} {ev.text}\n"))
            continue
        register(name)
        prefix = color(registered[name], f"{name:<{width}} | ")
        data = ev.line.data
        body = data[:-1] if data.endswith(b"\n") else data
        text = body.decode("utf-8", "replace")
        if timestamps:
            ts = rfc3339nano_fixed(ev.line.ts_ns)
            # the daemon stamps every 16 KiB part of a split line
            chunks = [body[i:i + PARTIAL_SIZE] for i in range(0, max(len(body), 1), PARTIAL_SIZE)]
            if len(body) >= PARTIAL_SIZE and len(body) % PARTIAL_SIZE == 0:
                chunks.append(b"")
            text = "".join(f"{ts} " + ch.decode("utf-8", "replace") for ch in chunks)
        out.append(f"{prefix}{text}\n")
    return "".join(out)
