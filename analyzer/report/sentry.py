"""Sentry sink: each incident of the report model becomes a Sentry event, sent by the real sentry-sdk.

`scan` and `tail` use it with `--sentry-dsn DSN` (or the environment variable
`LOGSCAN_SENTRY_DSN`, `DSN_ENV`):

    sink = SentrySink(dsn)              # SentryDsnError (a ValueError) for a malformed DSN: exit 2
    for incident in report["incidents"]:
        sink.send(incident)             # queued; never raises for a Sentry that is down
    for line in sink.close():           # waits up to `timeout` s, then says what was not delivered
        print("warning:", line)

What goes where in the event (one issue per incident in Sentry):

- `fingerprint`: `[incident["fingerprint"]]`, so Sentry groups every event of one
  incident into one issue, across runs and hosts, whatever the message says.
- `level`: critical → fatal, high → error, medium → warning, low and info → info
  (an unknown severity → error).
- `tags`: signature, service, role, severity: searchable and filterable.
- `message`: the title (its first line becomes the issue title), the counts and
  time span, the cause, the numbered fix steps and the docs.
- `contexts.incident`: the facts: rank, score, count, affected requests (and the
  first request IDs), first/last seen, caused_by, key, template, captures, durations.
- `contexts.request_trace`: the representative request (ID, route, status,
  duration, services, first error, its first log lines), when one is known.
- `breadcrumbs`: the example records, each with its time, source and line number.
- `timestamp`: the incident's `last_seen` (Sentry itself replaces a time more
  than 30 days old, or in the future, by the time it received the event).

Texts from logs are clipped so that an event stays small (tens of KiB, far from
Sentry's 1 MB limit): an example keeps its first and last lines (a traceback's
last line says what failed), at most `EXAMPLE_CHARS` characters.

Updates (`tail` calls `send` again whenever an incident grows): an incident is
sent once per fingerprint per process; it is sent again only when its count
has grown tenfold since it was last sent (3 → 30 → 300 ...), so a storm that
escalates shows up in its Sentry issue a handful of times, never per update.

Isolation: the sink owns a private `sentry_sdk.Client` and calls its
`capture_event` without any scope, so a host program's global/isolation
scopes (tags, user, breadcrumbs, event processors) neither leak into these
events nor receive anything from them; `sentry_sdk.init` is never called, no
integration is installed, nothing is instrumented, no personal data is added
(the SDK's default), no release is guessed by running git, and the SDK's own
log messages about this sink's deliveries are silenced (`close` reports them).

Delivery: the client's transport is `_DeliveryTransport`, sentry-sdk's HTTP
transport that also records the outcome of every envelope it posts: the events
in it count as delivered only when Sentry answered 2xx; otherwise the reason
(connection refused, timeout, HTTP 403, rate limited, ...) is kept. `close`
reports every event not confirmed delivered, including those still queued
when the timeout ran out.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import HttpTransport
from sentry_sdk.utils import Dsn
from sentry_sdk.utils import logger as sdk_logger

from analyzer.report.sentry_dsn import DSN_ENV, SentryDsnError

__all__ = ["DSN_ENV", "SentryDsnError", "SentrySink"]

LEVELS = {"critical": "fatal", "high": "error", "medium": "warning", "low": "info", "info": "info"}
DEFAULT_LEVEL = "error"
UPDATE_FACTOR = 10  # send an incident again when its count has grown this many times since the last send
QUEUE_SIZE = 1000  # events waiting for the sender thread (the SDK's default, 100, is short for a big scan)
EXAMPLES = 5
EXAMPLE_CHARS = 2000
MESSAGE_CHARS = 8000  # Sentry keeps 8,192 characters of a message
FIELD_CHARS = 500  # a capture, the first error of a trace
TRAIL_LINES = 20
TRAIL_CHARS = 300
TAG_CHARS = 200  # Sentry's limit for a tag value
REQUEST_IDS = 10
_DSN_FORM = "https://PUBLIC_KEY@HOST/PROJECT_ID"


_quiet_state = threading.local()


class _QuietFilter(logging.Filter):
    """Drops sentry-sdk's log records emitted while this module is at work in the current thread.

    The SDK logs delivery failures ("Unexpected status code", "flush timed
    out") on its `sentry_sdk.errors` logger, which Python prints to stderr when
    no handler is configured; `SentrySink.close` reports them instead, once.
    Records of a host program's own Sentry use pass untouched.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_quiet_state, "active", False)


_QUIET_FILTER = _QuietFilter()


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence sentry-sdk's logger in this thread for the duration of the block."""
    previous = getattr(_quiet_state, "active", False)
    _quiet_state.active = True
    try:
        yield
    finally:
        _quiet_state.active = previous


def _no_answer(timeout: float) -> str:
    return f"no answer within {timeout:g} s"


def _failure(exc: BaseException, timeout: float) -> str:
    """A short reason for a failed POST: the OS error at the bottom of urllib3's exception chain."""
    chain: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        item = pending.pop(0)
        if item is None or any(item is seen for seen in chain):
            continue
        chain.append(item)
        reason = getattr(item, "reason", None)  # urllib3's MaxRetryError wraps the last attempt's error
        pending += [reason if isinstance(reason, BaseException) else None, item.__cause__, item.__context__]
    for item in chain:
        if isinstance(item, TimeoutError):
            return _no_answer(timeout)
        if isinstance(item, OSError) and item.strerror:
            return item.strerror[:1].lower() + item.strerror[1:]
    return _clip(f"{type(exc).__name__}: {exc}".splitlines()[0], TAG_CHARS)


def _events_in(envelope: Envelope) -> int:
    return sum(1 for item in envelope.items if item.type == "event")


class _DeliveryTransport(HttpTransport):
    """sentry-sdk's HTTP transport that also records which events Sentry confirmed (2xx) and why others failed.

    It runs the SDK's own sending code; it only looks at the outcome of each
    POST (`_request` sees the response, `_send_envelope` the exception) in the
    SDK's single sender thread. The per-request HTTP timeout is the client's
    `shutdown_timeout` (the sink's `timeout`), not the SDK's 30 s.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self.TIMEOUT = options["shutdown_timeout"]  # read by the pool built in HttpTransport.__init__
        self.delivered = 0
        self.failures: Counter[str] = Counter()  # reason -> events not delivered
        self.lock = threading.Lock()
        self._status: int | None = None
        super().__init__(options)

    def _request(self, method: str, endpoint_type: Any, body: Any, headers: Mapping[str, str]) -> Any:
        response = super()._request(method, endpoint_type, body, headers)
        self._status = response.status
        return response

    def _send_envelope(self, envelope: Envelope) -> None:
        events = _events_in(envelope)
        self._status = None
        with _quiet():
            try:
                super()._send_envelope(envelope)
                failure = self._outcome()
            except Exception as exc:  # noqa: BLE001 - any failure to post is a delivery failure, never a crash
                failure = _failure(exc, self.TIMEOUT)
        with self.lock:
            if failure is None:
                self.delivered += events
            elif events:
                self.failures[failure] += events

    def _outcome(self) -> str | None:
        """None when Sentry accepted the last envelope, else why not."""
        if self._status is None:
            return "rate limited"  # the SDK dropped the envelope without a request (a Retry-After is running)
        if 200 <= self._status < 300:
            return None
        if self._status == 429:
            return "rate limited (HTTP 429)"
        return f"HTTP {self._status}"

    def on_dropped_event(self, reason: str) -> None:
        if reason == "full_queue":  # capture_envelope could not queue it: one envelope, one event
            with self.lock:
                self.failures["send queue full"] += 1


def _parse_dsn(dsn: str) -> Dsn:
    """The DSN parsed by sentry-sdk's own parser, or SentryDsnError with a one-line reason."""
    if not dsn.strip():
        raise SentryDsnError(f"invalid Sentry DSN: empty (expected {_DSN_FORM})")
    try:
        return Dsn(dsn.strip())
    except ValueError as exc:  # sentry_sdk's BadDsn, or urllib's for a bad port
        reason = str(exc) or type(exc).__name__
        raise SentryDsnError(f"invalid Sentry DSN: {reason[:1].lower() + reason[1:]} (expected {_DSN_FORM})") from None


def _clip(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, keeping its head and its tail (where a traceback says what failed)."""
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head
    return f"{text[:head]}\n… {len(text) - head - tail:,} characters clipped …\n{text[-tail:]}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _message(incident: dict[str, Any]) -> str:
    lines = [
        incident["title"],
        (
            f"{_plural(incident['count'], 'occurrence')} in {incident['service'] or 'an unknown service'}, "
            f"{_plural(incident['affected_requests'], 'request')} affected, "
            f"{incident['first_seen'] or '?'} → {incident['last_seen'] or '?'}"
        ),
    ]
    if incident["cause"]:
        lines += ["", f"Cause: {incident['cause']}"]
    if incident["fix"]:
        lines += ["", "Fix:", *(f"{n}. {step}" for n, step in enumerate(incident["fix"], 1))]
    if incident["docs"]:
        lines += ["", "Docs: " + " ".join(incident["docs"])]
    return _clip("\n".join(lines), MESSAGE_CHARS)


def _incident_context(incident: dict[str, Any]) -> dict[str, Any]:
    captures = {
        name: _clip(value, FIELD_CHARS) if isinstance(value, str) else value
        for name, value in (incident["captures"] or {}).items()
    }
    return {
        "fingerprint": incident["fingerprint"],
        "signature": incident["signature"],
        "rank": incident["rank"],
        "score": incident["score"],
        "why": incident["why"],
        "services": incident["services"],
        "service_counts": incident["service_counts"],
        "count": incident["count"],
        "records": incident["records"],
        "affected_requests": incident["affected_requests"],
        "failed_requests": incident["failed_requests"],
        "exception": incident["exception"],
        "culprit": incident["culprit"],
        "request_ids": (incident["request_ids"] or [])[:REQUEST_IDS],
        "first_seen": incident["first_seen"],
        "last_seen": incident["last_seen"],
        "caused_by": incident["caused_by"] or [],
        "key": incident["key"],
        "template": incident["template"],
        "captures": captures,
        "durations": incident["durations"],
    }


def _trace_context(trace: dict[str, Any]) -> dict[str, Any]:
    trail = [
        f"{step['ts'] or '?'} {step['service'] or '-'} {step['level'] or '-'} {_clip(step['message'] or '', TRAIL_CHARS)}"
        for step in (trace["trail"] or [])[:TRAIL_LINES]
    ]
    return {
        "request_id": trace["request_id"],
        "access_line": trace.get("access_line"),
        "method": trace["method"],
        "path": trace["path"],
        "status": trace["status"],
        "duration_ms": trace["duration_ms"],
        "services": trace["services"],
        "start": trace["start"],
        "end": trace["end"],
        "first_error": _clip(trace["first_error"] or "", FIELD_CHARS) or None,
        "trail": trail,
    }


def _breadcrumb(example: dict[str, Any], level: str, fallback_ts: str | None) -> dict[str, Any]:
    crumb: dict[str, Any] = {
        "type": "default",
        "category": "log",
        "level": level,
        "message": _clip(example["text"] or "", EXAMPLE_CHARS),
        "data": {"source": example["source"], "line_no": example["line_no"]},
    }
    if example["ts"] or fallback_ts:
        crumb["timestamp"] = example["ts"] or fallback_ts
    return crumb


def _event(incident: dict[str, Any]) -> dict[str, Any]:
    """The Sentry event of one incident (see the module docstring for what goes where)."""
    level = LEVELS.get(incident["severity"], DEFAULT_LEVEL)
    tags = {
        name: _clip(str(incident[name]), TAG_CHARS).replace("\n", " ")
        for name in ("signature", "service", "role", "severity")
        if incident[name]
    }
    contexts: dict[str, Any] = {"incident": _incident_context(incident)}
    if incident["trace"]:
        contexts["request_trace"] = _trace_context(incident["trace"])
    event: dict[str, Any] = {
        "level": level,
        "logger": "logscan",
        "platform": "other",
        "message": _message(incident),
        "fingerprint": [incident["fingerprint"]],
        "tags": tags,
        "contexts": contexts,
        "breadcrumbs": {
            "values": [
                _breadcrumb(example, level, incident["first_seen"]) for example in (incident["examples"] or [])[:EXAMPLES]
            ]
        },
    }
    if incident["last_seen"]:
        event["timestamp"] = incident["last_seen"]
    return event


class SentrySink:
    """Sends incidents to one Sentry project: once per fingerprint, again only after tenfold growth.

    `send` only queues (a background thread of sentry-sdk posts the events), so
    neither a slow nor an unreachable Sentry slows the analysis down; `close`
    waits at most `timeout` seconds and returns one warning per reason events
    were not delivered. Not thread-safe: one caller (the scan or tail loop).
    """

    def __init__(
        self, dsn: str, *, environment: str | None = None, release: str | None = None, timeout: float = 2.0
    ) -> None:
        """Check the DSN and set up a private client; no network traffic happens until `send`.

        `environment` defaults to sentry-sdk's (SENTRY_ENVIRONMENT, else
        "production"); `release` to none at all. `timeout` bounds both one
        HTTP request and the wait in `close`.

        Raises SentryDsnError when `dsn` is malformed.
        """
        self._where = _parse_dsn(dsn).netloc
        self._timeout = timeout
        self._sent: dict[str, int] = {}  # fingerprint -> count when last sent
        self._queued = 0
        self._closed = False
        sdk_logger.addFilter(_QUIET_FILTER)  # idempotent: one filter object for every sink
        with _quiet():
            self._client = sentry_sdk.Client(
                dsn=dsn.strip(),
                environment=environment,
                release=release or "",  # not None: the SDK would run `git rev-parse` to guess one
                transport=_DeliveryTransport,
                transport_queue_size=QUEUE_SIZE,
                shutdown_timeout=timeout,
                default_integrations=False,
                auto_enabling_integrations=False,
                integrations=[],
                send_client_reports=False,  # lost events are reported by close(), not by extra envelopes
                enable_backpressure_handling=False,  # no monitor thread
                spotlight=False,
                debug=False,
            )
        self._client.options["release"] = release  # none unless given (an empty release is not valid in Sentry)
        self._transport = cast(_DeliveryTransport, self._client.transport)

    def send(self, incident: dict[str, Any]) -> bool:
        """Queue `incident` (a report-model dict) for Sentry unless it was already sent; True when queued.

        An incident is sent the first time its fingerprint is seen, and again
        only when its count reached `UPDATE_FACTOR` times the count last sent.
        """
        if self._closed:
            raise RuntimeError("send() after close() on a SentrySink")
        fingerprint = incident["fingerprint"]
        count = max(int(incident["count"] or 0), 1)
        last = self._sent.get(fingerprint)
        if last is not None and count < last * UPDATE_FACTOR:
            return False
        with _quiet():
            event_id = self._client.capture_event(_event(incident))
        if event_id is None:
            return False
        self._sent[fingerprint] = count
        self._queued += 1
        return True

    def close(self) -> list[str]:
        """Wait up to `timeout` s for the queued events, shut the client down, say what was not delivered.

        Returns one line per reason, e.g. "Sentry at sentry.example.com:
        connection refused, 3 events not delivered"; [] when Sentry confirmed
        every event (and on a second call).
        """
        if self._closed:
            return []
        self._closed = True
        with _quiet():
            self._client.close(timeout=self._timeout)
        with self._transport.lock:
            failures = Counter(self._transport.failures)
            delivered = self._transport.delivered
        unanswered = self._queued - delivered - sum(failures.values())  # still queued or in flight
        if unanswered > 0:
            failures[_no_answer(self._timeout)] += unanswered
        return [f"Sentry at {self._where}: {reason}, {_plural(n, 'event')} not delivered" for reason, n in failures.items()]
