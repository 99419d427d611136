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
