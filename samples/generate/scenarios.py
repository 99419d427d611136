"""Bounded HTTP load against the shop API, over loopback only.

Every request carries an ``X-Request-ID`` chosen here (except a few health
checks, for which the middleware generates one and returns it in the
response header), so the manifest can name the exact requests that failed
and how. Everything the driver does is recorded as a :class:`Req`: method,
path, route template, scenario, status, client-side duration, and the error
the client saw, if any.

The load is bounded in count (fixed request lists) and time (timeouts on
every request, a fixed number of rounds) and targets only 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

import httpx
import jwt

JWT_SECRET = "logscan-sample-secret-0123456789abcdef"  # same as the app's


@dataclass
class Req:
    """One request the driver sent and what came back."""

    request_id: str | None
    method: str
    path: str
    route: str
    scenario: str
    sent_at: str = ""
    status: int | None = None
    duration_ms: float | None = None
    client_error: str | None = None
    response: dict | None = None

    def as_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if v is not None}
        if self.status is not None and self.status < 400:
            d.pop("response", None)  # successful bodies are not interesting
        return d


def make_token(sub: str, *, expired: bool) -> str:
    now = datetime.now(timezone.utc)
    exp = now - timedelta(minutes=5) if expired else now + timedelta(minutes=30)
    return jwt.encode({"sub": sub, "iat": now - timedelta(minutes=40), "exp": exp},
                      JWT_SECRET, algorithm="HS256")


class Driver:
    """Sends requests and keeps the record of all of them."""

    def __init__(self, base_url: str, *, timeout: float = 15.0):
        assert base_url.startswith("http://127.0.0.1:"), "loopback only"
        self.base_url = base_url
        self.timeout = timeout
        self.requests: list[Req] = []
        # no keep-alive: uvicorn closes the connection after a 500 anyway
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout,
                                        limits=httpx.Limits(max_keepalive_connections=0))

    async def close(self) -> None:
        await self.client.aclose()

    async def send(self, method: str, path: str, *, route: str, scenario: str,
                   json=None, content=None, headers: dict | None = None,
                   with_id: bool = True) -> Req:
        rid = str(uuid.uuid4()) if with_id else None
        hdrs = dict(headers or {})
        if rid:
            hdrs["X-Request-ID"] = rid
        if content is not None:
            hdrs.setdefault("Content-Type", "application/json")
        req = Req(rid, method, path, route, scenario,
                  sent_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"))
        self.requests.append(req)
        t0 = time.perf_counter()
        try:
            resp = await self.client.request(method, path, json=json, content=content, headers=hdrs)
            req.status = resp.status_code
            req.request_id = req.request_id or resp.headers.get("X-Request-ID")
            if resp.headers.get("content-type", "").startswith("application/json") and len(resp.content) < 2000:
                body = resp.json()
                if isinstance(body, dict):
                    req.response = body
        except httpx.HTTPError as exc:
            req.client_error = f"{type(exc).__name__}: {exc}"
        req.duration_ms = round((time.perf_counter() - t0) * 1000, 1)
        return req

    # -- traffic building blocks ---------------------------------------------
    async def normal(self, n: int, *, scenario: str = "normal", pause: float = 0.02) -> list[Req]:
        """``n`` ordinary successful requests over the read and write routes."""
        out = []
        token = make_token("ada", expired=False)
        plan = [
            ("GET", "/products", "/products", None, {}),
            ("GET", "/products/{i}", "/products/{product_id}", None, {}),
            ("GET", "/orders/{o}", "/orders/{order_id}", None, {}),
            ("POST", "/orders", "/orders", "order", {}),
            ("GET", "/me", "/me", None, {"Authorization": f"Bearer {token}"}),
            ("GET", "/products/{i}", "/products/{product_id}", None, {}),
            ("GET", "/health", "/health", None, {}),
        ]
        for k in range(n):
            method, path, route, body, hdrs = plan[k % len(plan)]
            path = path.format(i=1 + k % 4, o=1 + k % 4)
            js = None
            if body == "order":
                js = {"customer_id": 1 + k % 3, "items": [{"sku": "4712", "qty": 1 + k % 3}]}
            out.append(await self.send(method, path, route=route, scenario=scenario, json=js,
                                       headers=hdrs, with_id=not (path == "/health" and k % 2)))
            await asyncio.sleep(pause)
        return out

    def dump(self) -> list[dict]:
        return [r.as_dict() for r in self.requests]


def by_scenario(reqs: list[Req], scenario: str, *, status: int | None = None,
                failed: bool | None = None) -> list[Req]:
    out = [r for r in reqs if r.scenario == scenario]
    if status is not None:
        out = [r for r in out if r.status == status]
    if failed is True:
        out = [r for r in out if r.status is None or r.status >= 500]
    return out


# --- the scenario sets --------------------------------------------------------

async def main_api_load(d: Driver, *, before_kill=None) -> dict:
    """The full scenario set for the text-logging api run (compose project).

    Returns a dict of scenario name -> list of Req for the manifest builder.
    """
    s: dict[str, list[Req]] = {}

    await d.normal(25)

    # MissingGreenlet: lazy relationship touched in an async endpoint
    s["missing_greenlet"] = [
        await d.send("GET", f"/customers/{c}/summary", route="/customers/{customer_id}/summary",
                     scenario="missing_greenlet") for c in (1, 2)]
    await d.normal(10)

    # a few 422s on other routes, spread out: below the storm threshold
    s["http_422_sparse"] = []
    s["http_422_sparse"].append(await d.send("GET", "/products/abc", route="/products/{product_id}",
                                             scenario="http_422_sparse"))
    await d.normal(6)
    s["jwt_expired"] = [await d.send("GET", "/me", route="/me", scenario="jwt_expired",
                                     headers={"Authorization": f"Bearer {make_token('grace', expired=True)}"})]
    await d.normal(6)

    # slow requests: several >= 1000 ms on one route (and slow statements)
    s["slow_request"] = []
    for _ in range(4):
        s["slow_request"].append(await d.send("GET", "/reports/daily", route="/reports/daily",
                                              scenario="slow_request"))
        await d.normal(2)

    # pool exhaustion: 5 concurrent exports against a 2-connection pool
    s["pool_exhausted"] = list(await asyncio.gather(*(
        d.send("GET", "/reports/export", route="/reports/export", scenario="pool_exhausted")
        for _ in range(5))))
    await d.normal(10)
    s["http_422_sparse"].append(await d.send(
        "POST", "/accounts/transfer", route="/accounts/transfer", scenario="http_422_sparse",
        json={"from_account": 1, "to_account": 2, "amount_cents": -500}))

    # 422 storm: 30 invalid orders within a few seconds on POST /orders
    bad_bodies = [
        {"customer_id": 1, "items": []},
        {"customer_id": "ada", "items": [{"sku": "4711", "qty": 1}]},
        {"customer_id": 2, "items": [{"sku": "4711", "qty": 0}]},
        {"customer_id": 3, "items": [{"sku": "47", "qty": 1}]},
        {"items": [{"sku": "4712", "qty": 2}]},
    ]
    s["http_422_storm"] = []
    for k in range(30):
        s["http_422_storm"].append(await d.send("POST", "/orders", route="/orders", scenario="http_422_storm",
                                                json=bad_bodies[k % len(bad_bodies)]))
        if k % 10 == 9:
            await d.send("POST", "/orders", route="/orders", scenario="normal",
                         json={"customer_id": 1, "items": [{"sku": "5100", "qty": 1}]})
        await asyncio.sleep(0.05)
    await d.normal(10)

    # deadlock: two opposite transfers at the same time
    s["deadlock"] = list(await asyncio.gather(
        d.send("POST", "/accounts/transfer", route="/accounts/transfer", scenario="deadlock",
               json={"from_account": 1, "to_account": 2, "amount_cents": 2500}),
        d.send("POST", "/accounts/transfer", route="/accounts/transfer", scenario="deadlock",
               json={"from_account": 2, "to_account": 1, "amount_cents": 1700})))
    await d.normal(8)

    # missing table
    s["relation_missing"] = []
    for cid in (3,):
        s["relation_missing"].append(await d.send("GET", f"/orders/archive?customer_id={cid}",
                                                  route="/orders/archive", scenario="relation_missing"))
        await d.normal(4)

    s["http_422_sparse"].append(await d.send("GET", "/products/latest", route="/products/{product_id}",
                                             scenario="http_422_sparse"))
    # statement timeout
    s["statement_timeout"] = []
    for status in ("shipped",):
        s["statement_timeout"].append(await d.send("GET", f"/orders/search?status={status}",
                                                   route="/orders/search", scenario="statement_timeout"))
        await d.normal(4)

    # expired JWTs, mixed with valid ones
    for who in ("edsger", "ada"):
        s["jwt_expired"].append(await d.send("GET", "/me", route="/me", scenario="jwt_expired",
                                             headers={"Authorization": f"Bearer {make_token(who, expired=True)}"}))
        await d.normal(3)

    # the app's own error, unknown to any signature
    s["unknown"] = []
    for sku, counted in (("4711", -1), ("5100", 9), ("5101", -3)):
        s["unknown"].append(await d.send("POST", "/inventory/reconcile", route="/inventory/reconcile",
                                         scenario="unknown", json={"sku": sku, "counted": counted}))
        await d.send("POST", "/inventory/reconcile", route="/inventory/reconcile", scenario="normal",
                     json={"sku": "4712", "counted": 40})
        await d.normal(3)

    # too many clients: one request opens 16 connections at once
    s["too_many_connections"] = [await d.send("POST", "/warehouses/sync?warehouses=16",
                                              route="/warehouses/sync", scenario="too_many_connections")]
    await d.normal(6)

    # one very long log line (> 16 KiB) for the Docker partial-entry rejoin
    batch = [{"customer_id": 1 + k % 3, "items": [{"sku": "4712", "qty": 1 + k % 5},
                                                    {"sku": "5100", "qty": 1}]} for k in range(300)]
    s["long_line"] = [await d.send("POST", "/orders/import", route="/orders/import", scenario="long_line",
                                   content=json.dumps(batch, separators=(",", ":")))]
    s["http_422_sparse"].append(await d.send("GET", "/products/x1", route="/products/{product_id}",
                                             scenario="http_422_sparse"))
    # 404 noise
    s["not_found"] = [await d.send("GET", "/favicon.ico", route="/favicon.ico", scenario="not_found"),
                      await d.send("GET", "/orders/999", route="/orders/{order_id}", scenario="not_found")]
    await d.normal(12)
    return s


async def json_api_load(d: Driver) -> dict:
    """A shorter scenario set for the Loguru ``serialize=True`` run."""
    s: dict[str, list[Req]] = {}
    await d.normal(25)
    s["missing_greenlet"] = [await d.send("GET", "/customers/3/summary", route="/customers/{customer_id}/summary",
                                          scenario="missing_greenlet")]
    await d.normal(8)
    s["http_422_sparse"] = []
    for body in ({"customer_id": 1, "items": []}, {"customer_id": 2}):
        s["http_422_sparse"].append(await d.send("POST", "/orders", route="/orders", scenario="http_422_sparse",
                                                 json=body))
        await d.normal(4)
    s["slow_request"] = []
    for _ in range(3):
        s["slow_request"].append(await d.send("GET", "/reports/daily", route="/reports/daily",
                                              scenario="slow_request"))
        await d.normal(2)
    s["jwt_expired"] = [await d.send("GET", "/me", route="/me", scenario="jwt_expired",
                                     headers={"Authorization": f"Bearer {make_token('ada', expired=True)}"})]
    await d.normal(5)
    s["relation_missing"] = [await d.send("GET", "/orders/archive?customer_id=2", route="/orders/archive",
                                          scenario="relation_missing")]
    await d.normal(5)
    s["unknown"] = []
    for sku, counted in (("4711", 7), ("5101", -2)):
        s["unknown"].append(await d.send("POST", "/inventory/reconcile", route="/inventory/reconcile",
                                         scenario="unknown", json={"sku": sku, "counted": counted}))
        await d.normal(3)
    await d.normal(10)
    return s


async def gunicorn_load(d: Driver) -> dict:
    """Normal traffic, one request that blocks a worker past --timeout, more traffic."""
    s: dict[str, list[Req]] = {}
    await d.normal(12, pause=0.05)
    s["worker_timeout"] = [await d.send("GET", "/debug/block-loop?seconds=8", route="/debug/block-loop",
                                        scenario="worker_timeout")]
    await asyncio.sleep(1.0)
    await d.normal(12, pause=0.05)
    return s
