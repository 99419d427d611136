"""Elastic APM's log correlation in TEXT logs: the agent's own `elasticapm.handlers.logging.Formatter` on a real
FastAPI app under uvicorn (`ecs_app.py`, traced by the real agent), driven by real HTTP requests.

Usage: python apm_text_run.py PORT > FILE 2>&1
The formatter is the one the agent documents for text logs: the format string it is given, then
` | elasticapm transaction.id=%(elasticapm_transaction_id)s trace.id=%(elasticapm_trace_id)s
span.id=%(elasticapm_span_id)s`. Records written outside a transaction (uvicorn's start-up lines, the
traceback uvicorn logs after a request's transaction ended) print `None` for each ID. Requests as `ecs_run.py`.
"""
import logging
import pathlib
import sys
import threading
import time

import httpx
import uvicorn
from elasticapm.handlers.logging import Formatter

port = int(sys.argv[1])
sys.path.insert(0, str(pathlib.Path(__file__).parent))
handler = logging.StreamHandler()
handler.setFormatter(Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
logging.basicConfig(level=logging.INFO, handlers=[handler])
logging.getLogger("httpx").setLevel(logging.WARNING)  # the client's own lines are not the server's log
from ecs_app import app  # noqa: E402

server = uvicorn.Server(uvicorn.Config(app, port=port, log_config=None))
thread = threading.Thread(target=server.run)
thread.start()
time.sleep(1.5)
retry = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
for path, headers in [("/ok", {}), ("/promo/code-0", {}), ("/promo/code-1", {}), ("/promo/code-2", {}),
                      ("/checkout/1", retry), ("/checkout/1", retry), ("/ok", {})]:
    httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers)  # a connection each: uvicorn closes one after an unhandled error
server.should_exit = True
thread.join()
