#!/bin/bash
# Real journald output: a uvicorn app run under systemd-cat (stdout/stderr into the journal, as a systemd
# unit's are) and PostgreSQL 15 with log_destination = syslog (through /dev/log into the journal), printed by
# journalctl in its short, short-precise and short-iso modes. Needs a running systemd-journald (started here
# when none is: /lib/systemd/systemd-journald runs on its own) and Debian's postgresql-15.
# Usage: journald_run.sh OUTDIR PYTHON_BIN_DIR   (the bin dir holds uvicorn and httpx's python)
set -euo pipefail
out=$1; bin=$2; here=$(cd "$(dirname "$0")" && pwd)
if [ ! -S /run/systemd/journal/stdout ]; then
  mkdir -p /run/systemd/journal; /lib/systemd/systemd-journald & sleep 2
fi
[ -e /dev/log ] || ln -s /run/systemd/journal/dev-log /dev/log
since=$(date -u '+%Y-%m-%d %H:%M:%S')
pgdir=$(mktemp -d); chown postgres "$pgdir"
trap 'su postgres -c "/usr/lib/postgresql/15/bin/pg_ctl -D $pgdir/data -w stop" >/dev/null 2>&1; pkill -f "uvicorn promo_app:app --port 8951"; rm -rf "$pgdir"' EXIT
su postgres -c "/usr/lib/postgresql/15/bin/initdb -D $pgdir/data -U postgres -A trust >/dev/null"
cat >> "$pgdir/data/postgresql.conf" <<CONF
log_destination = 'syslog'
syslog_ident = 'postgres'
port = 5499
unix_socket_directories = '$pgdir'
CONF
su postgres -c "/usr/lib/postgresql/15/bin/pg_ctl -D $pgdir/data -w start >/dev/null"
cd "$here"
systemd-cat -t uvicorn "$bin/uvicorn" promo_app:app --port 8951 &
sleep 3
"$bin/python" - <<'PY'
import httpx  # a connection per request: uvicorn closes one whose request raised
base = "http://127.0.0.1:8951"
httpx.get(f"{base}/ok")
for n in range(3):
    httpx.get(f"{base}/promo/code-{n}")
httpx.post(f"{base}/items")
PY
psql -h "$pgdir" -p 5499 -U postgres -c "select * from orders" postgres >/dev/null 2>&1 || true
psql -h "$pgdir" -p 5499 -U postgres -c "select 1;
select *
  from missing_table
 where id = 1" postgres >/dev/null 2>&1 || true
sleep 1
pkill -f "uvicorn promo_app:app --port 8951"
sleep 1
for mode in short short-precise short-iso; do
  journalctl --no-pager --since "$since" -t uvicorn -t postgres -o $mode > "$out/journald_$mode.log"
done
