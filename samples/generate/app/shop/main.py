"""The shop API (FastAPI on uvicorn).

Some handlers contain the real bugs and misconfigurations whose log output
logscan must recognise; the load driver (``samples/generate/scenarios.py``)
calls them on purpose:

* ``GET /customers/{id}/summary`` touches a lazy relationship in async code
  (MissingGreenlet),
* ``GET /reports/export`` uses a 2-connection pool with a 0.3 s timeout
  (QueuePool limit reached when several exports run at once),
* ``POST /warehouses/sync`` opens one unpooled connection per warehouse at
  once (PostgreSQL: too many clients),
* ``POST /accounts/transfer`` locks two rows in request order (deadlock when
  two opposite transfers overlap),
* ``GET /orders/archive`` reads a table no migration creates,
* ``GET /orders/search`` runs under a 300 ms ``statement_timeout``,
* ``GET /reports/daily`` is just slow (a 1.1 s query),
* ``GET /me`` verifies a JWT with PyJWT (expired tokens give 401),
* ``POST /inventory/reconcile`` raises the app's own InventoryMismatchError,
* ``GET /debug/block-loop`` blocks the event loop (gunicorn worker timeout).

Every request goes through a middleware that takes ``X-Request-ID`` (or makes
one), binds it with ``logger.contextualize`` and logs a start and a finish
line with method, path, status and duration_ms.
"""

import asyncio
import json
import time
import uuid
from contextlib import asynccontextmanager

import jwt
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from loguru import logger
from pydantic import BaseModel, Field
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from .db import dispose_all, engine, export_engine, get_session, sync_engine
from .errors import InventoryMismatchError
from .logging_setup import setup_logging
from .models import Account, Customer, Order, Product

JWT_SECRET = "logscan-sample-secret-0123456789abcdef"  # >= 32 bytes: no InsecureKeyLengthWarning

setup_logging()


@asynccontextmanager
async def lifespan(app: FastAPI):
    async with engine.connect() as conn:
        version = (await conn.execute(text("SHOW server_version"))).scalar_one()
    logger.info("database reachable, server_version={}", version)
    yield
    await dispose_all()
    logger.info("database pools disposed")


app = FastAPI(title="shop", lifespan=lifespan)


@app.middleware("http")
async def request_context(request: Request, call_next):
    request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
    start = time.perf_counter()
    with logger.contextualize(request_id=request_id):
        logger.info("request started method={} path={}", request.method, request.url.path)
        try:
            response = await call_next(request)
        except Exception:
            duration_ms = (time.perf_counter() - start) * 1000
            logger.error("request finished method={} path={} status=500 duration_ms={:.1f}",
                         request.method, request.url.path, duration_ms)
            raise
        duration_ms = (time.perf_counter() - start) * 1000
        logger.info("request finished method={} path={} status={} duration_ms={:.1f}",
                    request.method, request.url.path, response.status_code, duration_ms)
    response.headers["X-Request-ID"] = request_id
    return response


@app.exception_handler(InventoryMismatchError)
async def inventory_mismatch_handler(request: Request, exc: InventoryMismatchError):
    logger.opt(exception=exc).error("inventory reconciliation failed")
    return JSONResponse(status_code=409, content={"detail": str(exc)})


# --- schemas ---------------------------------------------------------------

class OrderItem(BaseModel):
    sku: str = Field(min_length=3, max_length=20)
    qty: int = Field(gt=0, le=100)


class OrderIn(BaseModel):
    customer_id: int
    items: list[OrderItem] = Field(min_length=1)


class TransferIn(BaseModel):
    from_account: int
    to_account: int
    amount_cents: int = Field(gt=0)


class ReconcileIn(BaseModel):
    sku: str
    counted: int


# --- routes ----------------------------------------------------------------

@app.get("/health")
async def health():
    return {"status": "ok"}


@app.get("/products")
async def list_products(session: AsyncSession = Depends(get_session)):
    rows = (await session.scalars(select(Product).order_by(Product.id))).all()
    return [{"sku": p.sku, "name": p.name, "price_cents": p.price_cents} for p in rows]


@app.get("/products/{product_id}")
async def get_product(product_id: int, session: AsyncSession = Depends(get_session)):
    product = await session.get(Product, product_id)
    if product is None:
        raise HTTPException(status_code=404, detail="product not found")
    return {"sku": product.sku, "name": product.name, "stock": product.stock}


@app.post("/orders", status_code=201)
async def create_order(order: OrderIn, session: AsyncSession = Depends(get_session)):
    skus = [i.sku for i in order.items]
    products = {p.sku: p for p in await session.scalars(select(Product).where(Product.sku.in_(skus)))}
    if len(products) != len(set(skus)):
        raise HTTPException(status_code=404, detail="unknown sku")
    total = sum(products[i.sku].price_cents * i.qty for i in order.items)
    row = Order(customer_id=order.customer_id, total_cents=total)
    session.add(row)
    await session.commit()
    logger.info("order created order_id={} customer_id={} total_cents={}", row.id, order.customer_id, total)
    return {"id": row.id, "total_cents": total}


@app.post("/orders/import")
async def import_orders(request: Request):
    raw = (await request.body()).decode()
    batch = json.loads(raw)
    # logs the whole payload: a single line far longer than 16 KiB
    logger.info("import batch received: {} orders payload={}", len(batch), raw)
    return {"accepted": len(batch)}


@app.get("/orders/archive")
async def order_archive(customer_id: int, session: AsyncSession = Depends(get_session)):
    rows = await session.execute(
        text("SELECT id, total_cents FROM order_archive WHERE customer_id = :cid"), {"cid": customer_id})
    return [dict(r._mapping) for r in rows]


@app.get("/orders/search")
async def search_orders(status: str, session: AsyncSession = Depends(get_session)):
    await session.execute(text("SET LOCAL statement_timeout = '300ms'"))
    rows = await session.execute(
        text("SELECT o.id, o.total_cents FROM orders o, pg_sleep(1.5) WHERE o.status = :status"),
        {"status": status})
    return [dict(r._mapping) for r in rows]


@app.get("/orders/{order_id}")
async def get_order(order_id: int, session: AsyncSession = Depends(get_session)):
    order = await session.get(Order, order_id)
    if order is None:
        raise HTTPException(status_code=404, detail="order not found")
    return {"id": order.id, "status": order.status, "total_cents": order.total_cents}


@app.get("/customers/{customer_id}/summary")
async def customer_summary(customer_id: int, session: AsyncSession = Depends(get_session)):
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise HTTPException(status_code=404, detail="customer not found")
    # BUG: lazy relationship loaded outside the greenlet -> MissingGreenlet
    return {"customer": customer.name, "orders": len(customer.orders)}


@app.get("/reports/daily")
async def daily_report(session: AsyncSession = Depends(get_session)):
    row = (await session.execute(text(
        "SELECT count(*) AS orders, coalesce(sum(total_cents), 0) AS revenue "
        "FROM orders, pg_sleep(1.1)"))).one()
    return {"orders": row.orders, "revenue_cents": row.revenue}


@app.get("/reports/export")
async def export_report():
    async with export_engine.connect() as conn:
        await conn.execute(text("SELECT pg_sleep(0.7)"))
        rows = (await conn.execute(text("SELECT id, total_cents FROM orders ORDER BY id"))).all()
    logger.info("export finished rows={}", len(rows))
    return {"rows": len(rows)}


@app.post("/warehouses/sync")
async def sync_warehouses(warehouses: int = 12):
    async def sync_one(n: int):
        async with sync_engine.connect() as conn:
            await conn.execute(text("SELECT pg_sleep(0.4)"))
            return n

    results = await asyncio.gather(*(sync_one(n) for n in range(warehouses)), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        logger.opt(exception=failures[0]).error(
            "warehouse sync failed: {} of {} connections could not be opened", len(failures), warehouses)
        return JSONResponse(status_code=503, content={"failed_connections": len(failures)})
    logger.info("warehouse sync done warehouses={}", warehouses)
    return {"synced": warehouses}


@app.post("/accounts/transfer")
async def transfer(t: TransferIn, session: AsyncSession = Depends(get_session)):
    async with session.begin():
        await session.execute(update(Account).where(Account.id == t.from_account)
                              .values(balance_cents=Account.balance_cents - t.amount_cents))
        await asyncio.sleep(0.3)  # fraud check
        await session.execute(update(Account).where(Account.id == t.to_account)
                              .values(balance_cents=Account.balance_cents + t.amount_cents))
    logger.info("transfer booked from={} to={} amount_cents={}", t.from_account, t.to_account, t.amount_cents)
    return {"status": "booked"}


@app.get("/me")
async def me(authorization: str = Header()):
    token = authorization.removeprefix("Bearer ").strip()
    try:
        claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    except jwt.ExpiredSignatureError as exc:
        logger.warning("token rejected: {}: {}", type(exc).__name__, exc)
        raise HTTPException(status_code=401, detail="token expired")
    except jwt.InvalidTokenError as exc:
        logger.warning("token rejected: {}: {}", type(exc).__name__, exc)
        raise HTTPException(status_code=401, detail="invalid token")
    return {"user": claims["sub"]}


@app.post("/inventory/reconcile")
async def reconcile(body: ReconcileIn, session: AsyncSession = Depends(get_session)):
    product = await session.scalar(select(Product).where(Product.sku == body.sku))
    if product is None:
        raise HTTPException(status_code=404, detail="unknown sku")
    if body.counted != product.stock:
        raise InventoryMismatchError(f"sku {body.sku} expected {product.stock} got {body.counted}")
    return {"sku": body.sku, "ok": True}


@app.get("/debug/block-loop")
async def block_loop(seconds: float = 1.0):
    time.sleep(seconds)  # blocking call inside async code: freezes the worker
    return {"blocked_s": seconds}
