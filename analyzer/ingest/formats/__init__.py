"""Log formats, one module each, and the order in which they are tried.

Order matters where headers could overlap: the most specific shapes come first
and `plain` (which matches anything) last.
"""

from __future__ import annotations

from analyzer.ingest.formats import (
    gunicorn,
    gunicorn_access,
    json,
    logfmt,
    loguru,
    loguru_json,
    plain,
    postgres,
    postgres_csv,
    postgres_json,
    python,
    uvicorn,
)
from analyzer.ingest.formats.base import Format

FORMATS: tuple[Format, ...] = (
    loguru_json.FORMAT,
    postgres_json.FORMAT,
    json.FORMAT,
    postgres_csv.FORMAT,
    loguru.FORMAT,
    gunicorn.FORMAT,
    gunicorn_access.FORMAT,
    postgres.FORMAT,
    python.FORMAT,
    uvicorn.FORMAT,
    logfmt.FORMAT,
    plain.FORMAT,
)

BY_NAME: dict[str, Format] = {f.name: f for f in FORMATS}
PLAIN = plain.FORMAT
#: Formats that can be forced (`--log-format`): every parser above, by name.
FORCEABLE: tuple[str, ...] = tuple(BY_NAME)
#: Every value of the events' ``format`` column: the parsers, plus `compose` (docker compose's own status
#: lines, recognised inside a Compose stream by analyzer.ingest.normalize, never forced).
FORMAT_NAMES: tuple[str, ...] = (*FORCEABLE, "compose")

__all__ = ["BY_NAME", "FORCEABLE", "FORMATS", "FORMAT_NAMES", "PLAIN", "Format"]
