import time
def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        time.sleep(1.2)
    status = "422 Unprocessable Entity" if path == "/orders" else "200 OK"
    start_response(status, [("Content-Type", "text/plain")])
    return [b"ok"]
