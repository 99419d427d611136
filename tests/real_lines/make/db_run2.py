# psycopg 3 and SQLAlchemy+psycopg when every slot (superuser ones too) is taken: "sorry, too many clients already".
import sys, traceback
import psycopg
from sqlalchemy import create_engine
conns = [psycopg.connect("host=127.0.0.1 port=5499 user=postgres dbname=shop") for _ in range(5)]
for f in (lambda: psycopg.connect("host=127.0.0.1 port=5499 user=postgres dbname=shop"),
          lambda: create_engine("postgresql+psycopg://postgres@127.0.0.1:5499/shop").connect()):
    try:
        f()
    except Exception:
        traceback.print_exc()
        print("---", file=sys.stderr)
