# 25 invalid POST /orders (422) against uvicorn whose loggers go through Loguru (InterceptHandler), app timing middleware.
import inspect, logging, sys, threading, time
from loguru import logger
class InterceptHandler(logging.Handler):
    def emit(self, record):
        try:
            level = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame:
            filename = frame.f_code.co_filename
            if depth > 0 and not (filename == logging.__file__ or ("importlib" in filename and "_bootstrap" in filename)):
                break
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())
logger.remove(); logger.add(sys.stderr, level="INFO")
logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
    lg = logging.getLogger(name); lg.handlers = [InterceptHandler()]; lg.propagate = False
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
