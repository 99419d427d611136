"""gunicorn with its default logs in one stream (`--access-logfile - --error-logfile -`), two sync workers.

Usage: python gunicorn_workers_run.py PORT > FILE 2>&1
Requests, several at a time so that both workers serve them: 8 `GET /promo/code-N` (KeyError: 500) and 4 `GET /ok`.
gunicorn's error log names its worker (`[pid]`), its access log does not.
"""
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
                            "--access-logfile", "-", "--error-logfile", "-", "promo_wsgi:app"], cwd=here)
time.sleep(3)


def get(path: str) -> None:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}{path}").read()
    except urllib.error.HTTPError:
        pass


with ThreadPoolExecutor(4) as pool:
    list(pool.map(get, [f"/promo/code-{n}" for n in range(8)] + ["/ok"] * 4))
time.sleep(0.5)
process.terminate()
process.wait()
