"""The three logging set-ups of the ledger API, chosen by ``LOG_STYLE``.

``json``   stdlib logging, python-json-logger's ``JsonFormatter`` on stdout,
           the request ID from asgi-correlation-id's ``CorrelationIdFilter``
           (the field is renamed ``request_id``). Under gunicorn, gunicorn
           keeps its own text error log on stderr (uvicorn.error goes there).
``text``   stdlib logging, a plain text format with the request ID in
           brackets; request lines read ``GET /reports/daily status=200 duration=1530ms``.
``loguru`` Loguru with the README's ``InterceptHandler`` recipe on the root
           logger and on uvicorn's loggers, and a customised format that
           inserts ``req_id={extra[request_id]}``.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys

from asgi_correlation_id import CorrelationIdFilter, correlation_id

STYLE = os.environ.get("LOG_STYLE", "json")

LOGURU_FORMAT = ("{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | req_id={extra[request_id]} | "
                 "{name}:{function}:{line} - {message}")


class InterceptHandler(logging.Handler):
    """Loguru README recipe: hand stdlib records to Loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        from loguru import logger
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def configure() -> None:
    if STYLE == "json":
        from pythonjsonlogger.json import JsonFormatter
        handler = logging.StreamHandler(sys.stdout)
        handler.addFilter(CorrelationIdFilter(uuid_length=36, default_value="-"))
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            rename_fields={"asctime": "timestamp", "levelname": "level", "correlation_id": "request_id"}))
        root = logging.getLogger()
        root.handlers = [handler]
        root.setLevel(logging.INFO)
    elif STYLE == "text":
        handler = logging.StreamHandler(sys.stdout)
        handler.addFilter(CorrelationIdFilter(uuid_length=36, default_value="-"))
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s"))
        root = logging.getLogger()
        root.handlers = [handler]
        root.setLevel(logging.INFO)
    elif STYLE == "loguru":
        from loguru import logger
        logger.remove()
        logger.configure(patcher=lambda r: r["extra"].update(request_id=correlation_id.get() or "-"))
        logger.add(sys.stderr, format=LOGURU_FORMAT, backtrace=False, diagnose=False)
        logging.basicConfig(handlers=[InterceptHandler()], level=logging.INFO, force=True)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
            lg = logging.getLogger(name)
            lg.handlers = [InterceptHandler()]
            lg.propagate = False
    else:
        raise SystemExit(f"unknown LOG_STYLE {STYLE!r}")
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
