"""structlog's `dict_tracebacks` read as the traceback Python would have printed.

structlog's recommended JSON setup logs an exception as a list of stacks, not as text
(analyzer.ingest.formats.dict_traceback). The same exception must get the same type,
exception line and culprit from that list as from `traceback.format_exception`'s text:
checked on real exceptions (chains, `from None`, groups, unraised members) raised here, and
on real structlog output of a small app (tests/real_lines/structlog_dict_tracebacks.jsonl).
"""

from __future__ import annotations

import json
import sys
import traceback

import orjson
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.tracebacks import ExceptionDictTransformer

from analyzer.analysis.exceptions import culprit
from analyzer.ingest.formats.common import exception_line, exception_types
from analyzer.ingest.formats.dict_traceback import render

REAL = ROOT / "tests/real_lines/structlog_dict_tracebacks.jsonl"
TYPES = [ValueError, KeyError, LookupError, RuntimeError, TimeoutError, ZeroDivisionError]
MESSAGES = st.text(st.sampled_from("abc xyz:'-/0123"), max_size=20)
LINKS = st.lists(st.tuples(st.sampled_from(TYPES), MESSAGES, st.sampled_from(["cause", "context", "from None"])),
                 min_size=1, max_size=4)
MEMBERS = st.lists(st.tuples(st.sampled_from(TYPES), MESSAGES, st.booleans()), max_size=3)


def raised(links: list[tuple[type[Exception], str, str]], members: list[tuple[type[Exception], str, bool]]):
    """The exc_info of a real chain (oldest first; `how` links each to the one before), wrapped in a group
    of `members` (raised ones carry a traceback) when there are any."""

    def level(i: int) -> None:
        kind, message, how = links[i]
        if i == 0:
            raise kind(message)
        try:
            level(i - 1)
        except Exception as previous:
            if how == "cause":
                raise kind(message) from previous
            if how == "from None":
                raise kind(message) from None
            raise kind(message)  # noqa: B904 - the implicit context is the point

    def member(kind: type[Exception], message: str, raise_it: bool) -> Exception:
        if not raise_it:
            return kind(message)
        try:
            raise kind(message)
        except Exception as exc:
            return exc

    try:
        try:
            level(len(links) - 1)
        except Exception as chain:
            if not members:
                raise
            raise ExceptionGroup("tasks failed", [chain, *(member(*m) for m in members)]) from None
    except Exception:
        return sys.exc_info()


def both(exc_info) -> tuple[str, str]:
    """Python's own traceback text and logscan's text of structlog's dict of the same exception."""
    native = "".join(traceback.format_exception(*exc_info))
    listed = orjson.dumps(ExceptionDictTransformer(show_locals=False)(exc_info)).decode()
    return native, render(listed)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(links=LINKS, members=MEMBERS)
def test_a_dict_traceback_reads_as_the_text_python_prints(links, members):
    native, ours = both(raised(links, members))
    assert exception_line(ours) == exception_line(native) is not None
    assert culprit(ours) == culprit(native) is not None
    types = exception_types(__import__("polars").Series([native, ours]))
    assert types[0] == types[1]


def test_values_that_are_no_dict_traceback_stay_as_they_are():
    for value in ["Traceback (most recent call last):\nKeyError: 'x'", "[1, 2]", "[{\"a\": 1}]", "[{not json"]:
        assert render(value) == value


def test_real_structlog_output_makes_one_incident_per_exception_named_by_it(cli, plain_env):
    result = cli("scan", str(REAL), "--format", "json")
    assert result.exit_code == 0, result.output
    found = {(i["title"], i["culprit"]) for i in json.loads(result.stdout)["incidents"]}
    where = "real_lines/make/structlog_tracebacks_run.py in "
    assert found == {
        ("KeyError: 'black-friday'", where + "apply_promo"),
        ("LookupError: user 7 not found", where + "load_user"),  # raised from a ValueError: the last one names it
        ("RuntimeError: cart already closed", where + "close_cart"),  # raised while handling an IndexError
        ("RecursionError: maximum recursion depth exceeded", where + "depth"),  # frames skipped by max_frames
        ("ExceptionGroup: 2 tasks failed (2 sub-exceptions)", where + "fail_all"),
        ("Database connection pool exhausted (checkout timed out)", None),
    }
