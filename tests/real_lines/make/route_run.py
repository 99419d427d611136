# FastAPI middleware logging the matched route template (request.scope["route"].path) with python-json-logger and
# with structlog's LogfmtRenderer.
import logging, sys, threading, time
import structlog, uvicorn, httpx
from fastapi import FastAPI, Request
app = FastAPI()
h = logging.StreamHandler(sys.stdout)
from pythonjsonlogger.json import JsonFormatter
h.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
mw = logging.getLogger("app.requests"); mw.addHandler(h); mw.setLevel(logging.INFO); mw.propagate = False
slog = structlog.wrap_logger(structlog.PrintLogger(sys.stdout), processors=[
    structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso"),
    structlog.processors.LogfmtRenderer(key_order=["timestamp", "level", "event"])])
@app.middleware("http")
async def timing(request: Request, call_next):
    t0 = time.perf_counter()
    resp = await call_next(request)
    route = getattr(request.scope.get("route"), "path", None)
    ms = round((time.perf_counter() - t0) * 1000, 1)
    mw.info("request finished", extra={"method": request.method, "path": request.url.path, "route": route,
                                      "status_code": resp.status_code, "duration_ms": ms})
    slog.info("request finished", method=request.method, path=request.url.path, route=route, status=resp.status_code, duration_ms=ms)
    return resp
@app.get("/orders/{order_id}")
async def order(order_id: int):
    return {"id": order_id}
server = uvicorn.Server(uvicorn.Config(app, port=8841, log_level="warning"))
t = threading.Thread(target=server.run); t.start(); time.sleep(1.5)
httpx.get("http://127.0.0.1:8841/orders/17"); httpx.get("http://127.0.0.1:8841/orders/abc")
server.should_exit = True; t.join()
