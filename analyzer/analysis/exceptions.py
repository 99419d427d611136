"""Exception grouping as Sentry groups issues: type, masked message and culprit frame.

Two unhandled exceptions are the same problem when they have the same type,
the same message once its variable parts are masked (analyzer.analysis.templates),
and the same *culprit*: the innermost frame of the application's own code in the
traceback the record ends with. Library frames (`site-packages`,
`dist-packages`), the standard library (`.../lib/pythonX.Y/...`) and
`<frozen ...>` / `<string>` frames are not the application's; when a traceback
has no frame of its own, its innermost frame stands in, as Sentry does.

The culprit is written `path in function`, the path cut to its last three parts
(`app/routes/promo.py in apply_promo`): the same code installed under `/app`,
`/srv` or a virtualenv groups the same.

Python runs only on the few records a signature or the unknown-error clustering
kept (evidence), never on every line.
"""

from __future__ import annotations

import re
from typing import Final

import polars as pl

from analyzer.ingest.formats.common import TRACEBACK, per_traceback
from analyzer.vocabulary import CULPRIT, EXCEPTION, RESERVED_KEYS  # noqa: F401 - the reserved `key` names


# `  File "/app/x.py", line 3, in f`; Loguru prefixes the failing frame with `> ` and exception groups with `| `
_FRAME: Final = re.compile(r'^[\s>|]*File "(?P<path>[^"]+)", line \d+, in (?P<func>\S+)')
_STDLIB: Final = re.compile(r"[/\\]lib[/\\]python\d+(?:\.\d+)?[/\\]|[/\\]Lib[/\\]")
_LIBRARY: Final = ("site-packages", "dist-packages")
PATH_PARTS: Final = 3


def in_app(path: str) -> bool:
    """Whether a frame's file is the application's own code (not a library, the standard library or frozen)."""
    if path.startswith("<") or any(part in path for part in _LIBRARY):
        return False
    return not _STDLIB.search(path)


def short_path(path: str) -> str:
    """The last PATH_PARTS parts of a frame's path, with `/` separators."""
    return "/".join(path.replace("\\", "/").split("/")[-PATH_PARTS:]).lstrip("/")


def culprit(text: str) -> str | None:
    """`path in function` of the innermost in-app frame of the record's last traceback (None: no frame)."""
    start = text.rfind(TRACEBACK)
    if start < 0:
        return None
    frames = [m for line in text[start:].splitlines() if (m := _FRAME.match(line))]
    if not frames:
        return None
    mine = [m for m in frames if in_app(m["path"])]
    frame = (mine or frames)[-1]
    return f"{short_path(frame['path'])} in {frame['func']}"


def culprits(text: pl.Series) -> pl.Series:
    """The culprit per record (null where the record holds no traceback or no frame)."""
    return per_traceback(text, CULPRIT, culprit)
