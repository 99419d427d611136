"""analyzer.ingest.overlap: a stage on a thread of its own hands on its items in order, a bounded number ahead,
raises its errors where the consumer would have read on, and stops when the consumer does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.ingest.overlap import overlapped


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers()), st.integers(min_value=1, max_value=4))
def test_items_come_out_in_order_and_all(items, depth):
    assert list(overlapped(iter(items), "test", depth)) == items


def test_chained_stages_keep_order():
    doubled = overlapped((n * 2 for n in overlapped(iter(range(1000)), "a")), "b")
    assert list(doubled) == [n * 2 for n in range(1000)]


def test_the_worker_runs_on_its_own_thread():
    def names() -> Iterator[str]:
        yield threading.current_thread().name

    assert list(overlapped(names(), "logscan-test")) == ["logscan-test"]


def test_an_error_is_raised_where_the_consumer_reads_on():
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("bad batch")

    got = []
    with pytest.raises(ValueError, match="bad batch"):
        for item in overlapped(failing(), "test"):
            got.append(item)
    assert got == [1, 2]


def test_the_worker_reads_at_most_depth_items_ahead():
    produced = 0

    def counting() -> Iterator[int]:
        nonlocal produced
        for n in range(100):
            produced += 1
            yield n

    stream = overlapped(counting(), "test", depth=2)
    assert next(stream) == 0
    time.sleep(0.3)  # let the worker run as far ahead as it may
    # consumed 1; 2 wait in the queue; 1 more is made and waits to be put
    assert produced <= 1 + 2 + 1
    stream.close()


def test_a_consumer_that_stops_stops_the_worker():
    produced = 0
    finished = threading.Event()

    def endless() -> Iterator[int]:
        nonlocal produced
        try:
            while True:
                produced += 1
                yield produced
        finally:
            finished.set()

    stream = overlapped(endless(), "test")
    assert next(stream) == 1
    stream.close()
    assert finished.wait(5)  # the worker left its generator (closing it) instead of running on
    stopped_at = produced
    time.sleep(0.2)
    assert produced == stopped_at
