"""Loguru configuration of the shop app.

``LOG_FORMAT=text`` (default): Loguru's default layout plus the request ID,
a common ``req_id=`` variant, written to stderr (Loguru's default sink).
``LOG_FORMAT=json``: Loguru's own ``serialize=True`` JSON, one object per line,
written to stdout.

Records emitted outside a request (startup, shutdown, background work) have no
``request_id`` in their context; ``logger.configure(extra=...)`` gives them
``-`` so the text format still renders.

uvicorn keeps its own default logging configuration (``INFO:     ...`` lines on
stderr, access lines on stdout); nothing here intercepts the stdlib loggers.
"""

import os
import sys

from loguru import logger

TEXT_FORMAT = (
    "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}"
    " | req_id={extra[request_id]}"
)


def setup_logging() -> None:
    mode = os.environ.get("LOG_FORMAT", "text")
    logger.remove()
    logger.configure(extra={"request_id": "-"})
    if mode == "json":
        logger.add(sys.stdout, level="INFO", serialize=True)
    else:
        logger.add(sys.stderr, level="INFO", format=TEXT_FORMAT)
