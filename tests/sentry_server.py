"""A stand-in for Sentry's ingest endpoint on loopback, for tests that run the real sentry-sdk against it.

sentry-sdk posts envelopes to `/api/<project>/envelope/`, gzip- or
brotli-compressed (`Content-Encoding`). An envelope is a JSON header line,
then items: an item header line (JSON, with `length` in bytes when the SDK
knows it) and its payload. The server decodes what it receives, keeps it,
and answers with the status it was given (200, or e.g. 500 to play a broken
Sentry).
"""

from __future__ import annotations

import gzip
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


def parse_envelope(data: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """The envelope header and its (item header, payload) pairs, read the way Sentry's Relay reads them."""
    stream = io.BytesIO(data)
    header = json.loads(stream.readline())
    items = []
    while line := stream.readline():
        if not line.strip():
            continue
        item_header = json.loads(line)
        if "length" in item_header:
            payload = stream.read(item_header["length"])
            stream.readline()  # the newline after a payload of known length
        else:
            payload = stream.readline().rstrip(b"\n")
        items.append((item_header, payload))
    return header, items


def _decode(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":  # the SDK compresses with brotli only when the brotli package is installed
        import brotli

        return brotli.decompress(body)
    return body


class SentryServer:
    """An HTTP server on 127.0.0.1 (a free port) that records every envelope posted to it.

    `requests` holds (path, headers) of each POST and `events` the payloads of
    the items of type "event", in arrival order.
    """

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="sentry-server", daemon=True
        )

    @property
    def address(self) -> str:
        """host:port, as a DSN and logscan's warnings name it."""
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def dsn(self) -> str:
        return f"http://publickey@{self.address}/1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        _, items = parse_envelope(_decode(body, headers.get("Content-Encoding")))
        with self._lock:
            self.requests.append((path, headers))
            self.events += [json.loads(payload) for item, payload in items if item.get("type") == "event"]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server._record(self.path, dict(self.headers.items()), body)
                reply = b"{}"
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                """Keep the test output clean (BaseHTTPRequestHandler logs every request to stderr)."""

        return Handler
