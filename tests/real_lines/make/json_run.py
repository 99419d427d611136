# uvicorn with python-json-logger on uvicorn.access/uvicorn.error and an app middleware logging extra fields.
import logging, sys, threading, time, uuid
import uvicorn, httpx
from fastapi import FastAPI, Request
app = FastAPI()
mw = logging.getLogger("app.requests")
@app.middleware("http")
async def timing(request: Request, call_next):
    t0 = time.perf_counter()
    rid = request.headers.get("x-request-id") or str(uuid.uuid4())
    resp = await call_next(request)
    mw.info("request finished", extra={"method": request.method, "path": request.url.path, "status_code": resp.status_code,
                                      "duration_ms": round((time.perf_counter() - t0) * 1000, 1), "correlation_id": rid})
    return resp
@app.post("/orders")
async def orders(qty: int):
    return {}
@app.get("/reports/daily")
async def daily():
    import asyncio; await asyncio.sleep(1.2); return {}
LOG = {
    "version": 1, "disable_existing_loggers": False,
    "formatters": {"json": {"()": "pythonjsonlogger.json.JsonFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "loggers": {"uvicorn": {"handlers": ["out"], "level": "INFO", "propagate": False},
                "uvicorn.access": {"handlers": ["out"], "level": "INFO", "propagate": False},
                "app": {"handlers": ["out"], "level": "INFO", "propagate": False}},
}
server = uvicorn.Server(uvicorn.Config(app, port=8831, log_config=LOG))
t = threading.Thread(target=server.run); t.start(); time.sleep(1.5)
httpx.post("http://127.0.0.1:8831/orders?qty=x", headers={"X-Request-ID": "c0ffee00-1234-4abc-9def-000000000001"})
httpx.get("http://127.0.0.1:8831/reports/daily")
server.should_exit = True; t.join()
