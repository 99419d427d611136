"""A WSGI app with one broken endpoint: `GET /promo/<code>` raises KeyError for every code (as promo_app.py)."""
PROMOS: dict[str, int] = {}


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/promo/"):
        percent = PROMOS[path.removeprefix("/promo/")]
        body = f'{{"percent": {percent}}}'.encode()
    else:
        body = b'{"ok": true}'
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
