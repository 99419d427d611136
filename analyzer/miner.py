"""Online log template miner: groups messages by template, in one compiled pass per batch.

What: ``TemplateMiner.add(messages)`` returns, for each message, a template (the message with
``<*>`` for each variable word) and a stable ``template_id`` (a 64-bit blake2b hash of the
template text, so equal text means equal id in any process). State carries across batches;
``merge`` combines miners built on different shards; memory is capped. Messages that match no
known signature are grouped by it (issue 11).

How (batch-wise, after Brain, Yu et al. 2023; no per-line Python):

1. Key. Every run of digits in a line becomes "0" and the result is hashed. The masks below
   treat all digits alike, so lines with one key get one template: everything else runs once
   per distinct key (a few thousand keys for millions of lines), weighted by its line count.
2. Mask. Squeeze whitespace, then replace with ``<*>``: dates (month/day names next to
   numbers), quantities with a unit (``5 ms``, ``3.5 KB``), paths and URLs, and any word
   holding a digit (keeping a ``key=`` prefix and closing brackets). A digit marks a value.
3. Root. Messages are split into words; every (word count, position, word) gets its weighted
   frequency. The constant words of one event all share one frequency (the event's), so the
   frequency shared by most words of a message singles out its root: those words at their
   positions. Messages with the same word count and root form a group (no similarity
   threshold, no dependence on arrival order).
4. Split. In a group a position with one value is constant. A position with 2..``split_max``
   values and no ``<*>`` tells events apart that share a root: the group splits on it and the
   rule applies again to each part. A part never has more values at a position than its group,
   so such a position stays a split position (or turns constant) in every part: the final parts
   do not depend on the order of the splits, and a round splits on all of them at once. A
   position with more values (or ``<*>`` among them) is variable and becomes ``<*>``
   (``key=<*>`` when all share a key).
5. Online. The known templates of the same word counts re-enter each batch that brings new
   keys, as pseudo-messages weighted by their counts; a ``<*>`` in them keeps a position
   variable, so templates only generalize. A template covered word for word by a more general
   one is folded into it. Keys already resolved skip steps 2-5 (a bounded cache), so a steady
   stream costs one scan and a few hash lookups per line. When a template generalizes its
   old id becomes an alias: ``resolve(ids)`` maps ids handed out earlier to the current
   template (on Loghub-2k, resolved ids of a stream fed in 4..100 batches group exactly as one
   batch does; the per-batch output is final for that batch).
6. Merge. Union of the template tables (counts summed, last_seen max) followed by the same
   fold. Union is associative and the fold keeps the maximal templates of a subsumption order,
   so ``(a.merge(b)).merge(c)`` and ``a.merge(b.merge(c))`` keep the same templates and counts
   (while no eviction cuts in). Key caches and aliases are merged along.

Why it generalizes: nothing is specific to a system. Grouping uses the statistics of the data
itself (per-column word frequencies, per-column distinct values); the only constants are the
general masks and ``split_max`` (3: on Loghub-2k, Apache/BGL/HDFS/HealthApp score within 0.003
for 3..5 and Linux/OpenSSH/Spark/Zookeeper peak at 3; see benchmarks/RESULTS.md).

Memory: at most ``max_templates`` templates (least recently seen, then least frequent, are
evicted), ``max_keys`` cached keys and aliases (those of evicted templates go, then the oldest),
and only the first 4,096 characters of a message count; a batch itself is held whole.

Limits: an event whose variable part changes the number of words (free text with spaces) gets
one template per word count; a variable with at most ``split_max`` distinct values seen so far
stays split (e.g. three user names); constant words holding digits (``ssh2``) become ``<*>``;
keys are 64-bit hashes of the normalized line (collisions are possible in principle).

Where: the steps run in ``minercore/`` (Rust, standard library only, built by the install,
loaded here with ctypes). The state (templates, key cache, aliases) lives there; columns cross
as Arrow arrays (Polars hands the lines over without a copy). The 16k Loghub lines in one
batch cost about 4.5 ms of CPU (Drain3: about 60 ms); the Polars pipeline that did this
before spent about 20 ms, most of it the fixed cost of its ~80 calls per batch
(benchmarks/RESULTS.md, issue 11). The masks are regular expressions (tests/test_miner.py
holds them to those); ``minercore/src/mask.rs`` writes each out as the same scan and says where
it approximates their Unicode classes (non-ASCII text only).
"""

from __future__ import annotations

import ctypes
import weakref
from pathlib import Path
from typing import Any, Final

import polars as pl


def _load() -> ctypes.PyDLL:
    """The compiled core, built next to this module by the install (``pip install -e .``)."""
    here = Path(__file__).resolve().parent
    found = sorted(p for p in here.glob("_minercore*") if p.suffix in (".so", ".pyd", ".dylib"))
    if not found:
        raise ImportError(f"logscan's miner core (_minercore) is not built in {here}: reinstall with pip install -e .")
    # PyDLL: calls hold the GIL, so two threads never run one miner's core at once
    lib = ctypes.PyDLL(str(found[0]))
    ptr, u64, i32 = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int32
    for name, args, result in [
        ("mc_new", [u64, u64, u64], ptr),
        ("mc_free", [ptr], None),
        ("mc_add", [ptr, ptr, ptr, ptr], i32),
        ("mc_resolve", [ptr, ptr, ptr, ptr], i32),
        ("mc_templates", [ptr, ptr, ptr], i32),
        ("mc_merge", [ptr, ptr], ptr),
        ("mc_sizes", [ptr, ptr], None),
        ("mc_dump", [ptr, ptr], ptr),
        ("mc_free_bytes", [ptr, u64], None),
        ("mc_load", [ptr, u64], ptr),
        ("mc_mask", [ptr, u64, ptr, u64], u64),
    ]:
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, result
    return lib


_LIB: Final = _load()
_capsule = ctypes.pythonapi.PyCapsule_New
_capsule.restype, _capsule.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_pointer.restype, _pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
_SCHEMA, _ARRAY, _STREAM = b"arrow_schema", b"arrow_array", b"arrow_array_stream"
_SCHEMA_SIZE, _ARRAY_SIZE = 72, 80  # struct ArrowSchema, struct ArrowArray (Arrow C data interface)


class _Out:
    """``n`` Arrow arrays the core fills; each becomes a Series (Polars takes the array over)."""

    def __init__(self, n: int) -> None:
        self.schemas = ctypes.create_string_buffer(_SCHEMA_SIZE * n)
        self.arrays = ctypes.create_string_buffer(_ARRAY_SIZE * n)
        self.i = 0

    def __arrow_c_array__(self, requested_schema: object = None) -> tuple[object, object]:
        return (
            _capsule(ctypes.addressof(self.schemas) + _SCHEMA_SIZE * self.i, _SCHEMA, None),
            _capsule(ctypes.addressof(self.arrays) + _ARRAY_SIZE * self.i, _ARRAY, None),
        )

    def frame(self, names: list[str]) -> pl.DataFrame:
        columns = []
        for i, name in enumerate(names):
            self.i = i  # the array __arrow_c_array__ hands over
            columns.append(pl.Series(self).alias(name))
        return pl.DataFrame(columns)


def _stream(series: pl.Series) -> tuple[object, int]:
    """An Arrow stream of the series: the capsule (keep it until the core has read the stream)
    and the stream's address."""
    capsule = series.__arrow_c_stream__()
    return capsule, _pointer(capsule, _STREAM)


def _check(code: int) -> None:
    if code:
        raise RuntimeError(f"logscan's miner core failed (code {code})")


def mask(text: str) -> str:
    """A message's key with whitespace squeezed and variable-looking parts replaced by <*>."""
    data = text.encode()
    out = ctypes.create_string_buffer(4 * len(data) + 16)
    n = _LIB.mc_mask(data, len(data), out, len(out))
    return out.raw[:n].decode()


class TemplateMiner:
    """Online, mergeable template miner; see the module docstring.

    max_templates caps the template table (least recently seen, then least frequent, go first);
    max_keys caps the cache of line keys (digit-normalized lines) already resolved to a template
    (keys of evicted templates go, then the oldest).
    """

    def __init__(self, max_templates: int = 10_000, split_max: int = 3, max_keys: int = 100_000) -> None:
        self.max_templates = max_templates
        self.max_keys = max_keys
        self.split_max = split_max
        self._own(_LIB.mc_new(max_templates, split_max, max_keys))

    def _own(self, handle: int | None) -> None:
        if not handle:
            raise RuntimeError("logscan's miner core failed")
        self._handle = handle
        weakref.finalize(self, _LIB.mc_free, handle)

    def _sizes(self) -> list[int]:
        out = (ctypes.c_int64 * 4)()
        _LIB.mc_sizes(self._handle, out)
        return list(out)

    @property
    def clock(self) -> int:
        """Batches added (merge: the larger clock)."""
        return self._sizes()[3]

    @property
    def cached_keys(self) -> int:
        """Line keys held in the cache (at most max_keys)."""
        return self._sizes()[1]

    def templates(self) -> pl.DataFrame:
        """Known templates: template_id, template, count, last_seen (batch clock), most frequent first."""
        out = _Out(4)
        _check(_LIB.mc_templates(self._handle, out.schemas, out.arrays))
        table = out.frame(["template_id", "template", "count", "last_seen"])
        return table.sort(["count", "template"], descending=[True, False])

    def resolve(self, template_ids: pl.Series) -> pl.DataFrame:
        """The current template_id and template for ids handed out earlier (null when evicted).

        A template only generalizes; when it does, its old id becomes an alias of the new one,
        so earlier batches' ids can be regrouped against the current state.
        """
        capsule, stream = _stream(template_ids.cast(pl.UInt64))
        out = _Out(2)
        _check(_LIB.mc_resolve(self._handle, stream, out.schemas, out.arrays))
        return out.frame(["template_id", "template"])

    def add(self, messages: pl.Series | list[str]) -> pl.DataFrame:
        """Mine one batch; one row per message (same order): template_id (u64), template."""
        lines = messages if isinstance(messages, pl.Series) else pl.Series("k", messages, dtype=pl.String)
        capsule, stream = _stream(lines if lines.dtype == pl.String else lines.cast(pl.String))
        out = _Out(2)
        _check(_LIB.mc_add(self._handle, stream, out.schemas, out.arrays))
        return out.frame(["template_id", "template"])

    def merge(self, other: TemplateMiner) -> TemplateMiner:
        """A new miner holding the templates of both (union, then fold subsumed ones)."""
        out = TemplateMiner.__new__(TemplateMiner)
        out.max_templates = min(self.max_templates, other.max_templates)
        out.max_keys = min(self.max_keys, other.max_keys)
        out.split_max = self.split_max
        out._own(_LIB.mc_merge(self._handle, other._handle))
        return out

    def __getstate__(self) -> dict[str, Any]:
        size = ctypes.c_uint64()
        data = _LIB.mc_dump(self._handle, ctypes.byref(size))
        try:
            state = ctypes.string_at(data, size.value)
        finally:
            _LIB.mc_free_bytes(data, size.value)
        return {"state": state}

    def __setstate__(self, saved: dict[str, Any]) -> None:
        state = saved["state"]
        self._own(_LIB.mc_load(state, len(state)))
        self.max_templates, self.split_max, self.max_keys = (
            int.from_bytes(state[i : i + 8], "little") for i in (0, 8, 16)
        )
