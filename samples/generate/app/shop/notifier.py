"""Notification sender: stdlib logging with python-json-logger.

Renders e-mail texts for a fixed list of events (nothing is sent anywhere)
and logs with ``pythonjsonlogger.json.JsonFormatter`` to stderr (the
``logging.StreamHandler`` default). One template needs a field the event
lacks and fails with a real ``KeyError``.
"""

import logging
import os
import time

from pythonjsonlogger.json import JsonFormatter

handler = logging.StreamHandler()
handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                   rename_fields={"levelname": "level", "asctime": "time"}))
logging.basicConfig(level=logging.INFO, handlers=[handler])
log = logging.getLogger("shop.notifier")

TEMPLATES = {
    "order_paid": "Hello {name}, we received {amount} for order {order_id}.",
    "order_shipped": "Hello {name}, order {order_id} is on its way ({carrier}).",
}
EVENTS = [
    ("order_paid", {"name": "Ada", "amount": "12.99 EUR", "order_id": 1}),
    ("order_shipped", {"name": "Ada", "order_id": 2, "carrier": "DHL"}),
    ("order_paid", {"name": "Grace", "amount": "49.99 EUR", "order_id": 3}),
    ("order_shipped", {"name": "Edsger", "order_id": 4}),  # no carrier: KeyError
    ("order_paid", {"name": "Edsger", "amount": "15.99 EUR", "order_id": 4}),
    ("order_paid", {"name": "Grace", "amount": "3.49 EUR", "order_id": 5}),
]


def main(interval: float) -> None:
    log.info("notifier started", extra={"templates": len(TEMPLATES)})
    for kind, data in EVENTS:
        try:
            body = TEMPLATES[kind].format(**data)
            log.info("notification rendered", extra={"kind": kind, "order_id": data["order_id"], "chars": len(body)})
        except KeyError:
            log.exception("notification failed", extra={"kind": kind, "order_id": data["order_id"]})
        time.sleep(interval)
    log.warning("outbox drained, exiting", extra={"sent": len(EVENTS) - 1, "failed": 1})


if __name__ == "__main__":
    main(float(os.environ.get("NOTIFIER_INTERVAL", "3")))
