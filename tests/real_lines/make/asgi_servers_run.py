"""The same FastAPI app under hypercorn and under Granian, each with its own default logging.

Usage: python asgi_servers_run.py {hypercorn|granian} PORT > FILE 2>&1
Requests: GET /ok twice, 12 GET /promo/<code> that raise KeyError (500), and a POST /items without its
query parameter (422). hypercorn runs with `--access-logfile - --error-logfile -`, Granian with `--access-log`.
"""
import pathlib
import subprocess
import sys
import time

import httpx

server, port = sys.argv[1], sys.argv[2]
here = pathlib.Path(__file__).parent
command = {
    "hypercorn": ["hypercorn", "promo_app:app", "--bind", f"127.0.0.1:{port}", "--access-logfile", "-",
                  "--error-logfile", "-"],
    "granian": ["granian", "--interface", "asgi", "--port", port, "--access-log", "promo_app:app"],
}[server]
process = subprocess.Popen([str(pathlib.Path(sys.executable).parent / command[0]), *command[1:]], cwd=here)
time.sleep(3)
with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
    client.get("/ok")
    for n in range(12):
        client.get(f"/promo/code-{n}")
    client.post("/items")
    client.get("/ok")
time.sleep(0.5)
process.terminate()
process.wait()
