import structlog, sys
from structlog.processors import TimeStamper, add_log_level, JSONRenderer, KeyValueRenderer, LogfmtRenderer
def mk(r):
    return structlog.wrap_logger(structlog.PrintLogger(sys.stdout), processors=[add_log_level, TimeStamper(fmt="iso"), r])
kv = mk(KeyValueRenderer(key_order=["timestamp", "level", "event"]))
kv.info("request finished", method="GET", path="/reports/daily", status=200, duration_ms=1532.4, request_id="5d1e3f7a-2c4b-4e8a-9f10-6b7c8d9e0a12")
kv.error("request failed", method="POST", path="/orders", status=500, duration_ms=12.9, request_id="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
lf = mk(LogfmtRenderer(key_order=["timestamp", "level", "event"]))
lf.info("request finished", method="GET", path="/reports/daily", status=200, duration_ms=1532.4, request_id="5d1e3f7a-2c4b-4e8a-9f10-6b7c8d9e0a12")
lf.warning("request finished", method="POST", path="/orders", status=422, latency="0.004s", request_id="0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d")
js = mk(JSONRenderer())
js.info("request", http={"method": "GET", "target": "/reports/daily", "status_code": 200}, duration_ms=1530.2, correlation_id="aa11bb22-cc33-4d44-8e55-ff6600112233")
js.info("request", **{"http.method": "POST", "http.target": "/orders", "http.status_code": 422, "elapsed": 0.0042})
js.info("request", method="GET", url="/api/items?page=2", status=200, process_time=1.84, request_id="e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b")
