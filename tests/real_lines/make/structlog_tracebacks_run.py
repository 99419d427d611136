"""structlog's recommended production JSON: `dict_tracebacks` + `JSONRenderer`, for real exceptions.

Prints (stdout) a KeyError in a request handler, a chained `raise ... from`, an exception raised while
handling another, an ExceptionGroup, a deep recursion cut by `max_frames`, and SQLAlchemy's real QueuePool
timeout (sqlite file, pool_size=1, max_overflow=0, pool_timeout=0.1).
"""
import sys
import tempfile

import sqlalchemy
import structlog
from structlog.processors import ExceptionRenderer, ExceptionDictTransformer, JSONRenderer, TimeStamper, add_log_level

structlog.configure(
    processors=[structlog.contextvars.merge_contextvars, add_log_level, TimeStamper(fmt="iso"),
                ExceptionRenderer(ExceptionDictTransformer(max_frames=6)), JSONRenderer()],
    logger_factory=structlog.PrintLoggerFactory(sys.stdout))
log = structlog.get_logger("app")


def apply_promo(code: str) -> None:
    promos: dict[str, int] = {}
    promos[code] += 1


def load_user(user_id: int) -> None:
    try:
        int("not-a-number")
    except ValueError as exc:
        raise LookupError(f"user {user_id} not found") from exc


def close_cart() -> None:
    try:
        [][3]
    except IndexError:
        raise RuntimeError("cart already closed")


def depth(n: int) -> None:
    if n == 0:
        raise RecursionError("maximum recursion depth exceeded")
    depth(n - 1)


def fail_all() -> None:
    raise ExceptionGroup("2 tasks failed", [ValueError("bad sku"), TimeoutError("inventory timed out")])


for n, (path, call) in enumerate([("/promo", lambda: apply_promo("black-friday")), ("/users/7", lambda: load_user(7)),
                                  ("/cart/close", close_cart), ("/tree", lambda: depth(12)), ("/batch", fail_all)]):
    structlog.contextvars.bind_contextvars(request_id=f"req-{n}", path=path, method="GET")
    try:
        call()
    except Exception:
        log.exception("unhandled error")

with tempfile.NamedTemporaryFile(suffix=".db") as db:
    engine = sqlalchemy.create_engine(f"sqlite:///{db.name}", poolclass=sqlalchemy.pool.QueuePool,
                                      pool_size=1, max_overflow=0, pool_timeout=0.1)
    held = engine.connect()
    structlog.contextvars.bind_contextvars(request_id="req-pool", path="/orders", method="POST")
    try:
        engine.connect()
    except sqlalchemy.exc.TimeoutError:
        log.exception("unhandled error")
    held.close()
