"""The naive Python baseline that logscan's throughput is measured against.

What a reasonable developer would write without logscan: read the file line
by line (``for line in f``, UTF-8 with replacement) and match each line with one
compiled ``re`` per format that anchors the full header and captures its fields
(timestamp, level, pid, logger, HTTP fields...). For ``docker compose logs``
output the service prefix is matched first, then each format is tried in order
on the rest of the line. It counts matched lines and prints
``lines=N matched=M``. Header-only by design: continuation lines (tracebacks,
TAB-led PostgreSQL lines, CSV fields with newlines) do not match.

    python benchmarks/naive.py FILE [FILE ...] [--format NAME]

Several files (the mix) are read one after the other, each with its own formats.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

STR = r'[^"\\]*(?:\\.[^"\\]*)*'  # the body of a JSON string
ACCESS = r'(?P<client>[^ ]*) - "(?P<method>[A-Z]+) (?P<path>[^ ]*) HTTP/(?P<http>[0-9.]+)" (?P<status>\d{3})'
PATTERNS = {
    "uvicorn": rf"(?P<level>TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL): +(?:{ACCESS}(?: (?P<phrase>.*))?|(?P<message>.*))$",
    "gunicorn": r"\[(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4})\] \[(?P<pid>\d+)\] \[(?P<level>[A-Z]+)\] (?P<message>.*)$"
                rf"|{ACCESS}$",
    "loguru": r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \| (?P<level>[A-Z]+) *\| "
              r"(?P<name>[^:]+):(?P<function>[^:]+):(?P<line>\d+) - (?P<message>.*)$",
    "loguru-json": rf'\{{"text": "(?P<text>{STR})", "record": \{{"elapsed": \{{"repr": "[^"]*", "seconds": [0-9.e+-]+\}}, '
                   rf'"exception": (?:null|\{{"type": "(?P<exc_type>[^"]*)".*?\}}), "extra": \{{(?P<extra>.*?)\}}, '
                   r'"file": .*?"level": \{"icon": "[^"]*", "name": "(?P<level>[^"]+)", "no": \d+\}, '
                   rf'"line": (?P<line>\d+), "message": "(?P<message>{STR})", "module": "[^"]*", "name": "(?P<name>[^"]*)", '
                   r'"process": \{"id": (?P<pid>\d+), .*"time": \{"repr": "(?P<ts>[^"]+)", "timestamp": [0-9.]+\}\}\}$',
    "python": r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \[(?P<level>[A-Z]+)\] (?P<logger>[^:]+): (?P<message>.*)$",
    "alembic": r"(?P<level>[A-Z]{4,5}) {1,2}\[(?P<logger>[\w.]+)\] (?P<message>.*)$",
    "postgres": r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [A-Z]{2,5}) \[(?P<pid>\d+)\] "
                r"(?P<severity>[A-Z0-9]+):  (?P<message>.*)$",
    "postgres-csv": r'(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [A-Z]{2,5}),(?P<user>"[^"]*"|),(?P<db>"[^"]*"|),'
                    r'(?P<pid>\d*),(?P<client>"[^"]*"|),(?P<session>[0-9a-f]+\.[0-9a-f]+),(?P<line>\d+),(?P<ps>"[^"]*"|),'
                    r'(?P<start>[^,]*),(?P<vxid>[^,]*),(?P<txid>\d*),(?P<severity>[A-Z0-9]+),(?P<state>[0-9A-Z]{5}),'
                    r'(?P<message>"[^"]*(?:""[^"]*)*"?)',
    "postgres-json": rf'\{{"timestamp":"(?P<ts>[^"]+)",(?:"user":"(?P<user>{STR})","dbname":"(?P<db>{STR})",)?'
                     r'"pid":(?P<pid>\d+),.*?"error_severity":"(?P<severity>[A-Z0-9]+)",(?:"state_code":"(?P<state>\w{5})",)?'
                     rf'"message":"(?P<message>{STR})".*\}}$',
    "app-json": rf'\{{"asctime": "(?P<ts>[^"]+)", "levelname": "(?P<level>[A-Z]+)", "name": "(?P<logger>[^"]+)", '
                rf'"message": "(?P<message>{STR})".*\}}$'
                rf'|\{{(?:"request_id": "(?P<request_id>[^"]*)", )?"event": "(?P<event>{STR})", .*?"level": "(?P<slevel>[a-z]+)", '
                r'"timestamp": "(?P<sts>[^"]+)".*\}$',
    "docker-json": rf'\{{"log":"(?P<log>{STR})","stream":"(?P<stream>stdout|stderr)",(?:"attrs":\{{[^}}]*\}},)?'
                   r'"time":"(?P<time>[^"]+)"\}$',
}
COMPOSE_PREFIX = re.compile(r"(?P<service>[^ |]+) +\| ")
COMPOSE_FORMATS = ["uvicorn", "loguru", "postgres", "python", "alembic"]
FILES = {  # data file name -> formats tried in order
    "uvicorn.log": ["uvicorn"], "gunicorn.log": ["gunicorn"], "loguru.log": ["loguru"], "loguru.jsonl": ["loguru-json"],
    "python.log": ["python", "alembic"], "postgres.log": ["postgres"], "postgres.csv": ["postgres-csv"],
    "postgres.json": ["postgres-json"], "app.json": ["app-json"], "docker-json.log": ["docker-json"],
}


def count(path: Path, formats: list[str], compose: bool) -> tuple[int, int]:
    """Lines read and lines whose header matched."""
    regexes = [re.compile(PATTERNS[name]) for name in formats]
    lines = matched = 0
    with path.open(encoding="utf-8", errors="replace") as f:
        if compose:
            for line in f:
                lines += 1
                m = COMPOSE_PREFIX.match(line)
                if m:
                    start = m.end()
                    for rx in regexes:
                        if rx.match(line, start):
                            matched += 1
                            break
        elif len(regexes) == 1:
            rx = regexes[0]
            for line in f:
                lines += 1
                if rx.match(line):
                    matched += 1
        else:
            for line in f:
                lines += 1
                for rx in regexes:
                    if rx.match(line):
                        matched += 1
                        break
    return lines, matched


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--format", choices=[*PATTERNS, "compose"], help="default: from the file name (compose.log: compose)")
    args = ap.parse_args()
    lines = matched = 0
    for file in args.files:
        fmt = args.format or ("compose" if file.name == "compose.log" else None)
        if fmt is None and file.name not in FILES:
            sys.exit(f"naive.py: cannot tell the format of {file.name}; pass --format")
        formats = COMPOSE_FORMATS if fmt == "compose" else [fmt] if fmt else FILES[file.name]
        n, m = count(file, formats, fmt == "compose")
        lines, matched = lines + n, matched + m
    print(f"lines={lines} matched={matched}")


if __name__ == "__main__":
    main()
