"""The closed vocabularies every stage and option shares, as plain data: level names, severities, format names.

They are what the command line needs before a byte is read (`--min-severity`'s and `--log-format`'s choices,
a config file's `min_severity`), so this module imports nothing heavier than the standard library: naming a
choice must not import Polars (analyzer.events builds the Polars schema from these names; issue 12, fast
start).
"""

from __future__ import annotations

from typing import Final

#: Canonical level names, lowest first. Parsers map their own names onto these.
LEVELS: Final = ("debug", "info", "warning", "error", "critical")

#: Incident severities, lowest first: the one order every module, flag and config check uses
#: (`analyzer.analysis.ranking`, signature validation, `--min-severity`/`--fail-on`, `min_severity`/`fail_on`).
SEVERITIES: Final = ("info", "low", "medium", "high", "critical")

#: The log formats, in detection order (analyzer.ingest.formats: most specific header first, `plain` last):
#: `--log-format`'s choices. Each is the module of that name in analyzer.ingest.formats, which finds its
#: modules by itself and refuses to load when they and this list differ, so a new format module is named here
#: too (importing the modules, which build Polars expressions, only to list their names would cost every run
#: Polars' import).
FORCEABLE: Final = (
    "loguru_json", "postgres_json", "json", "postgres_csv", "loguru", "gunicorn", "granian", "gunicorn_access",
    "postgres", "python", "uvicorn", "logfmt", "plain",
)

#: Every value of the events' ``format`` column: the parsers, plus `compose` (docker compose's own status
#: lines, recognised inside a Compose stream by analyzer.ingest.normalize, never forced).
FORMAT_NAMES: Final = (*FORCEABLE, "compose")

#: The event columns (analyzer.events.SCHEMA, whose Polars types these name), in report order: what signature
#: files' `when` and `group_by` are checked against when they are loaded, before any data is read.
COLUMN_TYPES: Final[dict[str, str]] = {
    "ts": "Datetime",  # UTC; null when nothing gives a time
    "ts_inferred": "Boolean",  # ts taken from a neighbour, not the record itself
    "source": "String",  # file path, or "-" for stdin
    "line_no": "Int64",  # 1-based line of the record's first line in `source`
    "line_count": "Int32",  # physical lines joined into this record
    "service": "String",  # compose service / container / file stem
    "stream": "String",  # stdout / stderr when the envelope says so
    "format": "String",  # one of FORMAT_NAMES
    "level": "String",  # one of LEVELS, or null
    "logger": "String",
    "pid": "Int64",
    "message": "String",  # first line of the record's message
    "text": "String",  # the whole record, prefix included
    "request_id": "String",
    "http_method": "String",
    "http_path": "String",  # without the query string
    "http_route": "String",  # the route template (`/orders/{order_id}`) when the record names it
    "http_status": "Int32",
    "duration_ms": "Float64",
    "exc_type": "String",  # last exception type of a traceback
    "sqlstate": "String",  # PostgreSQL SQLSTATE when the log carries it
    "db_user": "String",
    "db_name": "String",
}

#: Reserved names of a signature's `key` (analyzer.analysis.exceptions computes them): the exception's type
#: and masked message, and the innermost in-app frame of its traceback.
EXCEPTION: Final = "exception"
CULPRIT: Final = "culprit"
RESERVED_KEYS: Final = (EXCEPTION, CULPRIT)

#: How a request seen only in an access log (a service that logs no request IDs) is named, then `source:line`
#: of its access line: never an ID the application logged (analyzer.analysis.correlate `seen_id`; the report
#: model reads it without Polars).
SEEN_PREFIX: Final = "access log "
