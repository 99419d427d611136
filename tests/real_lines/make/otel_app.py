"""A FastAPI app instrumented with OpenTelemetry: its logs carry the trace ID of the request they were written in.

`GET /promo/{code}` logs the lookup then raises KeyError for every code; `GET /ok` logs and answers.
"""
import logging

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

trace.set_tracer_provider(TracerProvider(resource=Resource.create({"service.name": "promo-api"})))
app = FastAPI()
log = logging.getLogger("promo")
PROMOS: dict[str, int] = {}


@app.get("/promo/{code}")
def promo(code: str) -> dict[str, int]:
    log.info("looking up promo code %s", code)
    return {"percent": PROMOS[code]}


@app.get("/ok")
def ok() -> dict[str, bool]:
    log.info("health check")
    return {"ok": True}


FastAPIInstrumentor.instrument_app(app)
