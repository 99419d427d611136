"""OpenTelemetry's logging instrumentation on a real FastAPI app under uvicorn, driven by real HTTP requests.

Usage: python otel_run.py {text|json} PORT > FILE 2>&1
`text`: `LoggingInstrumentor().instrument(set_logging_format=True)`, the instrumentation's own default format
(`... [trace_id=%(otelTraceID)s span_id=%(otelSpanID)s resource.service.name=... trace_sampled=...] - ...`).
`json`: `instrument(inject_trace_context=True)` (`otelTraceID`... on every record, the format left alone), written by python-json-logger's
`JsonFormatter` with those fields. uvicorn runs in-process with `log_config=None`, so its loggers
(`uvicorn.error`, `uvicorn.access`) write through the root logger too.
Requests: GET /ok, 3 GET /promo/code-N that raise KeyError (500), GET /ok. Lines outside a request (startup,
shutdown) carry `trace_id=0 span_id=0`.
"""
import logging
import pathlib
import sys
import threading
import time

import httpx
import uvicorn
from opentelemetry.instrumentation.logging import LoggingInstrumentor

mode, port = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, str(pathlib.Path(__file__).parent))
if mode == "text":
    LoggingInstrumentor().instrument(set_logging_format=True, log_level=logging.INFO)
else:
    from pythonjsonlogger.json import JsonFormatter

    LoggingInstrumentor().instrument(inject_trace_context=True)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(otelTraceID)s %(otelSpanID)s "
                                       "%(otelServiceName)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
logging.getLogger("httpx").setLevel(logging.WARNING)  # the client's own lines are not the server's log
from otel_app import app  # noqa: E402  (instrumented after logging is set up, as the instrumentation's docs do)

server = uvicorn.Server(uvicorn.Config(app, port=port, log_config=None))
thread = threading.Thread(target=server.run)
thread.start()
time.sleep(1.5)
for path in ["/ok", "/promo/code-0", "/promo/code-1", "/promo/code-2", "/ok"]:
    httpx.get(f"http://127.0.0.1:{port}{path}")  # a connection each: uvicorn closes one after an unhandled error
server.should_exit = True
thread.join()
