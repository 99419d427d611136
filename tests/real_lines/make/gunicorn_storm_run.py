"""gunicorn with its default logs in one stream (`--access-logfile - --error-logfile -`), two sync workers, and a
storm of refused requests among a few that fail and a few that succeed.

Usage: python gunicorn_storm_run.py PORT > FILE 2>&1
Requests, four at a time so that both workers serve them, in this order: 25 `POST /orders` with a `qty` that is
no integer (422) with a `GET /ok` (200) after every fifth and a `GET /promo/code-N` (KeyError: 500) after the
8th, 16th and 24th; then 2 valid `POST /orders` (201).
"""
import json
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

port = sys.argv[1]
here = pathlib.Path(__file__).parent
process = subprocess.Popen([str(pathlib.Path(sys.executable).parent / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}",
                            "--access-logfile", "-", "--error-logfile", "-", "orders_wsgi:app"], cwd=here)
time.sleep(3)


def send(request: tuple[str, object]) -> None:
    path, body = request
    data = None if body is None else json.dumps(body).encode()
    try:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                                      headers={"Content-Type": "application/json"})).read()
    except urllib.error.HTTPError:
        pass


requests: list[tuple[str, object]] = []
for n in range(1, 26):
    requests.append(("/orders", {"qty": "x"}))
    if n % 5 == 0:
        requests.append(("/ok", None))
    if n % 8 == 0:
        requests.append((f"/promo/code-{n // 8}", None))
requests += [("/orders", {"qty": 2})] * 2
with ThreadPoolExecutor(4) as pool:
    list(pool.map(send, requests))
time.sleep(0.5)
process.terminate()
process.wait()
