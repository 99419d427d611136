# 25 invalid POST /orders (422) against uvicorn whose loggers go through Loguru (InterceptHandler), app timing middleware.
import logging, sys, threading, time
from loguru import logger
from intercept import route_uvicorn_through_loguru
logger.remove(); logger.add(sys.stderr, level="INFO")
route_uvicorn_through_loguru()
import uvicorn, httpx
sys.path.insert(0, "/tmp/gen")
from app import app
server = uvicorn.Server(uvicorn.Config(app, port=8813, log_config=None))
t = threading.Thread(target=server.run); t.start(); time.sleep(1.5)
logging.getLogger("httpx").setLevel(logging.WARNING)
with httpx.Client() as c:
    for _ in range(25):
        c.post("http://127.0.0.1:8813/orders", json={"qty": "x"})
server.should_exit = True; t.join()
