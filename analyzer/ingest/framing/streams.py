"""The streams of one input: what multi-line joining and time inference work within.

A stream is a (service, Docker stream) pair: a compose service, the stdout or
stderr of a container, or the whole file. Lines carry a small integer `sid`
instead of the strings, so per-stream work groups on integers and the service
and stream columns are only built once, for the finished events.
"""

from __future__ import annotations

import polars as pl

StreamKey = tuple[str, str | None]  # (service, "stdout"/"stderr" or None)


class Streams:
    """Numbers an input's streams in order of appearance; `sid` columns index into `keys`."""

    def __init__(self) -> None:
        self.keys: list[StreamKey] = []
        self._ids: dict[StreamKey, int] = {}

    def id(self, service: str, stream: str | None = None) -> int:
        """The id of a stream, registered on first use."""
        key = (service, stream)
        sid = self._ids.get(key)
        if sid is None:
            sid = self._ids[key] = len(self.keys)
            self.keys.append(key)
        return sid

    def column(self, field: int, sid: pl.Expr) -> pl.Expr:
        """The service (field 0) or stream (field 1) of each row's `sid`."""
        values = [key[field] for key in self.keys]
        if len(set(values)) == 1:
            return pl.lit(values[0], dtype=pl.String)
        return pl.lit(pl.Series(values, dtype=pl.String)).gather(sid)
