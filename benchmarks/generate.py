"""Generate large, realistic log files for the logscan benchmarks.

Every line copies a shape from shared/reference/log-formats-and-messages.md
(uvicorn, gunicorn, Loguru text and JSON, Python logging, Alembic, PostgreSQL
stderr/csvlog/jsonlog, Docker json-file, ``docker compose logs``). Records are
pre-rendered once into pools of ``str.format`` templates, one pool per regime
(normal traffic, or an incident storm such as a deadlock burst); writing picks
templates at random and fills only the per-record slots (timestamps that
advance with every record, request IDs, client ports), so gigabytes are written
in minutes. Stdlib only; output is deterministic for a given ``--seed``.

    python benchmarks/generate.py --size 200MB [--out benchmarks/data] [--seed 1] [--only compose ...] [--mix stress]

Two mixes (``--mix``): ``production`` (the default) is traffic as a healthy
service logs it: at most 2 % of records at warning or above, at most 3 % of
responses 4xx/5xx, slow statements and requests rare, incident storms about 1 %
of the time. ``stress`` is the heavy mix every earlier result was measured on
(errors, storms and slow requests 5-10x as often), kept to stress the analysis.
The rates each mix really produces are in benchmarks/RESULTS.md (issue 12).
"""

from __future__ import annotations

import argparse
import json
import keyword
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

# --------------------------------------------------------------------------- mix

#: How often the rare things happen, relative to the stress mix: warnings, errors, 4xx/5xx responses, slow
#: statements and requests, incident storms. 1.0 is the stress mix; `--mix production` sets PRODUCTION.
CALM = 1.0
PRODUCTION = 0.2


def rare(weight: float) -> float:
    """The weight of a warning/error/slow/4xx kind under the chosen mix."""
    return weight * CALM


# --------------------------------------------------------------------------- slots

Kind = Callable[[random.Random], str]
X = TypeVar("X")


def mapped(kinds: list[tuple[float, Callable[[random.Random], X]]], render: Callable[[random.Random, X], str],
           scale: float = 1.0) -> list[tuple[float, Kind]]:
    """Kinds whose output goes through ``render``, weights multiplied by ``scale``."""
    def one(f: Callable[[random.Random], X]) -> Kind:
        return lambda r: render(r, f(r))
    return [(w * scale, one(f)) for w, f in kinds]


def slot(name: str) -> str:
    """A placeholder filled per record at write time."""
    return f"\u27e8{name}\u27e9"


D, T, MS, US, RID, PORT, SX, NS, EL, ELS, EP = map(
    slot, ("d", "t", "ms", "us", "rid", "port", "sx", "ns", "el", "els", "ep")
)
TS_LOGURU = f"{D} {T}.{MS}"  # Loguru default: local time (UTC in our containers), ms
TS_PG = f"{D} {T}.{MS} UTC"  # PostgreSQL %m
TS_PY = f"{D} {T},{MS}"  # logging's default asctime
TS_ISO = f"{D}T{T}.{US}Z"  # structlog TimeStamper(fmt="iso", utc=True)
SLOT_WIDTH = {"d": 10, "t": 8, "ms": 3, "us": 6, "rid": 32, "port": 5, "sx": 8}
_SLOT_RE = re.compile("\u27e8(\\w+)\u27e9")
_NUMERIC_SLOT_RE = re.compile('"(\u27e8(?:ep|els)\u27e9)"')


def template(text: str) -> str:
    """Turn raw text with slots into a ``str.format`` template."""
    return _SLOT_RE.sub(r"{\1}", text.replace("{", "{{").replace("}", "}}"))


def rendered_len(text: str) -> int:
    """UTF-8 length of ``text`` once its fixed-width slots are filled."""
    return len(_SLOT_RE.sub(lambda m: "x" * SLOT_WIDTH[m[1]], text).encode())


def hexaddr(r: random.Random) -> str:
    return f"0x7f{r.randrange(0x1000000000):010x}"


# --------------------------------------------------------------------------- HTTP traffic

PHRASE = {
    200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
    401: "Unauthorized", 404: "Not Found", 409: "Conflict",
    422: "Unprocessable Entity", 500: "Internal Server Error",  # Python 3.11 wording
}
ROUTES: list[tuple[int, str, str, dict[int, int]]] = [
    (180, "GET", "/health", {200: 1}),
    (40, "GET", "/metrics", {200: 1}),
    (90, "GET", "/api/v1/users/me", {200: 95, 401: 5}),
    (90, "GET", "/api/v1/orders?limit={lim}&offset={off}", {200: 98, 422: 2}),
    (110, "GET", "/api/v1/orders/{id}", {200: 93, 404: 7}),
    (50, "POST", "/api/v1/orders", {201: 88, 422: 10, 409: 2}),
    (25, "PATCH", "/api/v1/orders/{id}", {200: 85, 404: 5, 422: 10}),
    (8, "DELETE", "/api/v1/orders/{id}", {204: 90, 404: 10}),
    (90, "GET", "/api/v1/products?category={cat}&page={page}", {200: 1}),
    (70, "GET", "/api/v1/products/{id}", {200: 92, 304: 4, 404: 4}),
    (35, "POST", "/api/v1/auth/login", {200: 82, 401: 15, 422: 3}),
    (25, "POST", "/api/v1/auth/refresh", {200: 90, 401: 10}),
    (30, "GET", "/api/v1/search?q={q}", {200: 96, 422: 4}),
    (8, "POST", "/api/v1/webhooks/stripe", {200: 97, 400: 3}),
    (6, "GET", "/api/v1/reports/sales?from=2026-11-01&to=2026-11-{day}", {200: 1}),
    (4, "GET", "/favicon.ico", {404: 1}),
    (3, "GET", "/openapi.json", {200: 1}),
    (2, "GET", "/.env", {404: 1}),
    (2, "GET", "/wp-login.php", {404: 1}),
]
WORDS = ["shoes", "red%20dress", "laptop", "usb-c", "coffee", "desk+lamp", "gift", "sale", "wireless%20mouse"]
CATEGORIES = ["electronics", "books", "garden", "toys", "fashion", "home"]
CLIENT_IPS = ["172.18.0.1"] * 6 + ["172.18.0.7", "10.0.3.18", "10.0.3.22", "192.168.10.41", "127.0.0.1"]
GET_ORDER, CREATE_ORDER, SLOW_ROUTES = 4, 5, (3, 12, 14)  # indexes in ROUTES


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int
    client: str
    ms: float

    def access(self, phrase: bool = True) -> str:
        """uvicorn's access message (``phrase=False``: un-decorated, as routed through gunicorn)."""
        tail = f" {PHRASE[self.status]}" if phrase else ""
        return f'{self.client} - "{self.method} {self.path} HTTP/1.1" {self.status}{tail}'


def request(r: random.Random, status: int | None = None, route: int | None = None) -> Request:
    _, method, path, statuses = ROUTES[route] if route is not None else r.choices(ROUTES, [w[0] for w in ROUTES])[0]
    for key, value in (("{id}", r.randint(1, 99999)), ("{lim}", r.choice((20, 50, 100))), ("{off}", r.randrange(0, 2000, 50)),
                       ("{cat}", r.choice(CATEGORIES)), ("{page}", r.randint(1, 40)), ("{q}", r.choice(WORDS)),
                       ("{day}", f"{r.randint(2, 28):02d}")):
        path = path.replace(key, str(value))
    if status is None:
        status = r.choices(list(statuses), [w if s < 400 else rare(w) for s, w in statuses.items()])[0]
    ms = round(r.lognormvariate(2.8, 0.8), 2)
    return Request(method, path, status, f"{r.choice(CLIENT_IPS)}:{PORT}", ms)


# --------------------------------------------------------------------------- tracebacks

SP = "/usr/local/lib/python3.11/site-packages"
SA = f"{SP}/sqlalchemy"
_IDENT_RE = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Frame:
    file: str
    line: int
    func: str
    code: str | None  # None for compiled (Cython) frames, which show no source line

    def plain(self) -> list[str]:
        """CPython 3.11 layout, with ``^^^`` markers under a sub-expression."""
        out = [f'  File "{self.file}", line {self.line}, in {self.func}']
        if self.code is not None:
            out.append(f"    {self.code}")
            m = re.match(r"(?:return |raise |[\w.: \[\]]+ = )(?=.*\()(?!.* from )", self.code)
            if m:
                out.append(" " * (4 + m.end()) + "^" * (len(self.code) - m.end()))
        return out

    def loguru(self, r: random.Random, caught: bool) -> list[str]:
        """Loguru ``backtrace=True, diagnose=True`` layout: ``> File`` marker and ``│ └`` value lines."""
        out = [f'{"> " if caught else "  "}File "{self.file}", line {self.line}, in {self.func}']
        if self.code is None:
            return out
        out.append(f"    {self.code}")
        code = re.sub(r"\"[^\"]*\"|'[^']*'", lambda s: " " * len(s[0]), self.code.split("  #")[0])
        target = re.match(r"[\w., \[\]:]+ = ", code)  # assignment targets have no value yet
        names: dict[str, int] = {}
        for m in _IDENT_RE.finditer(code, target.end() if target else 0):
            if not keyword.iskeyword(m[0]) and m[0] not in names and len(names) < 4:
                names[m[0]] = m.start()
        cols = list(names.items())
        for k in range(len(cols) - 1, -1, -1):
            row = [" "] * (cols[k][1] + 1)
            for _, col in cols[:k]:
                row[col] = "│"
            row[cols[k][1]] = "└"
            out.append("    " + "".join(row) + " " + value_repr(r, cols[k][0], self.file))
        return out


def value_repr(r: random.Random, name: str, file: str) -> str:
    addr = hexaddr(r)
    module = file.removeprefix(SP + "/").removeprefix("/app/").removesuffix(".py").replace("/", ".")
    known = {
        "self": f"<{module}.{module.rsplit('.', 1)[-1].title().replace('_', '')} object at {addr}>",
        "scope": "{'type': 'http', 'asgi': {'version': '3.0', 'spec_version': '2.4'}, 'http_version': '1.1', "
                 "'server': ('172.18.0.3', 8000), 'client': ('172.18.0.1', 51234), 'scheme': 'http', 'method...",
        "receive": "<bound method RequestResponseCycle.receive of "
                   f"<uvicorn.protocols.http.httptools_impl.RequestResponseCycle object at {addr}>>",
        "send": f"<function ServerErrorMiddleware.__call__.<locals>._send at {addr}>",
        "request": f"<starlette.requests.Request object at {addr}>",
        "call_next": f"<function BaseHTTPMiddleware.__call__.<locals>.call_next at {addr}>",
        "session": f"<sqlalchemy.ext.asyncio.session.AsyncSession object at {addr}>",
        "order": f"<Order id={r.randint(1, 99999)} status='pending'>",
        "order_id": str(r.randint(1, 99999)),
        "stmt": f"<sqlalchemy.sql.selectable.Select object at {addr}>",
        "sys": "<module 'sys' (built-in)>",
    }
    return known.get(name, f"<function {name} at {addr}>")


def frames(spec: str) -> list[Frame]:
    """Parse ``file|line|func|code`` rows (``~`` = site-packages, ``@`` = sqlalchemy, no code: compiled)."""
    out = []
    for row in spec.strip().splitlines():
        file, line, func, *code = row.strip().split("|", 3)
        out.append(Frame(file.replace("~", SP).replace("@", SA), int(line), func, code[0] if code else None))
    return out


ASGI_STACK = frames("""
~/uvicorn/protocols/http/httptools_impl.py|409|run_asgi|result = await app(  # type: ignore[func-returns-value]
~/uvicorn/middleware/proxy_headers.py|60|__call__|return await self.app(scope, receive, send)
~/fastapi/applications.py|1054|__call__|await super().__call__(scope, receive, send)
~/starlette/applications.py|113|__call__|await self.middleware_stack(scope, receive, send)
~/starlette/middleware/errors.py|187|__call__|raise exc
~/starlette/middleware/errors.py|165|__call__|await self.app(scope, receive, _send)
~/starlette/middleware/base.py|185|__call__|with collapse_excgroups():
~/starlette/middleware/base.py|187|__call__|response = await self.dispatch_func(request, call_next)
/app/app/middleware.py|34|log_requests|response = await call_next(request)
~/starlette/middleware/base.py|163|call_next|raise app_exc
~/starlette/middleware/base.py|149|coro|await self.app(scope, receive_or_disconnect, send_no_error)
~/starlette/middleware/exceptions.py|62|__call__|await wrap_app_handling_exceptions(self.app, conn)(scope, receive, send)
~/starlette/_exception_handler.py|53|wrapped_app|raise exc
~/starlette/_exception_handler.py|42|wrapped_app|await app(scope, receive, sender)
~/starlette/routing.py|715|__call__|await self.middleware_stack(scope, receive, send)
~/starlette/routing.py|735|app|await route.handle(scope, receive, send)
~/starlette/routing.py|288|handle|await self.app(scope, receive, send)
~/starlette/routing.py|76|app|await wrap_app_handling_exceptions(app, request)(scope, receive, send)
~/starlette/routing.py|73|app|response = await f(request)
~/fastapi/routing.py|301|app|raw_response = await run_endpoint_function(
~/fastapi/routing.py|212|run_endpoint_function|return await dependant.call(**values)
""")
LOGURU_OUTER = frames("""
/usr/local/bin/uvicorn|8|<module>|sys.exit(main())
/usr/local/lib/python3.11/asyncio/runners.py|118|run|return self._loop.run_until_complete(task)
/usr/local/lib/python3.11/asyncio/base_events.py|640|run_until_complete|self.run_forever()
/usr/local/lib/python3.11/asyncio/base_events.py|1922|_run_once|handle._run()
/usr/local/lib/python3.11/asyncio/events.py|80|_run|self._context.run(self._callback, *self._args)
""")
LOGURU_CATCH = 8  # index in ASGI_STACK of the middleware frame that calls logger.exception
SA_EXECUTE = frames("""
@/ext/asyncio/session.py|461|execute|result = await greenlet_spawn(
@/util/_concurrency_py3k.py|201|greenlet_spawn|result = context.throw(*sys.exc_info())
@/orm/session.py|2362|execute|return self._execute_internal(
@/orm/context.py|305|orm_execute_statement|result = conn.execute(
@/engine/base.py|1418|execute|return meth(
@/engine/base.py|1640|_execute_clauseelement|ret = self._execute_context(
@/engine/base.py|1846|_execute_context|return self._exec_single_context(
@/engine/base.py|1986|_exec_single_context|self._handle_dbapi_exception(
@/engine/base.py|2355|_handle_dbapi_exception|raise sqlalchemy_exception.with_traceback(exc_info[2]) from e
@/engine/base.py|1967|_exec_single_context|self.dialect.do_execute(
@/engine/default.py|924|do_execute|cursor.execute(statement, parameters)
@/dialects/postgresql/asyncpg.py|572|execute|self._adapt_connection.await_(
@/util/_concurrency_py3k.py|132|await_only|return current.driver.switch(awaitable)  # type: ignore[no-any-return]
@/util/_concurrency_py3k.py|196|greenlet_spawn|value = await result
@/dialects/postgresql/asyncpg.py|550|_prepare_and_execute|self._handle_exception(error)
@/dialects/postgresql/asyncpg.py|501|_handle_exception|self._adapt_connection._handle_exception(error)
@/dialects/postgresql/asyncpg.py|784|_handle_exception|raise translated_error from error
""")
ASYNCPG_EXECUTE = frames("""
@/dialects/postgresql/asyncpg.py|526|_prepare_and_execute|self._rows = deque(await prepared_stmt.fetch(*parameters))
~/asyncpg/prepared_stmt.py|176|fetch|data = await self.__bind_execute(args, 0, timeout)
~/asyncpg/prepared_stmt.py|241|__bind_execute|data, status, _ = await self.__do_execute(
~/asyncpg/prepared_stmt.py|230|__do_execute|return await executor(protocol)
asyncpg/protocol/protocol.pyx|207|bind_execute
""")
SA_CONNECT = frames("""
@/ext/asyncio/session.py|461|execute|result = await greenlet_spawn(
@/orm/session.py|2247|_execute_internal|conn = self._connection_for_bind(bind)
@/engine/base.py|146|__init__|self._dbapi_connection = engine.raw_connection()
@/pool/base.py|449|connect|return _ConnectionFairy._checkout(self)
@/pool/base.py|1263|_checkout|fairy = _ConnectionRecord.checkout(pool)
@/pool/base.py|712|checkout|rec = pool._do_get()
""")
ASYNCPG_CONNECT = frames("""
@/pool/impl.py|175|_do_get|return self._create_connection()
@/engine/create.py|643|connect|return dialect.connect(*cargs, **cparams)
@/dialects/postgresql/asyncpg.py|1125|connect|await_only(creator_fn(*arg, **kw)),
~/asyncpg/connection.py|2329|connect|return await connect_utils._connect(
~/asyncpg/connect_utils.py|1017|_connect|conn = await _connect_addr(
~/asyncpg/connect_utils.py|883|__connect_addr|await connected
""")
SA_LAZYLOAD = frames("""
~/fastapi/encoders.py|254|jsonable_encoder|return jsonable_encoder(
@/orm/attributes.py|566|__get__|return self.impl.get(state, dict_)  # type: ignore[no-any-return]
@/orm/attributes.py|1086|get|value = self._fire_loader_callables(state, key, passive)
@/orm/attributes.py|1121|_fire_loader_callables|return self.callable_(state, passive)
@/orm/strategies.py|922|_load_for_state|return self._emit_lazyload(
@/orm/strategies.py|1085|_emit_lazyload|result = session.execute(
@/engine/base.py|1418|execute|return meth(
@/engine/default.py|924|do_execute|cursor.execute(statement, parameters)
@/dialects/postgresql/asyncpg.py|572|execute|self._adapt_connection.await_(
@/util/_concurrency_py3k.py|123|await_only|raise exc.MissingGreenlet(
""")
BG = "(Background on this error at: https://sqlalche.me/e/20/{})"
SQL_UPDATE = "[SQL: UPDATE orders SET status=$1::VARCHAR, updated_at=now() WHERE orders.id = $2::INTEGER]"


def deadlock_detail(r: random.Random) -> tuple[int, int, int, int]:
    a, b = r.sample(range(40, 30000), 2)
    tx = r.randint(100000, 9000000)
    return a, b, tx, tx + 1


@dataclass(frozen=True)
class Exc:
    """One chained exception: sections are (frames, ``Type: message`` text), cause first."""

    sections: list[tuple[list[Frame], str]]
    handler: list[Frame]  # the app's own frames, between the framework stack and the library frames


def api_exception(r: random.Random, kind: str) -> Exc:
    oid = r.randint(1, 99999)
    orders = Frame("/app/app/api/orders.py", 48, "get_order", "order = await orders_service.get(session, order_id)")
    svc = Frame("/app/app/services/orders.py", 61, "get", "result = await session.execute(stmt)")
    if kind == "greenlet":
        return Exc([(SA_LAZYLOAD, "sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call "
                     "await_only() here. Was IO attempted in an unexpected place? " + BG.format("xd2s"))],
                   [Frame("/app/app/api/orders.py", 57, "get_order", "return OrderOut.model_validate(order)")])
    if kind == "queuepool":
        return Exc([(SA_CONNECT + frames("@/pool/impl.py|157|_do_get|raise exc.TimeoutError("),
                     "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, connection timed "
                     "out, timeout 30.00 " + BG.format("3o7r"))], [orders, svc])
    if kind == "deadlock":
        a, b, ta, tb = deadlock_detail(r)
        msg = (f"deadlock detected\nDETAIL:  Process {a} waits for ShareLock on transaction {tb}; blocked by process {b}.\n"
               f"Process {b} waits for ShareLock on transaction {ta}; blocked by process {a}.\n"
               "HINT:  See server log for query details.")
        cls = "<class 'asyncpg.exceptions.DeadlockDetectedError'>"
        return Exc([(ASYNCPG_EXECUTE, f"asyncpg.exceptions.DeadlockDetectedError: {msg}"),
                    (SA_EXECUTE[9:], f"sqlalchemy.dialects.postgresql.asyncpg.AsyncAdapt_asyncpg_dbapi.Error: {cls}: {msg}"),
                    (SA_EXECUTE, f"sqlalchemy.exc.DBAPIError: (sqlalchemy.dialects.postgresql.asyncpg.Error) {cls}: {msg}\n"
                                 f"{SQL_UPDATE}\n[parameters: ('shipped', {oid})]\n" + BG.format("dbapi"))],
                   [Frame("/app/app/api/orders.py", 92, "update_order", "await orders_service.set_status(session, order_id, body.status)"),
                    Frame("/app/app/services/orders.py", 118, "set_status", "await session.execute(stmt)")])
    if kind == "too_many_clients":
        return Exc([(SA_CONNECT + ASYNCPG_CONNECT, "asyncpg.exceptions.TooManyConnectionsError: sorry, too many clients already")],
                   [orders, svc])
    if kind == "timeout":
        cls = "<class 'asyncpg.exceptions.QueryCanceledError'>"
        return Exc([(SA_EXECUTE, f"sqlalchemy.exc.DBAPIError: (sqlalchemy.dialects.postgresql.asyncpg.Error) {cls}: canceling "
                                 "statement due to statement timeout\n[SQL: SELECT date_trunc($1::VARCHAR, orders.created_at) AS "
                                 "day, sum(orders.total) AS revenue \nFROM orders GROUP BY date_trunc($1::VARCHAR, orders.created_at)]\n"
                                 "[parameters: ('day',)]\n" + BG.format("dbapi"))],
                   [Frame("/app/app/api/reports.py", 33, "sales_report", "rows = await reports_service.sales(session, period)")])
    if kind == "unique":
        email = f"user{r.randint(1, 9999)}@example.com"
        return Exc([(SA_EXECUTE, "sqlalchemy.exc.IntegrityError: (sqlalchemy.dialects.postgresql.asyncpg.IntegrityError) "
                                 "<class 'asyncpg.exceptions.UniqueViolationError'>: duplicate key value violates unique "
                                 f'constraint "users_email_key"\nDETAIL:  Key (email)=({email}) already exists.\n'
                                 "[SQL: INSERT INTO users (email, name, created_at) VALUES ($1::VARCHAR, $2::VARCHAR, now()) "
                                 f"RETURNING users.id]\n[parameters: ('{email}', 'Jane Doe')]\n" + BG.format("gkpj"))],
                   [Frame("/app/app/api/users.py", 27, "register", "user = await users_service.create(session, body)")])
    if kind == "closed":
        return Exc([(SA_EXECUTE, "sqlalchemy.exc.InterfaceError: (sqlalchemy.dialects.postgresql.asyncpg.InterfaceError) "
                                 "<class 'asyncpg.exceptions._base.InterfaceError'>: connection is closed\n[SQL: SELECT users.id, "
                                 "users.email, users.name \nFROM users \nWHERE users.id = $1::INTEGER]\n"
                                 f"[parameters: ({oid},)]\n" + BG.format("rvf5"))],
                   [Frame("/app/app/deps.py", 41, "current_user", "user = await session.get(User, token.sub)")])
    unknown = {
        "keyerror": ([Frame("/app/app/services/billing.py", 77, "invoice_for", 'tenant = ctx["tenant_id"]')], "KeyError: 'tenant_id'"),
        "attr": ([Frame("/app/app/services/notify.py", 19, "notify_owner", "await mailer.send(order.owner.email, tpl)")],
                 "AttributeError: 'NoneType' object has no attribute 'email'"),
        "typeerror": ([Frame("/app/app/services/cart.py", 88, "total", "return sum(i.price * i.qty for i in items) + shipping")],
                      "TypeError: unsupported operand type(s) for +: 'decimal.Decimal' and 'NoneType'"),
        "payment": ([Frame("/app/app/services/payments.py", 140, "charge",
                           'raise PaymentProviderError(f"provider returned {resp.status_code}")')],
                    "app.services.payments.PaymentProviderError: provider returned 502"),
        "redis": ([Frame("/app/app/cache.py", 30, "get", "raw = await self.redis.get(key)"),
                   Frame(f"{SP}/redis/asyncio/connection.py", 281, "connect", "raise ConnectionError(self._error_message(e))")],
                  "redis.exceptions.ConnectionError: Error 111 connecting to redis:6379. Connect call failed ('172.18.0.6', 6379)."),
    }[kind]
    return Exc([unknown], [Frame("/app/app/api/orders.py", 71, "create_order", "order = await orders_service.create(session, body, user)")])


API_ERRORS = ["greenlet", "queuepool", "deadlock", "too_many_clients", "timeout", "unique", "closed",
              "keyerror", "attr", "typeerror", "payment", "redis"]


EXC_GROUP = [  # Starlette 0.41 BaseHTTPMiddleware on anyio 4: the sub-exception is re-raised from the group
    "  + Exception Group Traceback (most recent call last):",
    *("  | " + line for f in frames("""
        ~/starlette/_utils.py|76|collapse_excgroups|yield
        ~/starlette/middleware/base.py|186|__call__|async with anyio.create_task_group() as task_group:
        ~/anyio/_backends/_asyncio.py|871|__aexit__|raise BaseExceptionGroup(""") for line in f.plain()),
    "  | ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)",
    "  +-+---------------- 1 ----------------",
]


def exc_group(exc: Exc) -> list[str]:
    """The exception-group block that precedes a plain traceback (``During handling ...``)."""
    sub = ["Traceback (most recent call last):"] + [line for f in exc.handler + exc.sections[-1][0] for line in f.plain()]
    sub += exc.sections[-1][1].split("\n")
    return EXC_GROUP + ["    | " + line for line in sub] + ["    +------------------------------------", "",
                                                             "During handling of the above exception, another exception occurred:", ""]


def plain_traceback(stack: list[Frame], exc: Exc, group: bool = False) -> str:
    # an exception with a __cause__ suppresses its context, so the group only shows for unchained ones
    out: list[str] = exc_group(exc) if group and len(exc.sections) == 1 else []
    for i, (fr, text) in enumerate(exc.sections):
        if i:
            out += ["", "The above exception was the direct cause of the following exception:", ""]
        last = i == len(exc.sections) - 1
        out.append("Traceback (most recent call last):")
        for f in (stack + exc.handler + fr if last else fr):
            out += f.plain()
        out.append(text)
    return "\n".join(out)


def loguru_traceback(r: random.Random, exc: Exc) -> str:
    out: list[str] = []
    for i, (fr, text) in enumerate(exc.sections):
        if i:
            out += ["", "", "The above exception was the direct cause of the following exception:", "", ""]
        last = i == len(exc.sections) - 1
        out += ["Traceback (most recent call last):", ""]
        stack = LOGURU_OUTER + ASGI_STACK + exc.handler + fr if last else fr
        for j, f in enumerate(stack):
            out += f.loguru(r, last and j == len(LOGURU_OUTER) + LOGURU_CATCH) + [""]
        out.append(text)
    return "\n".join(out)


# --------------------------------------------------------------------------- line makers

def uvicorn(level: str, msg: str) -> str:
    return f"{level + ':':<9} {msg}"


def loguru(level: str, where: str, msg: str) -> str:
    return f"{TS_LOGURU} | {level:<8} | {where} - {msg}"


def pylog(level: str, logger: str, msg: str) -> str:
    return f"{TS_PY} [{level}] {logger}: {msg}"


def alembic(level: str, logger: str, msg: str) -> str:
    return f"{level[:5]:<5} [{logger}] {msg}"


def gunicorn(pid: int, level: str, msg: str) -> str:
    return f"[{D} {T} +0000] [{pid}] [{level}] {msg}"


UVICORN_START = [uvicorn("INFO", m) for m in (
    "Started server process [1]", "Waiting for application startup.", "Application startup complete.",
    "Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)")]
UVICORN_STOP = [uvicorn("INFO", m) for m in (
    "Shutting down", "Waiting for application shutdown.", "Application shutdown complete.", "Finished server process [1]")]
REQ = f" | req_id={RID}"


def access_line(q: Request, intercept: bool) -> tuple[str, str]:
    """uvicorn's access line; ``intercept``: routed into Loguru by the usual InterceptHandler."""
    if intercept:
        return "stderr", loguru("INFO", "uvicorn.protocols.http.httptools_impl:send:496", q.access(phrase=False))
    return "stdout", uvicorn("INFO", q.access())


def api_request_lines(r: random.Random, q: Request, intercept: bool = False) -> list[tuple[str, str]]:
    """(stream, line) of one request: the access line plus the app's Loguru lines."""
    out = []
    if r.random() < 0.3:
        out.append(("stderr", loguru("DEBUG", "app.middleware:log_requests:29", f"--> {q.method} {q.path}{REQ}")))
    if q.path.startswith("/api/v1/orders") and q.method == "POST" and q.status == 201:
        out.append(("stderr", loguru("INFO", "app.services.orders:create:84",
                                     f"Order {r.randint(1, 99999)} created for user {r.randint(1, 9999)} "
                                     f"total={r.randint(5, 900)}.{r.randint(0, 99):02d} EUR{REQ}")))
    if q.status == 401:
        out.append(("stderr", loguru("WARNING", "app.deps:current_user:38", f"Invalid token: Signature has expired{REQ}")))
    out.append(access_line(q, intercept))
    if not q.path.startswith(("/health", "/metrics")):
        out.append(("stderr", loguru("INFO", "app.middleware:log_requests:41",
                                     f"{q.method} {q.path} {q.status} {q.ms:.2f}ms{REQ}")))
    return out


def api_slow_lines(r: random.Random, intercept: bool = False) -> list[tuple[str, str]]:
    q = request(r, route=r.choice(SLOW_ROUTES))
    ms = round(r.uniform(2500, 31000), 1)
    return [("stderr", loguru("WARNING", "app.middleware:log_requests:45", f"Slow request: {q.method} {q.path} took {ms}ms{REQ}")),
            access_line(q, intercept)]


def api_error_lines(r: random.Random, kind: str, loguru_style: bool | None = None) -> list[tuple[str, str]]:
    """An unhandled exception: Loguru's diagnose traceback (then intercepted access line) or uvicorn's plain one."""
    exc = api_exception(r, kind)
    q = request(r, status=500, route=GET_ORDER if kind == "greenlet" else None)
    if loguru_style if loguru_style is not None else r.random() < 0.3:
        err = loguru("ERROR", "app.middleware:log_requests:36", f"Unhandled error on {q.method} {q.path}{REQ}")
        err += "\n" + loguru_traceback(r, exc)
        return [("stderr", err), access_line(q, bool(loguru_style))]
    err = uvicorn("ERROR", "Exception in ASGI application") + "\n" + plain_traceback(ASGI_STACK, exc, r.random() < 0.3)
    return [("stderr", err), access_line(q, False)]


def api_big_payload(r: random.Random) -> list[tuple[str, str]]:
    """A Loguru line over 16 KiB (a logged webhook payload): Docker splits it into partial entries."""
    items = ",".join(f'{{"id":"si_{r.randrange(16**14):014x}","price":{r.randint(100, 99999)},"qty":{r.randint(1, 9)}}}'
                     for _ in range(r.randint(250, 700)))
    return [("stderr", loguru("DEBUG", "app.api.webhooks:stripe_webhook:33",
                              f'Webhook payload: {{"type":"invoice.paid","data":{{"lines":[{items}]}}}}'))]


def lines_text(pairs: list[tuple[str, str]]) -> str:
    return "\n".join(line for _, line in pairs)


# --------------------------------------------------------------------------- uvicorn / gunicorn / loguru / python

def uvicorn_kinds() -> list[tuple[float, Kind]]:
    return [
        (90.0, lambda r: uvicorn("INFO", request(r).access())),
        (rare(0.3), lambda r: lines_text(api_error_lines(r, r.choice(API_ERRORS), loguru_style=False))),
        (0.3, lambda r: uvicorn("INFO", f'{r.choice(CLIENT_IPS)}:{PORT} - "WebSocket /ws/notifications" [accepted]')
                        + "\n" + uvicorn("INFO", "connection open")),
        (0.3, lambda r: uvicorn("INFO", "connection closed")),
        (rare(0.2), lambda r: uvicorn("WARNING", "Invalid HTTP request received.")),
        (rare(0.05), lambda r: uvicorn("ERROR", "ASGI callable returned without completing response.")),
        (0.02, lambda r: "\n".join(UVICORN_STOP + UVICORN_START)),
    ]


def burst_422(r: random.Random) -> str:
    """One record of a 422 storm (a client posting an outdated body schema)."""
    return uvicorn("INFO", request(r, status=422, route=CREATE_ORDER).access())


def worker_boot(pid: int) -> list[str]:
    return [f"Booting worker with pid: {pid}", f"Started server process [{pid}]", "Waiting for application startup.",
            "Application startup complete."]


def gunicorn_kinds() -> list[tuple[float, Kind]]:
    workers = [8, 9, 10, 11]

    def access(r: random.Random) -> str:
        return request(r).access(phrase=False)

    def error(r: random.Random) -> str:
        exc = api_exception(r, r.choice(API_ERRORS))
        return gunicorn(r.choice(workers), "ERROR", "Exception in ASGI application") + "\n" + plain_traceback(ASGI_STACK, exc)

    def timeout(r: random.Random) -> str:
        old, new = r.choice(workers), r.randint(12, 400)
        sig = r.choice(("SIGABRT!", "SIGKILL! Perhaps out of memory?"))  # gunicorn 23 logs both at ERROR
        return "\n".join([gunicorn(1, "CRITICAL", f"WORKER TIMEOUT (pid:{old})"),
                          gunicorn(1, "ERROR", f"Worker (pid:{old}) was sent {sig}"),
                          *(gunicorn(new, "INFO", m) for m in worker_boot(new))])

    return [
        (92.0, access),
        (rare(0.3), error),
        (rare(0.1), timeout),
        (rare(0.2), lambda r: gunicorn(r.choice(workers), "WARNING", "Invalid HTTP request received.")),
    ]


GUNICORN_HEAD = "\n".join([gunicorn(1, "INFO", m) for m in (
    "Starting gunicorn 23.0.0", "Listening at: http://0.0.0.0:8000 (1)", "Using worker: uvicorn.workers.UvicornWorker")]
    + [gunicorn(p, "INFO", m) for p in (8, 9, 10, 11) for m in worker_boot(p)])


def loguru_kinds() -> list[tuple[float, Kind]]:
    """An app logging with Loguru's default sink, uvicorn's loggers intercepted into Loguru."""
    return [
        (88.0, lambda r: lines_text(api_request_lines(r, request(r), intercept=True))),
        (rare(2.0), lambda r: lines_text(api_slow_lines(r, intercept=True))),
        (1.0, lambda r: loguru("DEBUG", "app.cache:get:27", f"Cache miss for product:{r.randint(1, 99999)}{REQ}")),
        (rare(0.6), lambda r: loguru("WARNING", "app.services.payments:charge:131", f"Payment provider slow: {r.uniform(1.5, 9):.2f}s{REQ}")),
        (0.5, lambda r: loguru("SUCCESS", "app.tasks:rebuild_search_index:52",
                               f"Search index rebuilt: {r.randint(1000, 90000)} documents")),
        (rare(0.15), lambda r: lines_text(api_error_lines(r, r.choice(API_ERRORS), loguru_style=True))),
        (rare(0.02), lambda r: loguru("CRITICAL", "app.main:lifespan:58", "Database unreachable at startup, giving up after 5 attempts")),
        (0.01, lambda r: lines_text(api_big_payload(r))),
    ]


def worker_kinds() -> list[tuple[float, Kind]]:
    """A worker using logging.basicConfig(format="%(asctime)s [%(levelname)s] %(name)s: %(message)s")."""
    jobs = ["send_email", "sync_inventory", "generate_invoice", "cleanup_sessions", "recompute_stats"]

    def job(r: random.Random) -> str:
        jid, name = r.randint(10000, 999999), r.choice(jobs)
        out = [pylog("INFO", "app.worker", f"Processing job {jid} {name}")]
        if name == "send_email":
            out.append(pylog("INFO", "httpx", 'HTTP Request: POST https://api.sendgrid.com/v3/mail/send "HTTP/1.1 202 Accepted"'))
        out.append(pylog("INFO", "app.worker", f"Job {jid} {name} done in {r.lognormvariate(-1, 1):.3f}s"))
        return "\n".join(out)

    def scheduler(r: random.Random) -> str:
        name = r.choice(jobs)
        trig = f'{name} (trigger: interval[0:05:00], next run at: {D} {T} UTC)'
        return "\n".join((pylog("INFO", "apscheduler.executors.default", f'Running job "{trig}" (scheduled at {D} {T}+00:00)'),
                          pylog("INFO", "apscheduler.executors.default", f'Job "{trig}" executed successfully')))

    def failure(r: random.Random) -> str:
        jid, attempt = r.randint(10000, 999999), r.randint(1, 5)
        stack = frames("/app/app/worker.py|112|run_job|result = handler(**job.kwargs)")
        exc = r.choice([
            Exc([(frames("~/httpx/_models.py|761|raise_for_status|raise HTTPStatusError(message, request=request, response=self)"),
                  ("httpx.HTTPStatusError: Server error '503 Service Unavailable' for url 'https://api.sendgrid.com/v3/mail/send'\n"
                   "For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/503"))],
                [Frame("/app/app/tasks/email.py", 40, "send_email", "resp.raise_for_status()")]),
            Exc([(frames("""
                    @/engine/base.py|1967|_exec_single_context|self.dialect.do_execute(
                    @/engine/default.py|924|do_execute|cursor.execute(statement, parameters)"""),
                  "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) server closed the connection unexpectedly\n"
                  "\tThis probably means the server terminated abnormally\n\tbefore or while processing the request.\n\n"
                  "[SQL: SELECT id, sku, stock FROM products WHERE updated_at > %(since)s]\n"
                  "[parameters: {'since': '2026-11-22T00:00:00'}]\n" + BG.format("e3q8"))],
                [Frame("/app/app/tasks/inventory.py", 55, "sync_inventory", "rows = db.execute(text(SQL), {\"since\": since}).all()")]),
            Exc([(frames("~/redis/connection.py|353|connect|raise ConnectionError(self._error_message(e))"),
                  "redis.exceptions.ConnectionError: Error 111 connecting to redis:6379. Connection refused.")],
                [Frame("/app/app/tasks/sessions.py", 18, "cleanup_sessions", "for key in r.scan_iter(\"sess:*\"):")]),
        ])
        return (pylog("ERROR", "app.worker", f"Job {jid} failed (attempt {attempt}/5)") + "\n" + plain_traceback(stack, exc)
                + "\n" + pylog("WARNING", "app.worker", f"Job {jid} retrying in {30 * attempt}s"))

    def asyncio_task(r: random.Random) -> str:
        n = r.randint(10, 9999)
        return (pylog("ERROR", "asyncio", "Task exception was never retrieved") + "\n"
                f"future: <Task finished name='Task-{n}' coro=<send_email() done, defined at /app/app/tasks/email.py:21> "
                "exception=ConnectionError('Error 111 connecting to redis:6379. Connection refused.')>\n"
                + plain_traceback([], Exc([(frames("~/redis/connection.py|353|connect|raise ConnectionError(self._error_message(e))"),
                                           "redis.exceptions.ConnectionError: Error 111 connecting to redis:6379. Connection refused.")],
                                        [Frame("/app/app/tasks/email.py", 25, "send_email", "await cache.set(key, 1)")])))

    return [
        (80.0, job),
        (8.0, scheduler),
        (rare(1.5), lambda r: pylog("WARNING", "apscheduler.executors.default",
                              f'Run time of job "recompute_stats (trigger: interval[0:01:00], next run at: {D} {T} UTC)" '
                              f"was missed by 0:00:{r.randint(1, 59):02d}.{r.randrange(10**6):06d}")),
        (rare(1.0), failure),
        (rare(0.2), asyncio_task),
        (rare(0.3), lambda r: pylog("INFO", "sqlalchemy.pool.impl.QueuePool", f"Invalidate connection <connection object at {hexaddr(r)}; "
                              "dsn: 'user=app password=xxx dbname=app host=db', closed: 2> (reason: OperationalError:server closed "
                              "the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or "
                              "while processing the request.\n)")),
    ]


ALEMBIC_REVS = ["3f2a9c1b7d4e", "8b1e0c2d5a6f", "c41d7e9a0b13", "e7a2f5c8d901"]


def migrate_block(r: random.Random) -> str:
    """``alembic upgrade head`` (default alembic.ini logging: no timestamp, level cut to 5)."""
    out = [alembic("INFO", "alembic.runtime.migration", "Context impl PostgresqlImpl."),
           alembic("INFO", "alembic.runtime.migration", "Will assume transactional DDL.")]
    if r.random() < 0.1:
        msg = r.choice(["Can't locate revision identified by 'deadbeef'", ("Multiple head revisions are present for given argument "
                        "'head'; please specify a specific target revision, '<branchname>@head' to narrow to a specific head, "
                        "or 'heads' for all heads")])
        return "\n".join(out + [alembic("ERROR", "alembic.util.messaging", msg), f"FAILED: {msg}"])
    i = r.randrange(len(ALEMBIC_REVS) - 1)
    return "\n".join(out + [alembic("INFO", "alembic.runtime.migration",
                                    f"Running upgrade {ALEMBIC_REVS[i]} -> {ALEMBIC_REVS[i + 1]}, add orders.status index")])


# --------------------------------------------------------------------------- PostgreSQL

@dataclass
class PgEvent:
    pid: int
    severity: str
    message: str
    state: str = "00000"
    detail: str | None = None
    hint: str | None = None
    context: str | None = None
    statement: str | None = None
    cursor: int | None = None
    client: tuple[str, int] | None = ("172.18.0.4", 0)  # None: not a session (postmaster, checkpointer)
    user: str = "app"
    ps: str = "idle"
    backend: str = "client backend"
    txid: int = 0
    line_num: int = 1


def pg_stderr(ev: PgEvent) -> str:
    """``log_line_prefix = '%m [%p] '``; one line per field, embedded newlines become newline + TAB."""
    msg = ev.message + (f" at character {ev.cursor}" if ev.cursor else "")
    fields = [(ev.severity, msg), ("DETAIL", ev.detail), ("HINT", ev.hint), ("CONTEXT", ev.context), ("STATEMENT", ev.statement)]
    return "\n".join(f"{TS_PG} [{ev.pid}] {label}:  " + text.replace("\n", "\n\t") for label, text in fields if text is not None)


def _csv(value: str | None) -> str:
    return "" if value is None else '"' + value.replace('"', '""') + '"'


def pg_csv(ev: PgEvent) -> str:
    """The 26 csvlog columns of PostgreSQL 14+ (text quoted, NULLs empty)."""
    sess = ev.client is not None
    host = None if ev.client is None else f"{ev.client[0]}:{ev.client[1]}" if ev.client[1] else ev.client[0]
    cols = [TS_PG, _csv(ev.user if sess else None), _csv(ev.user if sess else None), str(ev.pid), _csv(host),
            f"{SX}.{ev.pid:x}", str(ev.line_num), _csv(ev.ps if sess else None), f"{D} {T} UTC",
            f"{ev.pid % 97 + 3}/{ev.line_num}" if sess else "", str(ev.txid), ev.severity, ev.state, _csv(ev.message),
            _csv(ev.detail), _csv(ev.hint), "", "", _csv(ev.context), _csv(ev.statement), str(ev.cursor or ""), "",
            _csv("" if ev.client or ev.backend == "postmaster" else None), _csv(ev.backend), "", "0"]
    return ",".join(cols)


def pg_json(ev: PgEvent) -> str:
    """jsonlog: keys only when set, in jsonlog.c's order."""
    sess = ev.client is not None
    obj: dict[str, object] = {"timestamp": TS_PG}
    if sess:
        obj |= {"user": ev.user, "dbname": ev.user}
    obj["pid"] = ev.pid
    if ev.client:
        obj["remote_host"] = ev.client[0]
        if ev.client[1]:
            obj["remote_port"] = ev.client[1]
    obj |= {"session_id": f"{SX}.{ev.pid:x}", "line_num": ev.line_num}
    if sess:
        obj["ps"] = ev.ps
    obj["session_start"] = f"{D} {T} UTC"
    if sess:
        obj["vxid"] = f"{ev.pid % 97 + 3}/{ev.line_num}"
    obj |= {"txid": ev.txid, "error_severity": ev.severity}
    if ev.state != "00000":
        obj["state_code"] = ev.state
    obj["message"] = ev.message
    for key, value in (("detail", ev.detail), ("hint", ev.hint), ("context", ev.context), ("statement", ev.statement),
                       ("cursor_position", ev.cursor)):
        if value is not None:
            obj[key] = value
    obj |= {"backend_type": ev.backend, "query_id": 0}
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


SQL_MULTILINE = [
    ("SELECT o.id, o.total, u.email\nFROM orders o\nJOIN users u ON u.id = o.user_id\nWHERE o.status = 'pending'\n"
     "  AND o.created_at < now() - interval '1 hour'\nORDER BY o.created_at\nLIMIT 500"),
    "UPDATE products p\nSET stock = s.qty, updated_at = now()\nFROM staging_stock s\nWHERE s.sku = p.sku",
    ("WITH daily AS (\n  SELECT date_trunc('day', created_at) AS day, sum(total) AS revenue\n  FROM orders\n"
     "  WHERE created_at >= now() - interval '90 days'\n  GROUP BY 1\n)\nSELECT * FROM daily ORDER BY day"),
]
SQL_EXTENDED = [
    (("SELECT orders.id, orders.user_id, orders.status, orders.total, orders.created_at \nFROM orders \n"
      "WHERE orders.user_id = $1::INTEGER ORDER BY orders.created_at DESC \n LIMIT $2::INTEGER OFFSET $3::INTEGER"), 3),
    ("SELECT products.id, products.sku, products.name, products.price \nFROM products \nWHERE products.category = $1::VARCHAR", 1),
    ("UPDATE orders SET status=$1::VARCHAR, updated_at=now() WHERE orders.id = $2::INTEGER", 2),
]


def slow_ms(r: random.Random, least: float, most: float) -> float:
    """A logged statement's duration (log_min_duration_statement = `least`): the stress mix spreads them up to
    `most`; production logs mostly statements just over the threshold, a few much slower."""
    if CALM >= 1 or r.random() < CALM:  # the stress mix draws exactly as it always did
        return r.uniform(least, most)
    return least + r.expovariate(1 / 60)


def pg_kinds() -> list[tuple[float, Callable[[random.Random], list[PgEvent]]]]:
    def pid(r: random.Random) -> int:
        return r.randint(60, 32000)

    def client(r: random.Random) -> tuple[str, int]:
        return (r.choice(("172.18.0.4", "172.18.0.5")), r.randint(32768, 60999))

    def connect(r: random.Random) -> list[PgEvent]:
        p, c = pid(r), client(r)
        return [PgEvent(p, "LOG", f"connection received: host={c[0]} port={c[1]}", client=c, user="[unknown]", ps=""),
                PgEvent(p, "LOG", 'connection authenticated: identity="app" method=scram-sha-256 '
                        "(/var/lib/postgresql/data/pg_hba.conf:128)", client=c, ps="authentication", line_num=2),
                PgEvent(p, "LOG", "connection authorized: user=app database=app", client=c, ps="authentication", line_num=3)]

    def disconnect(r: random.Random) -> list[PgEvent]:
        c = client(r)
        t = r.randint(0, 7200)
        return [PgEvent(pid(r), "LOG", f"disconnection: session time: {t // 3600}:{t // 60 % 60:02d}:{t % 60:02d}.{r.randint(0, 999):03d} "
                        f"user=app database=app host={c[0]} port={c[1]}", client=c, line_num=r.randint(5, 900))]

    def slow_extended(r: random.Random) -> list[PgEvent]:
        sql, nparams = r.choice(SQL_EXTENDED)
        params = ", ".join(f"${i + 1} = '{r.randint(1, 9999)}'" for i in range(nparams))
        return [PgEvent(pid(r), "LOG", f"duration: {slow_ms(r, 250, 6000):.3f} ms  execute __asyncpg_stmt_{r.randrange(4096):x}__: {sql}",
                        detail=f"parameters: {params}", client=client(r), ps="SELECT", line_num=r.randint(5, 900))]

    def slow_simple(r: random.Random) -> list[PgEvent]:
        return [PgEvent(pid(r), "LOG", f"duration: {slow_ms(r, 250, 30000):.3f} ms  statement: {r.choice(SQL_MULTILINE)}",
                        client=client(r), ps="SELECT", line_num=r.randint(5, 900))]

    def healthcheck(r: random.Random) -> list[PgEvent]:
        return [PgEvent(pid(r), "FATAL", 'role "root" does not exist', state="28000", client=("[local]", 0), user="root",
                        ps="authentication", line_num=1)]

    def checkpoint(r: random.Random) -> list[PgEvent]:
        b = r.randint(20, 40000)
        return [PgEvent(27, "LOG", "checkpoint starting: time", client=None, backend="checkpointer"),
                PgEvent(27, "LOG", f"checkpoint complete: wrote {b} buffers ({b / 1638.4:.1f}%); 0 WAL file(s) added, "
                        f"{r.randint(0, 3)} removed, 0 recycled; write={r.uniform(0.1, 260):.3f} s, sync={r.uniform(0, 0.5):.3f} s, "
                        f"total={r.uniform(0.2, 270):.3f} s; sync files={r.randint(3, 90)}, longest=0.0{r.randint(10, 99)} s, "
                        f"average=0.00{r.randint(1, 9)} s; distance={b * 8} kB, estimate={b * 9} kB; "
                        f"lsn=0/{r.randrange(16**8):X}, redo lsn=0/{r.randrange(16**8):X}", client=None, backend="checkpointer")]

    def query_error(r: random.Random) -> list[PgEvent]:
        p, c = pid(r), client(r)
        return [r.choice([
            PgEvent(p, "ERROR", 'duplicate key value violates unique constraint "users_email_key"', "23505",
                    detail=f"Key (email)=(user{r.randint(1, 9999)}@example.com) already exists.",
                    statement="INSERT INTO users (email, name, created_at) VALUES ($1::VARCHAR, $2::VARCHAR, now()) RETURNING users.id",
                    client=c, ps="INSERT"),
            PgEvent(p, "ERROR", "canceling statement due to statement timeout", "57014", client=c, ps="SELECT",
                    statement="SELECT date_trunc($1::VARCHAR, orders.created_at) AS day, sum(orders.total) AS revenue \n"
                              "FROM orders GROUP BY date_trunc($1::VARCHAR, orders.created_at)"),
            PgEvent(p, "ERROR", 'relation "order_archive" does not exist', "42P01", cursor=15, client=c, ps="SELECT",
                    statement="SELECT * FROM order_archive WHERE id = $1"),
            PgEvent(p, "ERROR", 'invalid input syntax for type integer: "abc"', "22P02", cursor=40, client=c, ps="SELECT",
                    statement="SELECT * FROM orders WHERE orders.id = 'abc'"),
            PgEvent(p, "LOG", "could not receive data from client: Connection reset by peer", "08006", client=c),
            PgEvent(p, "LOG", "unexpected EOF on client connection with an open transaction", "08P01", client=c,
                    ps="idle in transaction"),
            PgEvent(p, "FATAL", "terminating connection due to idle-in-transaction timeout", "25P03", client=c,
                    ps="idle in transaction"),
            PgEvent(p, "ERROR", "canceling statement due to user request", "57014", client=c, ps="SELECT",
                    statement="SELECT id, sku, stock FROM products WHERE updated_at > '2026-11-22T00:00:00'"),
        ])]

    return [
        (30.0, connect), (30.0, disconnect), (25.0, slow_extended), (rare(4.0), slow_simple), (rare(6.0), healthcheck),
        (1.0, checkpoint), (rare(1.5), query_error),
    ]


def pg_deadlock(r: random.Random) -> list[PgEvent]:
    a, b, ta, tb = deadlock_detail(r)
    oid1, oid2 = r.randint(1, 99999), r.randint(1, 99999)
    stmt = f"UPDATE orders SET status='shipped', updated_at=now() WHERE orders.id = {oid1}"
    return [PgEvent(a, "ERROR", "deadlock detected", "40P01", client=("172.18.0.4", r.randint(32768, 60999)), ps="UPDATE", txid=ta,
                    detail=f"Process {a} waits for ShareLock on transaction {tb}; blocked by process {b}.\n"
                           f"Process {b} waits for ShareLock on transaction {ta}; blocked by process {a}.\n"
                           f"Process {a}: {stmt}\nProcess {b}: UPDATE orders SET total=total+1 WHERE orders.id = {oid2}",
                    hint="See server log for query details.", context=f'while updating tuple (0,{r.randint(1, 90)}) in relation "orders"',
                    statement=stmt)]


def pg_too_many(r: random.Random) -> list[PgEvent]:
    msg = r.choice(["sorry, too many clients already"] * 4
                   + ["remaining connection slots are reserved for roles with the SUPERUSER attribute"])
    return [PgEvent(r.randint(60, 32000), "FATAL", msg, "53300", client=("172.18.0.4", r.randint(32768, 60999)), ps="startup")]


def pg_crash(r: random.Random) -> list[PgEvent]:
    """A backend SIGKILLed by the OOM killer, then crash recovery (PostgreSQL 16 wording)."""
    dead = r.randint(60, 32000)

    def pm(msg: str, detail: str | None = None) -> PgEvent:
        return PgEvent(1, "LOG", msg, detail=detail, client=None, backend="postmaster")
    return [pm(f"server process (PID {dead}) was terminated by signal 9: Killed", "Failed process was running: " + SQL_MULTILINE[2]),
            pm("terminating any other active server processes"), pm("all server processes terminated; reinitializing"),
            PgEvent(r.randint(60, 32000), "FATAL", "the database system is in recovery mode", "57P03", client=("172.18.0.4", 0),
                    ps="startup"),
            pm("database system was not properly shut down; automatic recovery in progress"),
            pm(f"redo starts at 0/{r.randrange(16**8):X}"),
            pm(f"redo done at 0/{r.randrange(16**8):X} system usage: CPU: user: 0.04 s, system: 0.03 s, elapsed: 0.08 s"),
            pm("checkpoint starting: end-of-recovery immediate wait"), pm("database system is ready to accept connections")]


PG_START = [PgEvent(1, "LOG", m, client=None, backend="postmaster") for m in (
    "starting PostgreSQL 16.4 (Debian 16.4-1.pgdg120+2) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit",
    'listening on IPv4 address "0.0.0.0", port 5432', 'listening on IPv6 address "::", port 5432',
    'listening on Unix socket "/var/run/postgresql/.s.PGSQL.5432"', f"database system was shut down at {D} {T} UTC",
    "database system is ready to accept connections")]


def pg_regimes(render: Callable[[PgEvent], str]) -> list[Regime]:
    def kinds(extra: tuple[float, Callable[[random.Random], list[PgEvent]]]) -> list[tuple[float, Kind]]:
        return mapped([*pg_kinds(), extra], lambda r, events: "\n".join(map(render, events)))
    return [Regime(1 - rare(0.05), kinds((rare(0.01), pg_crash))), Regime(rare(0.03), kinds((40.0, pg_too_many)), (200, 1500)),
            Regime(rare(0.02), kinds((8.0, pg_deadlock)), (200, 1500))]


# --------------------------------------------------------------------------- JSON formats

LEVEL_NO = {"DEBUG": (10, "🐞"), "INFO": (20, "ℹ️"), "SUCCESS": (25, "✅"), "WARNING": (30, "⚠️"),
            "ERROR": (40, "❌"), "CRITICAL": (50, "☠️")}


def loguru_json(r: random.Random, line: str) -> str:
    """Wrap one Loguru text record (first line + optional traceback) as serialize=True prints it."""
    first, _, tb = line.partition("\n")
    m = re.match(re.escape(TS_LOGURU) + r" \| (\w+) *\| ([\w.]+):([^:]+):(\d+) - (.*)", first)
    assert m, first
    level, name, func, lineno, message = m.groups()
    extra: dict[str, str] = {}
    if message.endswith(REQ):
        message, extra = message[: -len(REQ)], {"request_id": RID}
    exc = None
    if tb:
        etype, _, evalue = tb.rsplit("\n\n", 1)[-1].partition(": ")
        exc = {"type": etype.rsplit(".", 1)[-1], "value": evalue, "traceback": True}
    module = name.rsplit(".", 1)[-1]
    record = {
        "elapsed": {"repr": EL, "seconds": ELS}, "exception": exc, "extra": extra,
        "file": {"name": f"{module}.py", "path": f"{'/app' if name.startswith('app.') else SP}/{name.replace('.', '/')}.py"},
        "function": func,
        "level": {"icon": LEVEL_NO[level][1], "name": level, "no": LEVEL_NO[level][0]}, "line": int(lineno),
        "message": message, "module": module, "name": name, "process": {"id": 1, "name": "MainProcess"},
        "thread": {"id": 140230418925440, "name": "MainThread"}, "time": {"repr": f"{D} {T}.{US}+00:00", "timestamp": EP},
    }
    return _NUMERIC_SLOT_RE.sub(r"\1", json.dumps({"text": line + "\n", "record": record}, ensure_ascii=False))


def app_json_kinds() -> list[tuple[float, Kind]]:
    """Two services' JSON logs: structlog (JSONRenderer, contextvars first) and python-json-logger."""
    def structlog(r: random.Random) -> str:
        q = request(r)
        level = "info" if q.status < 400 else "warning"
        return json.dumps({"request_id": RID, "event": "request finished", "method": q.method, "path": q.path,
                           "status": q.status, "duration_ms": q.ms, "logger": "app.middleware", "level": level,
                           "timestamp": TS_ISO}, ensure_ascii=False)

    def structlog_error(r: random.Random) -> str:
        exc = api_exception(r, r.choice(API_ERRORS))
        return json.dumps({"request_id": RID, "event": "unhandled exception", "path": request(r).path, "logger": "app.middleware",
                           "level": "error", "timestamp": TS_ISO, "exception": plain_traceback(ASGI_STACK, exc)}, ensure_ascii=False)

    def jsonlogger(r: random.Random) -> str:
        jid = r.randint(10000, 999999)
        msg, level = r.choice([(f"Processing job {jid} send_email", "INFO"), (f"Job {jid} done in {r.uniform(0.01, 3):.3f}s", "INFO"),
                               (f"Job {jid} retrying in 30s", "WARNING")])
        return json.dumps({"asctime": TS_PY, "levelname": level, "name": "app.worker", "message": msg, "job_id": jid}, ensure_ascii=False)

    def jsonlogger_error(r: random.Random) -> str:
        exc = api_exception(r, "redis")
        return json.dumps({"asctime": TS_PY, "levelname": "ERROR", "name": "app.worker", "message": "Job failed",
                           "job_id": r.randint(10000, 999999), "exc_info": plain_traceback([], exc)}, ensure_ascii=False)

    return [(60.0, structlog), (0.5, structlog_error), (38.0, jsonlogger), (0.3, jsonlogger_error)]


_DOCKER_ESCAPES = {c: f"\\u{c:04x}" for c in range(0x20)} | {
    ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r",
    ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}
DOCKER_BUF = 16384


def docker_entries(pairs: list[tuple[str, str]]) -> str:
    """json-file entries (moby's encoder escaping); lines over 16 KiB become partial entries without ``\\n``."""
    out = []
    for stream, text in pairs:
        for line in text.split("\n"):
            parts = [line + "\n"]
            if rendered_len(line) + 1 > DOCKER_BUF:  # slots only in the head; the rest is ASCII
                cut = DOCKER_BUF - rendered_len(line[:60]) + 60
                body = line[cut:] + "\n"
                parts = [line[:cut]] + [body[i:i + DOCKER_BUF] for i in range(0, len(body), DOCKER_BUF)]
            out += [f'{{"log":"{p.translate(_DOCKER_ESCAPES)}","stream":"{stream}","time":"{D}T{T}{NS}Z"}}' for p in parts]
    return "\n".join(out)


def api_kinds() -> list[tuple[float, Callable[[random.Random], list[tuple[str, str]]]]]:
    """The api container's output (uvicorn + Loguru) as (stream, line) pairs."""
    return [
        (88.0, lambda r: api_request_lines(r, request(r))),
        (rare(2.0), api_slow_lines),
        (rare(0.25), lambda r: api_error_lines(r, r.choice(API_ERRORS))),
        (1.0, lambda r: [("stderr", loguru("DEBUG", "app.cache:get:27", f"Cache miss for product:{r.randint(1, 99999)}{REQ}"))]),
        (0.1, api_big_payload),
        (0.02, lambda r: [("stderr", line) for line in UVICORN_STOP + UVICORN_START]),
    ]


# --------------------------------------------------------------------------- docker compose

SERVICES = ["api-1", "db-1", "migrate-1", "worker-1"]
WIDTH = max(map(len, SERVICES)) + 1


def compose(service: str, text: str) -> str:
    return "\n".join(f"{service:<{WIDTH}} | {line}" for line in text.split("\n"))


def compose_kinds(incident: str | None) -> list[tuple[float, Kind]]:
    api, pg, worker = api_kinds(), pg_kinds(), worker_kinds()

    def from_api(f: Callable[[random.Random], list[tuple[str, str]]]) -> Kind:
        return lambda r: compose("api-1", lines_text(f(r)))

    def from_db(f: Callable[[random.Random], list[PgEvent]]) -> Kind:
        return lambda r: compose("db-1", "\n".join(map(pg_stderr, f(r))))

    def interrupted(r: random.Random) -> str:
        """An api traceback with a db line arriving in the middle (containers are read concurrently)."""
        lines = compose("api-1", lines_text(api_error_lines(r, r.choice(API_ERRORS)))).split("\n")
        cut = r.randrange(2, len(lines))
        db = PgEvent(r.randint(60, 32000), "LOG", "connection received: host=172.18.0.5 port=" + str(r.randint(32768, 60999)))
        return "\n".join(lines[:cut] + [compose("db-1", pg_stderr(db))] + lines[cut:])

    def deploy(r: random.Random) -> str:
        db_head = compose("db-1", "\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n"
                          + "\n".join(map(pg_stderr, PG_START)))
        return "\n".join([compose("api-1", "\n".join(UVICORN_STOP)), db_head, compose("migrate-1", migrate_block(r)),
                          compose("api-1", "\n".join(UVICORN_START))])

    kinds = mapped(api, lambda r, pairs: compose("api-1", lines_text(pairs)), 0.62)
    kinds += mapped(pg, lambda r, events: compose("db-1", "\n".join(map(pg_stderr, events))), 0.25)
    kinds += mapped(worker, lambda r, text: compose("worker-1", text), 0.12)
    kinds += [(rare(0.05), interrupted), (0.005, deploy)]
    storms: dict[str, list[tuple[float, Kind]]] = {
        "pool": [(2.0, from_api(lambda r: api_error_lines(r, "queuepool"))), (6.0, from_api(api_slow_lines)),
                 (4.0, from_db(pg_too_many)), (0.5, from_api(lambda r: api_error_lines(r, "too_many_clients")))],
        "deadlock": [(2.0, from_db(pg_deadlock)), (1.5, from_api(lambda r: api_error_lines(r, "deadlock")))],
        "422": [(15.0, lambda r: compose("api-1", burst_422(r)))],
        "greenlet": [(1.5, from_api(lambda r: api_error_lines(r, "greenlet")))],
        "crash": [(0.2, from_db(pg_crash)), (1.0, from_api(lambda r: api_error_lines(r, "closed")))],
    }
    return kinds + storms.get(incident or "", [])


# --------------------------------------------------------------------------- writer

@dataclass(frozen=True)
class Regime:
    """Traffic mix used for a run of ``batch`` consecutive records, chosen with probability ``weight``."""

    weight: float
    kinds: list[tuple[float, Kind]]
    batch: tuple[int, int] = (500, 3000)


@dataclass(frozen=True)
class Format:
    file: str
    regimes: list[Regime]
    head: Callable[[random.Random], str] = lambda r: ""
    step_ms: float = 20.0  # mean time between records
    docker: bool = False  # needs the ``ns`` slot
    loguru_json: bool = False  # needs the ``el``, ``els`` and ``ep`` slots


def single(kinds: list[tuple[float, Kind]]) -> list[Regime]:
    return [Regime(1.0, kinds)]


def build_formats() -> dict[str, Format]:
    def loguru_records(r: random.Random, text: str) -> str:
        """Split Loguru text into records (a record starts with a timestamp) and serialize each."""
        records = re.split(r"\n(?=\u27e8d\u27e9 )", text)
        return "\n".join(loguru_json(r, rec) for rec in records)

    return {
        "uvicorn": Format("uvicorn.log", [Regime(1 - rare(0.03), uvicorn_kinds()),
                                          Regime(rare(0.03), uvicorn_kinds() + [(15.0, burst_422)], (100, 600))],
                          lambda r: "\n".join(UVICORN_START)),
        "gunicorn": Format("gunicorn.log", single(gunicorn_kinds()), lambda r: GUNICORN_HEAD),
        "loguru": Format("loguru.log", single(loguru_kinds())),
        "loguru-json": Format("loguru.jsonl", single(mapped(loguru_kinds(), loguru_records)), loguru_json=True),
        "python": Format("python.log", single(worker_kinds() + [(0.2, migrate_block)]), migrate_block, step_ms=150.0),
        "postgres": Format("postgres.log", pg_regimes(pg_stderr), lambda r: "\n".join(map(pg_stderr, PG_START)), step_ms=60.0),
        "postgres-csv": Format("postgres.csv", pg_regimes(pg_csv), lambda r: "\n".join(map(pg_csv, PG_START)), step_ms=60.0),
        "postgres-json": Format("postgres.json", pg_regimes(pg_json), lambda r: "\n".join(map(pg_json, PG_START)), step_ms=60.0),
        "app-json": Format("app.json", single(app_json_kinds())),
        "docker-json": Format("docker-json.log", single(mapped(api_kinds(), lambda r, pairs: docker_entries(pairs))),
                              lambda r: docker_entries([("stderr", line) for line in UVICORN_START]), docker=True),
        "compose": Format("compose.log", [Regime(1 - rare(0.10), compose_kinds(None))] + [
            Regime(rare(w), compose_kinds(name), (300, 2000))
            for name, w in (("pool", 0.03), ("deadlock", 0.02), ("422", 0.02), ("greenlet", 0.02), ("crash", 0.01))],
            lambda r: compose("db-1", "\n".join(map(pg_stderr, PG_START))) + "\n" + compose("api-1", "\n".join(UVICORN_START)),
            step_ms=15.0),
    }


POOL_SIZE = 4000
START_US = 1_795_392_000 * 1_000_000  # 2026-11-23 00:00:00 UTC
RID_MUL = 0x9E3779B97F4A7C15F39CC0605CEDC835  # odd: n -> n*RID_MUL mod 2**128 is a bijection (unique IDs)


def build_pool(r: random.Random, regime: Regime) -> tuple[list[str], list[float]]:
    """Templates with cumulative weights: each kind gets a share of the pool, at least two entries."""
    total = sum(w for w, _ in regime.kinds)
    pool: list[str] = []
    cum: list[float] = []
    acc = 0.0
    for w, kind in regime.kinds:
        n = max(2, round(POOL_SIZE * w / total))
        for _ in range(n):
            pool.append(template(kind(r)))
            acc += w / n
            cum.append(acc)
    return pool, cum


def generate(fmt: Format, path: Path, size: int, seed: int, name: str) -> int:
    """Write ``fmt`` to ``path`` until it holds at least ``size`` bytes; return the byte count."""
    r = random.Random(f"{seed}:{name}")
    pools = [build_pool(r, reg) for reg in fmt.regimes]
    steps = [int(r.expovariate(1 / (fmt.step_ms * 1000))) for _ in range(8192)]
    now, n, last_sec = START_US, 0, -1
    vals: dict[str, str] = {}
    written = 0
    head = fmt.head(r)
    with path.open("wb") as f:
        while written < size:
            regime = r.choices(range(len(fmt.regimes)), [g.weight for g in fmt.regimes])[0]
            pool, cum = pools[regime]
            picks = r.choices(pool, cum_weights=cum, k=r.randint(*fmt.regimes[regime].batch))
            if head:
                picks.insert(0, template(head))
                head = ""
            chunks = []
            for tpl in picks:
                now += steps[n & 8191]
                sec, frac = divmod(now, 1_000_000)
                if sec != last_sec:
                    last_sec = sec
                    tm = time.gmtime(sec)
                    vals["d"], vals["t"], vals["sx"] = time.strftime("%Y-%m-%d", tm), time.strftime("%H:%M:%S", tm), f"{sec:x}"
                us = f"{frac:06d}"
                vals["us"], vals["ms"] = us, us[:3]
                vals["rid"] = f"{((n + 1) * RID_MUL + seed) & (2**128 - 1):032x}"
                vals["port"] = str(32768 + n * 7919 % 28000)
                if fmt.docker:
                    vals["ns"] = f".{us}{n % 1000:03d}".rstrip("0").rstrip(".")
                if fmt.loguru_json:
                    el = now - START_US
                    vals["el"], vals["els"], vals["ep"] = str(timedelta(microseconds=el)), repr(el / 1e6), repr(now / 1e6)
                n += 1
                chunks.append(tpl.format_map(vals))
                chunks.append("\n")
            data = "".join(chunks).encode()
            f.write(data)
            written += len(data)
    return written


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?", text.strip(), re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (e.g. 50MB, 2GB, 512MiB)")
    unit = (m[2] or "B").upper()
    base = 1024 if "I" in unit else 1000
    return int(float(m[1]) * base ** "BKMG".index(unit[0]))


def main() -> None:
    global CALM
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=parse_size, required=True, help="approximate size of each file (50MB, 2GB; KiB/MiB/GiB too)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "data", help="output folder (default: benchmarks/data)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mix", choices=("production", "stress"), default="production",
                    help="production: <=2%% of records warning or above, <=3%% of responses 4xx/5xx (default); "
                         "stress: the heavy mix (errors, storms, slow requests 5-10x as often)")
    names = list(build_formats())
    ap.add_argument("--only", nargs="+", choices=sorted(names), metavar="FORMAT", help=f"formats: {', '.join(names)}")
    args = ap.parse_args()
    CALM = PRODUCTION if args.mix == "production" else 1.0
    formats = build_formats()
    args.out.mkdir(parents=True, exist_ok=True)
    total_bytes, t_all = 0, time.perf_counter()
    for name in args.only or formats:
        fmt, t0 = formats[name], time.perf_counter()
        nbytes = generate(fmt, args.out / fmt.file, args.size, args.seed, name)
        dt = time.perf_counter() - t0
        total_bytes += nbytes
        print(f"{fmt.file:<16} {nbytes / 1e6:9.1f} MB  {dt:6.1f} s  {nbytes / 1e6 / dt:6.1f} MB/s", flush=True)
    dt = time.perf_counter() - t_all
    print(f"{'total':<16} {total_bytes / 1e6:9.1f} MB  {dt:6.1f} s  {total_bytes / 1e6 / dt:6.1f} MB/s")


if __name__ == "__main__":
    main()
