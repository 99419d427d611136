"""The ledger API: FastAPI, ``def`` endpoints, synchronous SQLAlchemy 2.0 + psycopg 3.

Middlewares (outermost first): asgi-correlation-id's ``CorrelationIdMiddleware``
(``X-Request-ID`` taken or generated), the request log (method, path, status,
duration) and, in the JSON style, a catch-all that prints the traceback to
stderr with ``traceback.print_exc()`` and answers 500 with the exception type.
"""

from __future__ import annotations

import logging
import time
import traceback

import psycopg
from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from ledger import logsetup

logsetup.configure()

from ledger.db import Session, export_engine, raw_conninfo  # noqa: E402

log = logging.getLogger("ledger.api")
access = logging.getLogger("ledger.access")
app = FastAPI(title="ledger")

RATES = {"EUR": 1.0, "USD": 0.92}


class OrderIn(BaseModel):
    customer_id: int
    sku: str
    qty: int = Field(gt=0)


class TransferIn(BaseModel):
    src: int
    dst: int
    amount: int = Field(gt=0)


@app.get("/health")
def health():
    return {"ok": True}


@app.get("/orders/archive")
def orders_archive(customer_id: int = 1):
    with Session() as s:
        rows = s.execute(text("SELECT id, total_cents FROM orders_archive WHERE customer_id = :c"),
                         {"c": customer_id}).all()
    return {"orders": [dict(r._mapping) for r in rows]}


@app.get("/orders/{order_id}")
def get_order(order_id: int):
    with Session() as s:
        row = s.execute(text("SELECT id, customer_id, sku, qty FROM orders WHERE id = :i"), {"i": order_id}).first()
    if row is None:
        return JSONResponse({"detail": "not found"}, status_code=404)
    return dict(row._mapping)


@app.post("/orders")
def create_order(order: OrderIn):
    with Session.begin() as s:
        oid = s.execute(text("INSERT INTO orders (customer_id, sku, qty) VALUES (:c, :s, :q) RETURNING id"),
                        {"c": order.customer_id, "s": order.sku, "q": order.qty}).scalar_one()
    log.info("order created", extra={"order_id": oid, "customer_id": order.customer_id})
    return {"id": oid}


@app.get("/customers/{customer_id}/prefs")
def customer_prefs(customer_id: int):
    with Session() as s:
        prefs = s.execute(text("SELECT prefs FROM customers WHERE id = :i"), {"i": customer_id}).scalar_one()
    return {"theme": prefs["theme"], "lang": prefs.get("lang", "en")}


@app.get("/invoices/{invoice_id}/ratio")
def invoice_ratio(invoice_id: int):
    with Session() as s:
        inv = s.execute(text("SELECT total_cents, paid_cents, currency FROM invoices WHERE id = :i"),
                        {"i": invoice_id}).one()
    paid_ratio = inv.paid_cents / inv.total_cents
    rate = RATES[inv.currency]
    return {"paid_ratio": round(paid_ratio, 3), "eur_total": round(inv.total_cents * rate)}


@app.get("/reports/daily")
def report_daily():
    with Session() as s:
        row = s.execute(text("SELECT count(*) AS n, coalesce(sum(qty), 0) AS qty FROM orders, pg_sleep(1.2)")).one()
    return {"orders": row.n, "qty": row.qty}


@app.get("/reports/export")
def report_export():
    with export_engine.connect() as c:
        n = c.execute(text("SELECT count(*) FROM orders, pg_sleep(1.0)")).scalar_one()
    return {"rows": n}


@app.post("/accounts/transfer")
def transfer(t: TransferIn):
    with Session.begin() as s:
        s.execute(text("UPDATE accounts SET balance = balance - :a WHERE id = :i"), {"a": t.amount, "i": t.src})
        s.execute(text("SELECT pg_sleep(0.4)"))  # the fraud check
        s.execute(text("UPDATE accounts SET balance = balance + :a WHERE id = :i"), {"a": t.amount, "i": t.dst})
    return {"ok": True}


@app.post("/warehouses/sync")
def warehouses_sync(warehouses: int = 20):
    """One direct connection per warehouse, all open at once (no pool)."""
    conns = []
    try:
        for _ in range(warehouses):
            conns.append(psycopg.connect(raw_conninfo(), application_name="ledger-sync", connect_timeout=5))
        return {"synced": len(conns)}
    finally:
        for c in conns:
            c.close()


if logsetup.STYLE == "json":
    @app.middleware("http")
    async def catch_all(request: Request, call_next):
        try:
            return await call_next(request)
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            etype = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
            log.error("unhandled exception", extra={"exc_type": etype, "path": request.url.path})
            return JSONResponse({"detail": "Internal Server Error", "error_type": etype,
                                 "request_id": correlation_id.get()}, status_code=500)

if logsetup.STYLE in ("json", "text"):
    @app.middleware("http")
    async def request_log(request: Request, call_next):
        t0 = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            ms = (time.perf_counter() - t0) * 1000
            if logsetup.STYLE == "json":
                access.info("request completed", extra={"method": request.method, "path": request.url.path,
                                                        "status": status, "duration_ms": round(ms, 1)})
            else:
                access.info("%s %s status=%d duration=%dms", request.method, request.url.path, status, round(ms))

app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")
