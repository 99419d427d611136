# Loguru InterceptHandler recipe (loguru README), uvicorn's loggers routed through Loguru.
import sys, threading
from loguru import logger
from intercept import route_uvicorn_through_loguru
logger.remove()
mode = sys.argv[1]
if mode == "default":
    logger.add(sys.stderr)
else:  # inserted req_id field
    logger.configure(extra={"req_id": "-"})
    logger.add(sys.stderr, format="{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | req_id={extra[req_id]} | {name}:{function}:{line} - {message}")
route_uvicorn_through_loguru()
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
