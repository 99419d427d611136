"""TOML text read so that no file can crash logscan: nesting too deep is a syntax error like any other.

`tomllib` parses nested arrays and inline tables by recursion, so a config or
signature file holding 100,000 `[` raised `RecursionError` and a traceback
instead of the one message naming the file that every other bad file gets.
"""

from __future__ import annotations

import tomllib
from typing import Any


def loads(text: str) -> dict[str, Any]:
    """`tomllib.loads`, raising `tomllib.TOMLDecodeError` also for arrays or tables nested too deeply to read."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError("arrays or inline tables nested too deeply to read") from None
