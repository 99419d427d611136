"""A WSGI app that validates its input as FastAPI would: `POST /orders` needs a JSON body with an integer `qty`
(else 422), `GET /promo/<code>` raises KeyError for every code (as promo_wsgi.py), anything else is 200."""
import json

PROMOS: dict[str, int] = {}


def app(environ, start_response):
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if path.startswith("/promo/"):
        percent = PROMOS[path.removeprefix("/promo/")]
        body, status = f'{{"percent": {percent}}}'.encode(), "200 OK"
    elif (method, path) == ("POST", "/orders"):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        order = json.loads(environ["wsgi.input"].read(size) or b"{}")
        if isinstance(order.get("qty"), int):
            body, status = b'{"created": true}', "201 Created"
        else:
            body, status = b'{"detail": [{"loc": ["body", "qty"], "type": "int_parsing"}]}', "422 Unprocessable Entity"
    else:
        body, status = b'{"ok": true}', "200 OK"
    start_response(status, [("Content-Type", "application/json")])
    return [body]
