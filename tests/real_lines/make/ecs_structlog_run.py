"""Elastic's ECS formatter for structlog in a worker traced by the real Elastic APM agent (no server, no HTTP).

Usage: python ecs_structlog_run.py > FILE
structlog with the agent's `structlog_processor` (it writes `trace.id`, `transaction.id` and `span.id` of the
current transaction), `set_exc_info` and `format_exc_info` (the traceback of `log.exception`), then
`ecs_logging.StructlogFormatter()` (which nests the dotted keys and writes the level as `"log.level"`). The agent (`elasticapm.Client`, `disable_send`,
`skip_server_info`: it asks and sends nothing) opens one transaction per job, as a worker does by hand
(`begin_transaction`/`end_transaction`). Jobs: orders 1-4; order 3 raises KeyError, logged with
`log.exception`; a line before the first and after the last job is written outside any transaction.
"""
import logging

import ecs_logging
import elasticapm
import structlog
from elasticapm.handlers.structlog import structlog_processor

client = elasticapm.Client(service_name="order-worker", disable_send=True, skip_server_info=True,
                           central_config=False, cloud_provider="none", metrics_interval="0s")
structlog.configure(
    processors=[
        structlog_processor,
        structlog.dev.set_exc_info,
        structlog.processors.format_exc_info,
        ecs_logging.StructlogFormatter(),
    ],
    wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET),
    context_class=dict,
    logger_factory=structlog.PrintLoggerFactory(),
)
log = structlog.get_logger()
PRICES = {1: 10, 2: 20, 4: 40}

log.info("worker started")
for order in range(1, 5):
    client.begin_transaction("task")
    log.info("processing order", order_id=order)
    try:
        log.info("order priced", order_id=order, price=PRICES[order])
        outcome = "success"
    except KeyError:
        log.exception("order failed", order_id=order)
        outcome = "failure"
    client.end_transaction(f"process_order {order}", outcome)
log.info("worker stopped")
client.close()
