"""Log formats, one module each, found by themselves, and the order in which they are tried.

Every module of this package that defines `FORMAT` (a `Format`) is a format: adding one is adding its
module (and its test), and its name to analyzer.vocabulary's `FORCEABLE` (the command line lists the formats
without importing them; this package refuses to load when the two differ). Order matters where headers could
overlap: each format's `rank` puts the most specific shapes first and `plain` (which matches anything) last.
"""

from __future__ import annotations

import importlib
import pkgutil

from analyzer.ingest.formats.base import Format
from analyzer.vocabulary import FORCEABLE, FORMAT_NAMES


def _discover() -> tuple[Format, ...]:
    """The `FORMAT` of every module here, in detection order (rank, then name)."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        declared = getattr(importlib.import_module(f"{__name__}.{module.name}"), "FORMAT", None)
        if isinstance(declared, Format):
            found.append(declared)
    return tuple(sorted(found, key=lambda f: (f.rank, f.name)))


FORMATS: tuple[Format, ...] = _discover()
BY_NAME: dict[str, Format] = {f.name: f for f in FORMATS}
PLAIN = BY_NAME["plain"]
if tuple(BY_NAME) != FORCEABLE:  # the command line lists the formats without importing them (analyzer.vocabulary)
    raise ImportError(f"analyzer.vocabulary.FORCEABLE {FORCEABLE} must list the format modules in detection order: "
                      f"{tuple(BY_NAME)}")
#: The database's own logs (their records run the requests' queries; none tells a request's outcome).
DATABASE_FORMATS: tuple[str, ...] = tuple(f.name for f in FORMATS if f.database)

__all__ = ["BY_NAME", "DATABASE_FORMATS", "FORCEABLE", "FORMATS", "FORMAT_NAMES", "PLAIN", "Format"]
