import logging, sys, time, uuid
from fastapi import FastAPI, Request
from pydantic import BaseModel
app = FastAPI()
mw = logging.getLogger("app.middleware")

class Order(BaseModel):
    qty: int

@app.middleware("http")
async def timing(request: Request, call_next):
    t0 = time.perf_counter()
    resp = await call_next(request)
    ms = (time.perf_counter() - t0) * 1000
    mw.info("%s %s status=%d duration=%.0fms", request.method, request.url.path, resp.status_code, ms)
    return resp

@app.post("/orders")
async def orders(o: Order):
    return {"ok": True}

@app.get("/reports/daily")
async def daily():
    import asyncio
    await asyncio.sleep(1.5)
    return {}

@app.get("/boom")
async def boom():
    raise ValueError("bad value")
