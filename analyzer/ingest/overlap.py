"""Overlap: run an iterator's work on a thread of its own, handing its items on in order through a bounded queue.

The batch pipeline (analyzer.ingest.pipeline.Pipeline.run) is a chain of
stages whose work is mostly Polars calls, which release the GIL: reading and
framing a chunk, screening and parsing its records, the analysis of its
events. Run one after the other on one thread they use one core; chained
through `overlapped`, each stage works on its own batch while the next stage
works on the one before, so a 2-core machine runs two stages at once. Each
stage still sees its batches in order, one at a time, so nothing a stage
carries from batch to batch changes.

The queue holds at most `depth` items, so a fast stage waits for a slow one
instead of reading ahead without bound (memory stays at a few batches). An
exception in the worker is raised in the consumer at the point of the item it
would have produced; a consumer that stops early (a closed pipe) stops the
worker at its next item.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Final, Generic, TypeVar

T = TypeVar("T")

_END: Final = object()
#: How often a producer waiting on a full queue checks whether its consumer went away (seconds).
_POLL: Final = 0.1


class _Failed(Generic[T]):
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def hand_over(handoff: queue.Queue[T], item: T, listening: Callable[[], bool]) -> bool:
    """Put `item` in the bounded `handoff`, waiting while it is full for as long as its consumer is
    `listening`; whether it was put."""
    while listening():
        try:
            handoff.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def overlapped(items: Iterator[T], name: str, depth: int = 1) -> Iterator[T]:
    """The items of `items`, computed on a daemon thread named `name` at most `depth` items ahead."""
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    gone = threading.Event()  # the consumer stopped

    def put(item: object) -> bool:
        return hand_over(handoff, item, lambda: not gone.is_set())

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    break
            else:
                put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                break
            if isinstance(item, _Failed):
                raise item.exc
            yield item  # type: ignore[misc]
        worker.join()
    finally:
        gone.set()
