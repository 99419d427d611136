"""What the command line needs of Sentry before a DSN is given: its environment variable, the error a bad
DSN raises, and `open_sink`, which loads sentry-sdk (0.13 s of imports) only when there is a DSN.

The sink itself is analyzer.report.sentry; commands import this module so that a run without Sentry
never pays for the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analyzer.report.sentry import SentrySink

DSN_ENV = "LOGSCAN_SENTRY_DSN"


class SentryDsnError(ValueError):
    """The DSN string cannot be used (not a URL, no key, no project ID ...); the CLI exits 2."""


def open_sink(dsn: str | None, **options: Any) -> SentrySink | None:
    """A SentrySink for `dsn` (None without one); SentryDsnError when the DSN cannot be used."""
    if not dsn:
        return None
    from analyzer.report.sentry import SentrySink

    return SentrySink(dsn, **options)
