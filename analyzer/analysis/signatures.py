"""Signatures: the catalogue of known problems, loaded from TOML, validated and compiled.

A signature file holds `[[signature]]` tables (see signatures/README.md). Loading
checks every key of every table and reports *all* problems at once, each naming
the file and the key (`signatures/x.toml: signature[3] (id "foo").pattern:
unclosed group`), so a user fixing a folder sees everything in one run.

Patterns are compiled by Polars' Rust regex engine, which runs in time linear in
the input by construction (no backtracking), so no user pattern can hang a scan;
that engine has no look-around and no backreferences, and rejects patterns whose
compiled program exceeds its size limit. A user's folder is checked with that
engine when it is loaded; the built-in catalogue is checked by the test suite
(tests/test_signatures.py) and by `logscan signatures lint`, not on every run: a
run reads its named captures from the pattern text (`named_groups`) and compiles
nothing (issue 12: start-up). Files are parsed once per content
(analyzer.toml_cache); every other check runs on every load.

A `SignatureSet` is compiled once: one prefilter (a single alternation of every
keyword, which measured faster than Aho-Corasick `contains_any` on real-shaped
data) plus each signature's field conditions as Polars expressions;
`analyzer.analysis.match` applies it to event frames.
"""

from __future__ import annotations

import operator
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property, reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from analyzer import toml_cache
from analyzer.vocabulary import COLUMN_TYPES, FORMAT_NAMES, LEVELS, RESERVED_KEYS, SEVERITIES

if TYPE_CHECKING:  # Polars only to match (and to compile a user's pattern): loading needs none (issue 12)
    import polars as pl

ROLES: Final = ("cause", "symptom")

_ID = re.compile(r"^[a-z][a-z0-9_.-]*$")
_WINDOW = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|m|h)\s*$")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600}
_BOUNDS: Final = {"gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt}
_SYMBOLS: Final = {"gte": "≥", "gt": ">", "lte": "≤", "lt": "<"}
_TYPE_NAMES: Final[dict[type, str]] = {
    str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "a list", dict: "a table",
}
_NUMERIC: Final = ("Int32", "Int64", "Float64")
_CONDITION_COLUMNS: Final = tuple(name for name, dtype in COLUMN_TYPES.items() if dtype != "Datetime")
#: Columns whose values are a closed set: a typo in `when` would silently never match.
_ENUMS: Final[dict[str, tuple[str, ...]]] = {"level": LEVELS, "format": FORMAT_NAMES}
_RUST_META = re.compile(r"([\\.+*?()|\[\]{}^$#&\-~])")
_NAMED_GROUP = re.compile(r"\(\?P?<([^>]+)>")


# ---------------------------------------------------------------------------
# The signature model
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One `[signature.when]` entry: an event column and the values it may take.

    `any_of` holds the accepted values (a scalar in TOML is a one-value list);
    `bounds` holds range limits as (operator, value) with operator one of
    gte/gt/lte/lt. A null column value never satisfies a condition.
    """

    column: str
    any_of: tuple[Any, ...] = ()
    bounds: tuple[tuple[str, float], ...] = ()

    def expr(self) -> pl.Expr:
        """The condition as a boolean Polars expression over an event frame."""
        import polars as pl

        col = pl.col(self.column)
        parts = [col.is_in(list(self.any_of))] if self.any_of else []
        parts += [_BOUNDS[op](col, value) for op, value in self.bounds]
        return reduce(operator.and_, parts).fill_null(False)

    def __str__(self) -> str:
        if self.any_of:
            return f"{self.column} in {list(self.any_of)}" if len(self.any_of) > 1 else f"{self.column} = {self.any_of[0]!r}"
        return " and ".join(f"{self.column} {_SYMBOLS[op]} {value:g}" for op, value in self.bounds)


@dataclass(frozen=True)
class Examples:
    """Whole log records as a real log prints them: ones the signature must match, and near-misses it must not."""

    match: tuple[str, ...] = ()
    no_match: tuple[str, ...] = ()


@dataclass(frozen=True)
class Signature:
    """One known problem: how to recognise it in events and what to tell the user.

    A point signature matches single events: its `pattern` (a Rust regex searched
    in the event's `text`, the whole record) and its `when` conditions must all
    hold, and the event must contain one of its `keywords` when it has any. A
    window signature (`window_seconds` set) selects events the same way; the
    incidents stage then counts them per `group_by` within the window and
    raises an incident at `min_count`. Window signatures carry no priority.
    """

    id: str
    title: str
    severity: str
    role: str
    source: Path
    index: int  # position of its [[signature]] table in `source`, from 1 (for messages)
    keywords: tuple[str, ...] = ()
    pattern: str | None = None
    captures: tuple[str, ...] = ()  # named groups of `pattern`, in pattern order
    key: tuple[str, ...] = ()  # captures (or `exception`, `culprit`) that go into the incident fingerprint
    when: tuple[Condition, ...] = ()
    window_seconds: float | None = None
    min_count: int = 1
    group_by: tuple[str, ...] = ()
    priority: int = 0
    cause: str = ""
    fix: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()
    leads_to: tuple[str, ...] = ()
    in_requests: bool = True  # false: its records happen outside requests (start-up, health checks), never tied to one
    # records of one service this close together are one occurrence (a failure printed on several lines)
    occurrence_seconds: float | None = None
    examples: Examples = field(default_factory=Examples)

    @property
    def is_window(self) -> bool:
        return self.window_seconds is not None

    def when_expr(self) -> pl.Expr | None:
        """All `when` conditions as one boolean expression, or None when there are none."""
        return reduce(operator.and_, (cond.expr() for cond in self.when)) if self.when else None


# ---------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a signature file: where (file, key path) and what."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}" if self.key else f"{self.file}: {self.message}"


class SignatureError(ValueError):
    """Signature files that cannot be used; `problems` lists every problem found, in file order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# ---------------------------------------------------------------------------
# Patterns
# ---------------------------------------------------------------------------

_WHY = {
    "look-around": "Rust's linear-time regex engine has no look-around; match the surrounding text itself or use a `when` condition",
    "backreferences": "Rust's linear-time regex engine has no backreferences (they make matching super-linear)",
    "size limit": "the pattern is too big for the regex engine; use smaller repetition counts or fewer alternatives",
}


def _regex_reason(message: str) -> str:
    """The one-line reason in a Polars/Rust regex error, with why the engine refuses it where that is not obvious."""
    lines = [line for line in message.splitlines() if line.startswith("error: ")]
    reason = lines[-1].removeprefix("error: ") if lines else message.removeprefix("regex error: ").splitlines()[0]
    why = next((text for word, text in _WHY.items() if word in reason), None)
    return f"{reason} ({why})" if why else reason


def compile_pattern(pattern: str) -> tuple[str, ...]:
    """Compile `pattern` with the engine that will run it and return its named capture groups.

    Raises ValueError with a one-line reason when the engine rejects the pattern.
    """
    import polars as pl

    if not pattern:
        raise ValueError("must not be empty (an empty pattern matches every event)")
    try:
        groups = pl.Series("probe", [""], dtype=pl.String).str.extract_groups(pattern)
    except pl.exceptions.PolarsError as exc:
        raise ValueError(_regex_reason(str(exc))) from None
    return tuple(name for name in groups.struct.fields if not name.isdigit())


def named_groups(pattern: str) -> tuple[str, ...]:
    """The named capture groups of a Rust regex, in pattern order, read from its text without compiling it.

    `(?P<name>...)` and `(?<name>...)` outside character classes (nested ones included) and escapes; for a
    pattern the engine accepts, the same names as `compile_pattern` (tests/test_signatures.py checks every
    built-in one). Used for the built-in catalogue only, whose patterns the suite compiles.
    """
    names: list[str] = []
    depth = 0  # nesting of [...] classes
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if depth:
            depth += {"[": 1, "]": -1}.get(char, 0)
        elif char == "[":
            depth = 1
            i += 1 + pattern.startswith("^", i + 1)
            i += pattern.startswith("]", i)  # a ']' first in a class is a literal
            continue
        elif char == "(" and (match := _NAMED_GROUP.match(pattern, i)):
            names.append(match.group(1))
        i += 1
    return tuple(names)


def rust_escape(literal: str) -> str:
    """`literal` as a Rust regex matching exactly that text."""
    return _RUST_META.sub(r"\\\1", literal)


# ---------------------------------------------------------------------------
# Reading one file
# ---------------------------------------------------------------------------


def _type_name(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


class _Table:
    """Typed access to one TOML table; every wrong, missing or unknown key becomes a Problem."""

    def __init__(self, data: dict[str, Any], where: str, report: Callable[[str, str], None]) -> None:
        self.data = data
        self.where = where
        self.report = report

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def value(self, name: str, kind: type, required: bool = False) -> Any:
        """The value of `name` if it has type `kind` (bool is not an int), else None (reported)."""
        if name not in self.data:
            if required:
                self.report(self.key(name), "is required")
            return None
        value = self.data[name]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            self.report(self.key(name), f"must be {_TYPE_NAMES[kind]}, not {_type_name(value)}")
            return None
        return value

    def text(self, name: str, required: bool = False, choices: tuple[str, ...] = ()) -> str | None:
        value = self.value(name, str, required)
        if value is not None and choices and value not in choices:
            self.report(self.key(name), f"must be one of {', '.join(choices)}, not {value!r}")
            return None
        if value is not None and required and not value.strip():
            self.report(self.key(name), "must not be empty")
        return value

    def texts(self, name: str) -> tuple[str, ...]:
        """A list of strings (empty strings are reported: they would match or mean nothing)."""
        items = self.value(name, list) or []
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item:
                self.report(f"{self.key(name)}[{i}]", f"must be a non-empty string, not {_type_name(item)}")
        return tuple(item for item in items if isinstance(item, str) and item)

    def table(self, name: str) -> _Table | None:
        value = self.value(name, dict)
        return None if value is None else _Table(value, self.key(name), self.report)

    def reject_unknown(self, known: Iterable[str]) -> None:
        known = tuple(known)
        for name in self.data:
            if name not in known:
                self.report(self.key(name), f"unknown key (expected one of: {', '.join(known)})")


_SIGNATURE_KEYS: Final = (
    "id", "title", "severity", "role", "priority", "keywords", "pattern", "key", "when", "window",
    "cause", "fix", "docs", "leads_to", "in_requests", "occurrence_window", "examples",
)


def _condition(column: str, value: Any, where: str, report: Callable[[str, str], None]) -> Condition | None:
    """Parse one `when` entry: scalar (equality), list (any of) or {gte, gt, lte, lt} table (range)."""
    key = f"{where}.{column}"
    if column not in _CONDITION_COLUMNS:
        report(key, f"unknown event column (expected one of: {', '.join(_CONDITION_COLUMNS)})")
        return None
    dtype = COLUMN_TYPES[column]
    if isinstance(value, dict):
        if dtype not in _NUMERIC:
            report(key, f"a range needs a numeric column; {column} is text")
            return None
        if not value:
            report(key, "a range needs at least one of gte, gt, lte, lt")
        ok = bool(value)
        for op, v in value.items():
            if op not in _BOUNDS:
                report(f"{key}.{op}", f"unknown range key (expected one of: {', '.join(_BOUNDS)})")
                ok = False
            elif not isinstance(v, int | float) or isinstance(v, bool):
                report(f"{key}.{op}", f"must be a number, not {_type_name(v)}")
                ok = False
        return Condition(column, bounds=tuple(value.items())) if ok else None
    values = value if isinstance(value, list) else [value]
    if not values:
        report(key, "an empty list matches nothing")
        return None
    wanted = bool if dtype == "Boolean" else (int | float) if dtype in _NUMERIC else str
    ok = True
    for v in values:
        if not isinstance(v, wanted) or (isinstance(v, bool) and wanted is not bool):
            report(key, f"{v!r} does not fit column {column} ({dtype})")
            ok = False
        elif column in _ENUMS and v not in _ENUMS[column]:
            report(key, f"{v!r} is not a {column} (expected one of: {', '.join(_ENUMS[column])})")
            ok = False
    return Condition(column, any_of=tuple(values)) if ok else None


def _duration(table: _Table, name: str, report: Callable[[str, str], None], required: bool = False) -> float | None:
    """Seconds of a duration key written like "60s", "5m" or "1h" (None when absent or wrong)."""
    text = table.text(name, required=required)
    if text is None:
        return None
    m = _WINDOW.match(text)
    if m and float(m[1]) > 0:
        return float(m[1]) * _UNIT_SECONDS[m[2]]
    report(table.key(name), f"{text!r} is not a duration like \"60s\", \"5m\" or \"1h\"")
    return None


def _window(table: _Table, report: Callable[[str, str], None]) -> tuple[float | None, int, tuple[str, ...]]:
    """(window_seconds, min_count, group_by) of a `[signature.window]` table."""
    seconds = _duration(table, "window", report, required=True)
    min_count = table.value("min_count", int)
    if min_count is not None and min_count < 1:
        report(table.key("min_count"), "must be at least 1")
    group_by = table.texts("group_by")
    for i, column in enumerate(group_by):
        if column not in COLUMN_TYPES:
            report(f"{table.key('group_by')}[{i}]",
                   f"unknown event column {column!r} (expected one of: {', '.join(COLUMN_TYPES)})")
    table.reject_unknown(("window", "min_count", "group_by"))
    return seconds, min_count or 1, group_by


def _locator(index: int, sig_id: str | None) -> str:
    """How messages name a [[signature]] table: `signature[3] (id "foo")`."""
    return f'signature[{index}] (id "{sig_id}")' if sig_id else f"signature[{index}]"


def _signature(data: Any, index: int, source: Path, note: Callable[[str, str], None],
               trusted: bool = False) -> Signature | None:
    """Build one Signature from its TOML table, reporting every problem through `note`; `trusted` (the built-in
    catalogue): its pattern is not compiled, its named captures are read from the text (`named_groups`).

    Bad values are left at their defaults so that the rest of the table (and the
    cross-file checks) can still be reported; None only when it is not a table.
    """
    if not isinstance(data, dict):
        note(_locator(index, None), f"must be a table ([[signature]]), not {_type_name(data)}")
        return None
    t = _Table(data, _locator(index, None), note)
    sig_id = t.text("id", required=True)
    if sig_id is not None and not _ID.match(sig_id):
        note(t.key("id"), f"{sig_id!r} is not a valid id (lowercase letters, digits, '_', '.', '-'; starting with a letter)")
    t.where = _locator(index, sig_id)
    title = t.text("title", required=True)
    severity = t.text("severity", required=True, choices=tuple(reversed(SEVERITIES)))
    role = t.text("role", required=True, choices=ROLES)
    keywords = t.texts("keywords")
    pattern = t.text("pattern")
    captures: tuple[str, ...] | None = () if pattern is None else None  # None: the pattern did not compile
    if pattern is not None and trusted:
        captures = named_groups(pattern)
    elif pattern is not None:
        try:
            captures = compile_pattern(pattern)
        except ValueError as exc:
            note(t.key("pattern"), str(exc))
    key = t.texts("key")
    for name in key if captures is not None else ():
        if name not in captures and name not in RESERVED_KEYS:
            have = f"its named captures are: {', '.join(captures)}" if captures else "it has no named captures"
            note(t.key("key"), f"{name!r} is not a named capture of the pattern ({'there is no pattern' if pattern is None else have})"
                 f" nor one of {', '.join(RESERVED_KEYS)}")
    when_table = t.table("when")
    when = tuple(
        cond for column, value in (when_table.data.items() if when_table else ())
        if (cond := _condition(column, value, when_table.where, note)) is not None
    )
    window_table = t.table("window")
    seconds, min_count, group_by = _window(window_table, note) if window_table else (None, 1, ())
    priority = t.value("priority", int)
    if window_table is not None and priority is not None:
        note(t.key("priority"), "window rules do not compete with point signatures, so priority has no effect there")
    if not {"pattern", "keywords", "when"} & data.keys():
        note(t.where, "needs a pattern, keywords or when conditions to select events")
    examples_table = t.table("examples")
    examples = Examples()
    if examples_table is not None:
        examples = Examples(examples_table.texts("match"), examples_table.texts("no_match"))
        examples_table.reject_unknown(("match", "no_match"))
    sig = Signature(
        id=sig_id or "",
        title=title or "",
        severity=severity or "",
        role=role or "",
        source=source,
        index=index,
        keywords=keywords,
        pattern=pattern,
        captures=captures or (),
        key=key,
        when=when,
        window_seconds=seconds,
        min_count=min_count,
        group_by=group_by,
        priority=priority or 0,
        cause=t.text("cause") or "",
        fix=t.texts("fix"),
        docs=t.texts("docs"),
        leads_to=t.texts("leads_to"),
        in_requests=t.value("in_requests", bool) is not False,
        occurrence_seconds=_duration(t, "occurrence_window", note),
        examples=examples,
    )
    t.reject_unknown(_SIGNATURE_KEYS)
    return sig


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it is inside it (shorter messages), else as is."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read_file(path: Path, trusted: bool = False) -> tuple[list[Signature], list[Problem]]:
    """The signatures of one TOML file and every problem found in it (usable only when there is none);
    `trusted`: see `_signature`."""
    name = display_path(path)
    problems: list[Problem] = []

    def report(key: str, message: str) -> None:
        problems.append(Problem(name, key, message))

    try:
        data = toml_cache.load(path)
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(name, "", f"cannot read ({exc})")]
    except tomllib.TOMLDecodeError as exc:
        return [], [Problem(name, "", f"invalid TOML: {exc}")]
    tables = data.get("signature")
    for top in data:
        if top != "signature":
            report(top, "unknown top-level key (a file holds [[signature]] tables only)")
    if not isinstance(tables, list):
        report("signature" if tables is not None else "", "no [[signature]] tables" if tables is None else "must be [[signature]] tables")
        return [], problems
    signatures = []
    for i, table in enumerate(tables, start=1):
        sig = _signature(table, i, path, report, trusted)
        if sig is not None:
            signatures.append(sig)
    return signatures, problems


def _read_folder(folder: Path, trusted: bool = False) -> tuple[list[Signature], list[Problem]]:
    """The signatures of every `*.toml` in `folder` (sorted by name); ids must be unique within the folder."""
    signatures: list[Signature] = []
    problems: list[Problem] = []
    first: dict[str, Signature] = {}
    for path in sorted(folder.glob("*.toml")):
        found, file_problems = _read_file(path, trusted)
        problems += file_problems
        for sig in found:
            if not sig.id:
                continue  # reported as missing
            if sig.id in first:
                other = first[sig.id]
                where = f"{display_path(other.source)} ({_locator(other.index, other.id)})"
                problems.append(Problem(display_path(path), _locator(sig.index, sig.id), f"duplicate id, also defined in {where}"))
                continue
            first[sig.id] = sig
            signatures.append(sig)
    return signatures, problems


def builtin_dir() -> Path:
    """The built-in catalogue: `analyzer/catalogue/` in an installed package, the repo's `signatures/` in a checkout."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "catalogue"
    return installed if installed.is_dir() else package.parent / "signatures"


def load_signatures(folders: Sequence[Path] = (), builtin: bool = True, *, check_builtin: bool = False) -> SignatureSet:
    """The built-in catalogue plus `folders`, compiled; a later folder adds to or overrides earlier ones by id.
    The patterns of `folders` are compiled by the engine as they are read; the built-in catalogue's only with
    `check_builtin` (`signatures lint`; the test suite checks them), see the module docstring.

    Raises SignatureError listing every problem of every file (bad keys, types,
    values, patterns, duplicate ids, `leads_to` ids that exist nowhere).
    """
    merged: dict[str, Signature] = {}
    problems: list[Problem] = []
    catalogue = [(builtin_dir(), not check_builtin)] if builtin else []
    for folder, trusted in [*catalogue, *((folder, False) for folder in folders)]:
        if not folder.is_dir():
            problems.append(Problem(display_path(folder), "", "no such folder"))
            continue
        found, folder_problems = _read_folder(folder, trusted)
        problems += folder_problems
        merged.update((sig.id, sig) for sig in found)
    for sig in merged.values():
        for i, target in enumerate(sig.leads_to):
            if target not in merged or target == sig.id:
                why = "a signature cannot lead to itself" if target == sig.id else "no loaded signature has this id"
                key = f"{_locator(sig.index, sig.id)}.leads_to[{i}]"
                problems.append(Problem(display_path(sig.source), key, f"{target!r}: {why}"))
    if problems:
        raise SignatureError(problems)
    return SignatureSet(merged.values())


# ---------------------------------------------------------------------------
# The compiled set
# ---------------------------------------------------------------------------


class SignatureSet:
    """Signatures compiled for matching, in catalogue order (built-ins first, then user folders).

    Holds the one prefilter over every keyword (`candidates`: a regex
    alternation of the escaped keywords) and the keyword -> signature table
    that tells, for the few rows the prefilter passes, which signatures to try
    (`keyword_owners`: `keyword` String, `sig` UInt32 = position in `signatures`),
    built on first use: a run with nothing to match never builds a Polars table.
    """

    def __init__(self, signatures: Iterable[Signature]) -> None:
        self.signatures: tuple[Signature, ...] = tuple(signatures)
        self._by_id = {sig.id: sig for sig in self.signatures}
        self._owners = [(kw, i) for i, sig in enumerate(self.signatures) for kw in dict.fromkeys(sig.keywords)]
        self.keywords: tuple[str, ...] = tuple(dict.fromkeys(kw for kw, _ in self._owners))
        # Rust's regex compiles a literal alternation to its own Aho-Corasick prefilter (50 000
        # keywords compile in 0.25 s), and it scanned faster than Polars' contains_any here.
        self._alternation = "|".join(rust_escape(kw) for kw in self.keywords)

    @cached_property
    def keyword_owners(self) -> pl.DataFrame:
        import polars as pl

        return pl.DataFrame({"keyword": [kw for kw, _ in self._owners], "sig": [i for _, i in self._owners]},
                            schema={"keyword": pl.String, "sig": pl.UInt32})

    def candidates(self, text: pl.Series) -> pl.Series:
        """Boolean mask of the rows of `text` that contain at least one keyword, in one pass."""
        import polars as pl

        if not self.keywords:
            return pl.repeat(False, len(text), dtype=pl.Boolean, eager=True)
        return text.str.contains(self._alternation).fill_null(False)

    def __len__(self) -> int:
        return len(self.signatures)

    def __iter__(self) -> Iterator[Signature]:
        return iter(self.signatures)

    def __contains__(self, sig_id: object) -> bool:
        return sig_id in self._by_id

    def __getitem__(self, sig_id: str) -> Signature:
        return self._by_id[sig_id]
