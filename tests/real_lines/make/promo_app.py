"""A FastAPI app with one broken endpoint: `GET /promo/{code}` raises KeyError for every code."""
from fastapi import FastAPI

app = FastAPI()
PROMOS: dict[str, int] = {}


@app.get("/promo/{code}")
def promo(code: str) -> dict[str, int]:
    return {"percent": PROMOS[code]}


@app.get("/ok")
def ok() -> dict[str, bool]:
    return {"ok": True}


@app.post("/items")
def items(n: int) -> dict[str, int]:
    return {"n": n}
