"""The rates a generated data file really has: records at warning or above, responses 4xx/5xx, and what
logscan's screen keeps (analyzer.ingest.screen). Read with logscan's own pipeline, every record normalized.

    python benchmarks/rates.py benchmarks/data/*.log
"""

from __future__ import annotations

import sys

import polars as pl

from analyzer.analysis.signatures import load_signatures
from analyzer.diagnostics import Diagnostics
from analyzer.ingest.pipeline import Pipeline
from analyzer.ingest.screen import Screen
from analyzer.ingest.sources import Input


def rates(path: str) -> dict[str, float]:
    events = pl.concat(list(Pipeline(Diagnostics()).run([Input(path)])))
    kept = sum(batch.height for batch in Pipeline(Diagnostics(), screen=Screen(load_signatures())).run([Input(path)]))
    responses = events.filter(pl.col("http_status").is_not_null() & pl.col("request_id").is_null()
                              | pl.col("format").is_in(["uvicorn", "gunicorn_access"]) & pl.col("http_status").is_not_null())
    return {
        "records": events.height,
        "warning+ %": 100 * events.filter(pl.col("level").is_in(["warning", "error", "critical"])).height / events.height,
        "responses": responses.height,
        "4xx/5xx %": 100 * responses.filter(pl.col("http_status") >= 400).height / max(responses.height, 1),
        "kept by the screen %": 100 * kept / events.height,
    }


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(name, " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in rates(name).items()))
