"""A small legacy WSGI service run by gunicorn's sync workers.

gunicorn writes the access log with a custom ``access_log_format`` that adds
the request time in microseconds (``%(D)s``) and seconds (``%(L)s``) and the
``X-Request-ID`` header.
"""

import json
import time


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/legacy/status":
        body = {"ok": True}
    elif path == "/legacy/report":
        time.sleep(1.2)  # the old report renderer
        body = {"report": "ready"}
    elif path == "/legacy/export":
        time.sleep(6)  # longer than gunicorn --timeout
        body = {"export": "done"}
    else:
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"detail": "not found"}']
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
