# Real driver and SQLAlchemy texts against PostgreSQL (max_connections=5, superuser_reserved_connections=2).
import sys, traceback
import psycopg, psycopg2
from sqlalchemy import create_engine, text
DSN3 = "postgresql+psycopg://app:app@127.0.0.1:5499/shop"
def show(f):
    try:
        f()
    except Exception:
        traceback.print_exc()
        print("---", file=sys.stderr)
# pool exhausted, sync SQLAlchemy + psycopg 3
eng = create_engine(DSN3, pool_size=1, max_overflow=0, pool_timeout=0.5)
held = eng.connect()
show(lambda: eng.connect())
held.close()
# slow statement and an error, under the custom prefix
with eng.connect() as c:
    c.execute(text("select pg_sleep(1.1)"))
    show(lambda: c.execute(text("select * from nosuch")))
eng.dispose()
# too many connections: 3 normal slots
conns = [psycopg.connect("host=127.0.0.1 port=5499 user=app password=app dbname=shop") for _ in range(3)]
show(lambda: psycopg.connect("host=127.0.0.1 port=5499 user=app password=app dbname=shop"))
show(lambda: psycopg2.connect("host=127.0.0.1 port=5499 user=app password=app dbname=shop"))
eng2 = create_engine("postgresql+psycopg2://app:app@127.0.0.1:5499/shop")
show(lambda: eng2.connect())
eng3 = create_engine(DSN3)
show(lambda: eng3.connect())
for c in conns: c.close()
# terminated session
victim = psycopg.connect("host=127.0.0.1 port=5499 user=app password=app dbname=shop")
pid = victim.info.backend_pid
with psycopg.connect("host=127.0.0.1 port=5499 user=postgres dbname=shop", autocommit=True) as admin:
    admin.execute("select pg_terminate_backend(%s)", (pid,))
show(lambda: victim.execute("select 1"))
show(lambda: victim.execute("select 1"))
