"""Signature files parsed once per content: their TOML data kept as JSON, by SHA-256, in the user's cache folder.

tomllib took about 20 ms of every run to parse the built-in catalogue's files (issue 12: start-up), the same
bytes each time. `load(path)` reads the file and returns the data cached under the hash of its bytes when
there is an entry, else parses them (analyzer.safe_toml) and writes the entry. The folder is
`$XDG_CACHE_HOME/logscan/toml`, else `~/.cache/logscan/toml`.

The cache is only ever a shortcut, never a source of truth: an unreadable, unwritable or corrupt entry is
ignored (the file is parsed again and the entry rewritten); data that JSON cannot give back exactly (TOML
dates, NaN, integers past 64 bits) is not cached; a file that does not parse is not cached, so its error is
raised as before; and every check of the data (analyzer.analysis.signatures) runs on cached and freshly parsed
data alike.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any, Final

import orjson

from analyzer import safe_toml

#: Part of every key: a change of what an entry holds makes old entries unreachable.
_VERSION: Final = b"logscan.toml-cache/1\n"


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/logscan/toml`, else `~/.cache/logscan/toml` (XDG's default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "logscan", "toml")


def load(path: Path) -> dict[str, Any]:
    """The TOML data of `path`, as `safe_toml.loads(path.read_text("utf-8"))` returns it (and raising what that
    raises: OSError, UnicodeDecodeError, tomllib.TOMLDecodeError), from the cache when the bytes are known."""
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    entry = cache_dir() / f"{hashlib.sha256(_VERSION + raw).hexdigest()}.json"
    try:
        cached = orjson.loads(entry.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        cached = None
    if isinstance(cached, dict):
        return cached
    data = safe_toml.loads(text)
    _store(entry, data)
    return data


def _store(entry: Path, data: dict[str, Any]) -> None:
    """Write `data` to `entry` when JSON gives it back exactly; written whole or not at all (a temporary file
    renamed over it), and silently skipped when the folder cannot be written."""
    try:
        encoded = orjson.dumps(data)
    except (TypeError, orjson.JSONEncodeError):  # dates and times, integers past 64 bits
        return
    if orjson.loads(encoded) != data:  # NaN (never equal), or a value JSON changes
        return
    partial = entry.with_suffix(f".{os.getpid()}.tmp")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(encoded)
        os.replace(partial, entry)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
