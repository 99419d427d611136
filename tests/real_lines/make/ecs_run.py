"""Elastic's logging on a real FastAPI app under uvicorn, traced by the real Elastic APM agent, driven by real
HTTP requests: ECS JSON (`ecs`) or the agent's own text formatter (`text`).

Usage: python ecs_run.py ecs|text PORT > FILE 2>&1
`ecs`: `ecs_logging.StdlibFormatter` on the root logger; the formatter writes `trace.id`, `transaction.id`,
`span.id` and `service.name` on the records written inside a transaction.
`text`: the formatter the agent documents for text logs, `elasticapm.handlers.logging.Formatter`, given
`%(asctime)s - %(name)s - %(levelname)s - %(message)s`; it appends ` | elasticapm transaction.id=%(...)s
trace.id=%(...)s span.id=%(...)s` to every record (`None` outside a transaction).
uvicorn runs in-process with `log_config=None`, so its loggers (`uvicorn.error`, `uvicorn.access`) write through
the same handler. The agent (`make_apm_client`, `disable_send`: no APM Server) installs its log-record factory,
which gives the records written inside a transaction their IDs. Requests (`ecs_app.py`): GET /ok, 3 GET
/promo/code-N that raise KeyError (500), 2 GET /checkout/N that log a ZeroDivisionError with exc_info (503) sent
with one `traceparent` header (a client's retry in one trace: one trace, two transactions), GET /ok.
"""
import logging
import pathlib
import sys
import threading
import time

import ecs_logging
import httpx
import uvicorn
from elasticapm.handlers.logging import Formatter

mode, port = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, str(pathlib.Path(__file__).parent))
handler = logging.StreamHandler()
handler.setFormatter(ecs_logging.StdlibFormatter() if mode == "ecs"
                     else Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
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
