"""A FastAPI app traced by the real Elastic APM agent: its log records carry the agent's trace, transaction and
span IDs (`elasticapm_trace_id`, `elasticapm_transaction_id`... set by the agent's log-record factory).

`GET /promo/{code}` logs the lookup then raises KeyError for every code (uvicorn answers 500); `GET /checkout/{cart}`
logs a ZeroDivisionError with `log.exception` (exc_info) and answers 503; `GET /ok` logs and answers. The agent
runs with `disable_send` and `skip_server_info` (no APM Server: it records transactions, asks and sends
nothing).
"""
import logging

from elasticapm.contrib.starlette import ElasticAPM, make_apm_client
from fastapi import FastAPI
from fastapi.responses import JSONResponse

apm = make_apm_client({
    "SERVICE_NAME": "promo-api", "DISABLE_SEND": True, "CENTRAL_CONFIG": False, "CLOUD_PROVIDER": "none",
    "METRICS_INTERVAL": "0s", "SKIP_SERVER_INFO": True,
})
app = FastAPI()
app.add_middleware(ElasticAPM, client=apm)
log = logging.getLogger("promo")
PROMOS: dict[str, int] = {}


@app.get("/promo/{code}")
def promo(code: str) -> dict[str, int]:
    log.info("looking up promo code %s", code)
    return {"percent": PROMOS[code]}


@app.get("/checkout/{cart}")
def checkout(cart: int) -> JSONResponse:
    log.info("checking out cart %s", cart)
    try:
        share = 100 // (cart - cart)
    except ZeroDivisionError:
        log.exception("checkout failed for cart %s", cart)
        return JSONResponse({"error": "try again"}, status_code=503)
    return JSONResponse({"share": share})


@app.get("/ok")
def ok() -> dict[str, bool]:
    log.info("health check")
    return {"ok": True}
