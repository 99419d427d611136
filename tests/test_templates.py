"""Templates that cluster unknown errors: variable parts masked, constant parts kept."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.ingest.formats.common import exception_line, exception_lines
from analyzer.analysis.templates import template


def masked(*messages: str) -> list[str]:
    return pl.select(template(pl.Series(messages))).to_series().to_list()


def test_numbers_quotes_ids_and_addresses_are_masked():
    out = masked(
        "shop.errors.InventoryMismatchError: sku 4711 expected 3 got -1",
        "shop.errors.InventoryMismatchError: sku 5100 expected 12 got 9",
        "KeyError: 'carrier'",
        "connect to 10.0.0.7:5432 failed for job 7f3a63ad9450ab and request 8c7c3c47-aeb2-48e0-b67e-499e2b881061",
        "object at 0x7f3a63ad9450 is gone",
        "job failed | req_id=req-17 request_id: abc123",
    )
    assert out[0] == out[1] == "shop.errors.InventoryMismatchError: sku <n> expected <n> got <n>"
    assert out[2] == "KeyError: <str>"
    assert out[3] == "connect to <addr> failed for job <id> and request <uuid>"
    assert out[4] == "object at <hex> is gone"
    assert out[5] == "job failed | req_id=<id> request_id: <id>"


def test_words_with_digits_keep_their_shape():
    assert masked("utf8 codec error in step2") == ["utf8 codec error in step2"]


@given(st.text(max_size=400))
def test_template_is_idempotent_and_bounded(message):
    once = masked(message)[0]
    assert masked(once)[0] == once
    assert len(once) <= 300


TRACEBACK = """ERROR:    Exception in ASGI application
Traceback (most recent call last):
  File "/app/main.py", line 3, in handler
    raise ValueError("first")
ValueError: first

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/app/main.py", line 5, in handler
    raise KeyError(key)
KeyError: 'carrier'"""


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (TRACEBACK, "KeyError: 'carrier'"),
        ("no traceback here", None),
        ("Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nSystemExit", "SystemExit"),
    ],
)
def test_exception_line_is_the_last_exception_raised(text, line):
    assert exception_line(text) == line
    assert exception_lines(pl.Series([text, "plain"])).to_list() == [line, None]
