# stdout (JSON lines from python-json-logger, another worker process sharing the output) and stderr (an uncaught exception's traceback,
# printed chunk by chunk by threading.excepthook) merged into one file: python merged_run.py > F 2>&1.
import logging, multiprocessing, sys, threading, time
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import create_engine
h = logging.StreamHandler(sys.stdout); h.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
log = logging.getLogger("app.worker"); log.addHandler(h); log.setLevel(logging.INFO); log.propagate = False
def fail():
    eng = create_engine("postgresql+psycopg://app:app@127.0.0.1:5499/shop", pool_size=1, max_overflow=0, pool_timeout=0.2)
    held = eng.connect()
    eng.connect()
def chatter_proc():
    end = time.time() + 1.5
    i = 0
    while time.time() < end:
        log.info("job progress", extra={"job": "sync", "step": i}); i += 1
        time.sleep(0.0002)
if __name__ == "__main__":
    p = multiprocessing.get_context("fork").Process(target=chatter_proc); p.start()
    time.sleep(0.3)
    f = threading.Thread(target=fail); f.start(); f.join()
    p.join()
