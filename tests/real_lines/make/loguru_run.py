# Loguru InterceptHandler recipe (loguru README), uvicorn's loggers routed through Loguru.
import inspect, logging, sys, threading
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
            is_logging = filename == logging.__file__
            is_frozen = "importlib" in filename and "_bootstrap" in filename
            if depth > 0 and not (is_logging or is_frozen):
                break
            frame = frame.f_back
            depth += 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())
logger.remove()
mode = sys.argv[1]
if mode == "default":
    logger.add(sys.stderr)
else:  # inserted req_id field
    logger.configure(extra={"req_id": "-"})
    logger.add(sys.stderr, format="{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | req_id={extra[req_id]} | {name}:{function}:{line} - {message}")
logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
    lg = logging.getLogger(name); lg.handlers = [InterceptHandler()]; lg.propagate = False
import uvicorn, httpx, time
sys.path.insert(0, "/tmp/gen")
from app import app
cfg = uvicorn.Config(app, port=int(sys.argv[2]), log_config=None)
server = uvicorn.Server(cfg)
t = threading.Thread(target=server.run); t.start()
time.sleep(1.5)
with logger.contextualize(req_id="ab12"):
    httpx.post(f"http://127.0.0.1:{sys.argv[2]}/orders", json={"qty": "x"})
    httpx.get(f"http://127.0.0.1:{sys.argv[2]}/reports/daily")
    httpx.get(f"http://127.0.0.1:{sys.argv[2]}/boom")
server.should_exit = True; t.join()
