"""Inputs named by fsspec URLs (`file:///var/log/app.log`, `http://host/app.log`, `s3://bucket/app.log`).

A fleet's logs often sit on shared or object storage that every Dask worker reaches by URL rather than by
path. fsspec (in the optional extra `logscan[dask]`) opens them as seekable binary files, so a URL is read
chunk for chunk as a local file is, and a byte-range shard seeks into it (analyzer.scale.partial). A
protocol needs its own package (`http` needs aiohttp, `s3` s3fs): `problem` names the one missing before
anything is read. A URL names one file (no globs, no folders, no rotated sets).
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

import regex

_URL = regex.compile(r"^(?P<protocol>[A-Za-z][A-Za-z0-9+.-]*)://")

INSTALL_HINT = "reading URLs needs fsspec: pip install 'logscan[dask]'"


def is_url(arg: str) -> bool:
    """Whether `arg` names an input by URL (`protocol://...`) rather than by path."""
    return _URL.match(arg) is not None


def problem(url: str) -> str | None:
    """Why `url` cannot be read here (fsspec or its protocol's package missing, an unknown protocol), or None."""
    protocol = _URL.match(url)["protocol"].lower()  # type: ignore[index]
    try:
        import fsspec
    except ImportError:
        return f"{url}: {INSTALL_HINT}"
    try:
        fsspec.get_filesystem_class(protocol)
    except ImportError as exc:  # fsspec's message names the package: "Install s3fs to access S3"
        return f"{url}: the {protocol}:// protocol needs a package that is not installed ({exc})"
    except ValueError:
        return f"{url}: fsspec knows no {protocol}:// protocol"
    return None


def first_problem(args: list[str], state: bool = False) -> str | None:
    """Why one of the URLs among `args` cannot be read (`problem`; with `state`, that a URL cannot be resumed:
    checkpoints know a file by its device and inode), or None: a command's check before it reads anything."""
    for arg in args:
        if is_url(arg):
            if state:
                return f"{arg}: --state reads files by path (a URL cannot be resumed)"
            why = problem(arg)
            if why:
                return why
    return None


def _filesystem(url: str) -> tuple[Any, str]:
    from fsspec.core import url_to_fs

    return url_to_fs(url)


def exists(url: str) -> bool:
    """Whether `url` names a file (False when it cannot be reached: reading it then says why)."""
    try:
        fs, path = _filesystem(url)
        return bool(fs.isfile(path))
    except (OSError, ValueError):
        return False


def open_url(url: str) -> BinaryIO:
    """A seekable binary file of `url` (OSError when it cannot be opened)."""
    fs, path = _filesystem(url)
    try:
        return fs.open(path, "rb")  # type: ignore[no-any-return]
    except (ValueError, RuntimeError) as exc:  # some filesystems raise these for a server's refusal
        raise OSError(str(exc)) from exc


def size(f: BinaryIO) -> int:
    """Bytes in an opened URL's file."""
    known = getattr(f, "size", None)
    if isinstance(known, int):
        return known
    return os.fstat(f.fileno()).st_size
