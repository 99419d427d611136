"""pg8000 (pure-Python PostgreSQL driver) under SQLAlchemy 2.1, logged by stdlib logging: its errors print the
server's fields as a dict repr ('C': '42P01', 'M': 'relation "orders" does not exist'), not libpq's text.

Usage: python pg8000_run.py > drivers_pg8000.log 2>&1, with PostgreSQL on 127.0.0.1:5498 (max_connections = 5,
superuser_reserved_connections = 0, trust) and nothing on 5497: a refused connection, a missing table, a deadlock
between two threads, and too many clients.
"""
import logging, sys, threading, time
import sqlalchemy as sa
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
log = logging.getLogger("app")
def attempt(name, fn):
    try:
        fn()
    except Exception:
        log.exception("request failed: %s", name)
refused = sa.create_engine("postgresql+pg8000://postgres@127.0.0.1:5497/postgres")
attempt("refused", lambda: refused.connect())
eng = sa.create_engine("postgresql+pg8000://postgres@127.0.0.1:5498/postgres", pool_size=10)
def missing():
    with eng.connect() as c:
        c.execute(sa.text("select * from orders"))
attempt("missing", missing)
with eng.begin() as c:
    c.execute(sa.text("drop table if exists acct; create table acct(id int primary key, v int); insert into acct values (1,0),(2,0)"))
barrier = threading.Barrier(2)
def tx(a, b):
    def run():
        with eng.begin() as c:
            c.execute(sa.text(f"update acct set v=v+1 where id={a}"))
            barrier.wait(); time.sleep(0.2)
            c.execute(sa.text(f"update acct set v=v+1 where id={b}"))
    attempt(f"deadlock {a}->{b}", run)
ts = [threading.Thread(target=tx, args=(1, 2)), threading.Thread(target=tx, args=(2, 1))]
[t.start() for t in ts]; [t.join() for t in ts]
held = [eng.connect() for _ in range(4)]
attempt("too many", lambda: [eng.connect() for _ in range(3)])
