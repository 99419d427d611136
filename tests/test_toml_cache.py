"""The parsed-TOML cache (analyzer.toml_cache) is a shortcut only: the same data as parsing, whatever the
state of its folder."""

from __future__ import annotations

import math
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer import toml_cache
from analyzer.analysis.signatures import builtin_dir


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _entries(cache_home):
    return sorted((cache_home / "logscan" / "toml").glob("*.json"))


@pytest.mark.parametrize("path", sorted(builtin_dir().glob("*.toml")), ids=lambda p: p.name)
def test_the_catalogue_reads_the_same_from_the_cache_as_parsed(path, cache_home):
    parsed = tomllib.loads(path.read_text("utf-8"))
    assert toml_cache.load(path) == parsed  # parsed, then cached
    assert len(_entries(cache_home)) == 1
    assert toml_cache.load(path) == parsed  # from the cache


def test_a_corrupt_entry_is_ignored_and_rewritten(tmp_path, cache_home):
    path = tmp_path / "x.toml"
    path.write_text('[[signature]]\nid = "a"\n')
    toml_cache.load(path)
    (entry,) = _entries(cache_home)
    for garbage in (b"", b"{\"signature\": [", b"\xff\xfe", b"[1, 2]"):
        entry.write_bytes(garbage)
        assert toml_cache.load(path) == {"signature": [{"id": "a"}]}
    assert toml_cache.load(path) == {"signature": [{"id": "a"}]} and entry.read_bytes().startswith(b"{")


def test_an_unwritable_cache_folder_changes_nothing(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # its logscan/ folder cannot be made
    path = tmp_path / "x.toml"
    path.write_text('a = 1\n')
    assert toml_cache.load(path) == toml_cache.load(path) == {"a": 1}


def test_an_edited_file_is_parsed_again(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('a = 1\n')
    assert toml_cache.load(path) == {"a": 1}
    path.write_text('a = 2\n')
    assert toml_cache.load(path) == {"a": 2}


def test_errors_are_raised_as_without_a_cache(tmp_path, cache_home):
    bad = tmp_path / "bad.toml"
    bad.write_text("a = [\n")
    with pytest.raises(tomllib.TOMLDecodeError):
        toml_cache.load(bad)
    bad.write_bytes(b"a = '\xff'\n")
    with pytest.raises(UnicodeDecodeError):
        toml_cache.load(bad)
    assert _entries(cache_home) == []


_VALUES = st.recursive(
    st.one_of(st.booleans(), st.integers(), st.floats(), st.text(max_size=5), st.datetimes(), st.dates()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=8,
)


def _toml(value):
    """A TOML literal for `value` (what tomllib gives back as `value`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int | str):
        return str(value) if isinstance(value, int) else '"' + value.encode("unicode_escape").decode().replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    return value.isoformat()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_VALUES)
def test_any_data_reads_back_as_tomllib_parses_it(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("toml") / "x.toml"
    path.write_text(f"v = {_toml(value)}\n", encoding="utf-8")
    try:
        expected = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError:
        return  # not every generated literal is TOML (keys, escapes): only the cache's answers are compared
    first, second = toml_cache.load(path), toml_cache.load(path)
    assert repr(first) == repr(second) == repr(expected)  # repr: NaN equals itself, 1 differs from 1.0
