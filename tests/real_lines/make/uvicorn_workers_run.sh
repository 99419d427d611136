#!/bin/bash
# uvicorn --workers 2 (its multiprocess supervisor): one worker killed with SIGKILL, as the OOM killer does, then
# a request that raises, then SIGTERM to the parent. Usage: uvicorn_workers_run.sh BIN_DIR > uvicorn_workers.log 2>&1
set -u
bin=$1; cd "$(dirname "$0")"
"$bin/uvicorn" promo_app:app --port 8961 --workers 2 & parent=$!
sleep 4
curl -s -o /dev/null http://127.0.0.1:8961/ok
kill -9 "$(pgrep -P "$parent" -f multiprocessing-fork | head -1)"
sleep 3
curl -s -o /dev/null http://127.0.0.1:8961/promo/x
kill -TERM "$parent"; wait "$parent"
