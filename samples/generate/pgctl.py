"""Control a throw-away PostgreSQL cluster for the sample run.

PostgreSQL refuses to run as root, so the cluster belongs to an unprivileged
OS user (created with ``useradd`` if missing) and every server binary runs
through ``runuser -u <user> --``. The cluster lives in a temporary directory,
listens on 127.0.0.1 only, on a free port, with its socket in the same
directory.

Logging is the point of the exercise: ``logging_collector = on`` and
``log_destination = 'stderr,csvlog,jsonlog'`` (jsonlog needs PostgreSQL 15+),
``log_min_duration_statement`` for slow statements, a small
``max_connections`` so that "too many clients" can be provoked and a short
``deadlock_timeout``. The server is restarted once per *phase*; every phase
writes its own ``<phase>.log`` / ``.csv`` / ``.json`` (``log_filename``) and may
use its own ``log_line_prefix`` and connection-logging settings, kept in an
included file ``logscan_phase.conf``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from capture import FileTailer

PG15_BINDIR = Path("/usr/lib/postgresql/15/bin")
DEFAULT_OS_USER = "logscan-pg"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_os_user(name: str = DEFAULT_OS_USER) -> pwd.struct_passwd:
    """Create a normal system user (no login shell needed) if it is missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)


def as_user(user: str, argv: list[str]) -> list[str]:
    """Prefix a command so that it runs as ``user`` (we are root)."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", user, "--"] + argv


@dataclass
class Phase:
    """One server run: its log file name, prefix and extra settings."""

    name: str
    line_prefix: str
    log_connections: bool = False
    log_disconnections: bool = False
    extra: dict = field(default_factory=dict)


class PgCluster:
    """A PostgreSQL cluster in ``base_dir`` owned by ``os_user``."""

    def __init__(self, base_dir: Path, *, bindir: Path = PG15_BINDIR,
                 os_user: str = DEFAULT_OS_USER, port: int | None = None,
                 max_connections: int = 12, jsonlog: bool = True,
                 env: dict | None = None):
        self.base = Path(base_dir)
        self.bindir = Path(bindir)
        # as root we need an unprivileged user; otherwise the server runs as ourselves
        self.os_user = os_user if os.geteuid() == 0 else pwd.getpwuid(os.getuid()).pw_name
        self.port = port or free_port()
        self.max_connections = max_connections
        self.jsonlog = jsonlog
        self.data = self.base / "data"
        self.sock = self.base / "sock"
        self.logdir = self.base / "log"
        self.env = dict(os.environ, **(env or {}))
        self.env.setdefault("LC_ALL", "C.UTF-8")
        self.phase: Phase | None = None
        self.tailer: FileTailer | None = None

    # -- helpers -----------------------------------------------------------
    def _run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(as_user(self.os_user, argv), env=self.env, check=True,
                              capture_output=True, text=True, **kw)

    def version(self) -> str:
        out = subprocess.run([str(self.bindir / "postgres"), "--version"], env=self.env,
                             capture_output=True, text=True, check=True).stdout
        return out.strip()

    # -- cluster creation --------------------------------------------------
    def init(self, superuser_password: str) -> None:
        """``initdb`` a fresh cluster and write the base configuration."""
        user = ensure_os_user(self.os_user)
        if self.base.exists():
            shutil.rmtree(self.base)
        for d in (self.base, self.sock, self.logdir):
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, user.pw_uid, user.pw_gid)
        pwfile = self.base / "pw"
        pwfile.write_text(superuser_password + "\n")
        os.chown(pwfile, user.pw_uid, user.pw_gid)
        self._run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                   "--auth-local=trust", "--auth-host=scram-sha-256",
                   f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8"])
        pwfile.unlink()
        destinations = "stderr,csvlog,jsonlog" if self.jsonlog else "stderr,csvlog"
        conf = f"""
# ---- logscan sample generator ----
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.sock}'
max_connections = {self.max_connections}
superuser_reserved_connections = 3
shared_buffers = '32MB'
timezone = 'UTC'
log_timezone = 'UTC'
lc_messages = 'C'
deadlock_timeout = '100ms'
logging_collector = on
log_destination = '{destinations}'
log_directory = '{self.logdir}'
log_rotation_age = 0
log_rotation_size = 0
log_file_mode = 0644
log_min_duration_statement = 500
include_if_exists = 'logscan_phase.conf'
"""
        with open(self.data / "postgresql.conf", "a") as fh:
            fh.write(conf)

    # -- phases ------------------------------------------------------------
    def start(self, phase: Phase) -> None:
        """Start the server for ``phase`` and follow its stderr log file."""
        lines = [f"log_filename = '{phase.name}.log'",
                 f"log_line_prefix = '{phase.line_prefix}'",
                 f"log_connections = {'on' if phase.log_connections else 'off'}",
                 f"log_disconnections = {'on' if phase.log_disconnections else 'off'}"]
        lines += [f"{k} = {v}" for k, v in phase.extra.items()]
        conf = self.data / "logscan_phase.conf"
        conf.write_text("\n".join(lines) + "\n")
        user = pwd.getpwnam(self.os_user)
        os.chown(conf, user.pw_uid, user.pw_gid)
        self.phase = phase
        self.tailer = FileTailer(self.log_path("log")).start()
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                   str(self.base / "pg_ctl.log"), "-w", "-t", "60", "start"])
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.tailer and any(b"ready to accept connections" in l.data
                                   for l in self.tailer.snapshot()):
                return
            time.sleep(0.05)
        raise RuntimeError("PostgreSQL did not become ready")

    def stop(self, mode: str = "fast"):
        """Stop the server; return the captured stderr-log lines of the phase."""
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode,
                   "-w", "-t", "60", "stop"])
        lines = self.tailer.stop() if self.tailer else []
        self.tailer = None
        return lines

    def log_path(self, kind: str, phase: str | None = None) -> Path:
        """Path of the phase's ``log`` (stderr), ``csv`` or ``json`` file."""
        name = phase or (self.phase.name if self.phase else "")
        return self.logdir / f"{name}.{kind}"

    # -- clients -----------------------------------------------------------
    def psql(self, sql: str, db: str = "postgres", user: str = "postgres",
             extra_env: dict | None = None) -> str:
        """Run SQL with the real ``psql`` over the Unix socket (trust auth)."""
        env = dict(self.env, **(extra_env or {}))
        res = subprocess.run([str(PG15_BINDIR / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                              "-h", str(self.sock), "-p", str(self.port), "-U", user,
                              "-d", db, "-At", "-c", sql],
                             env=env, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"psql failed: {res.stderr}")
        return res.stdout

    def url(self, user: str, password: str, db: str, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{user}:{password}@127.0.0.1:{self.port}/{db}"
