#!/usr/bin/env python3
"""Compare what logscan finds in samples/deploy-b with the manifest's truth, file by file.

    python samples/generate_b/compare.py [--logscan .venv/bin/logscan] [--json OUT]

For each sample file (and the whole folder) it runs ``logscan scan FILE --format json``
and prints, per planted incident in that file, the incidents logscan reports with the
same signature (count, service, request IDs that are in the truth), and then every
reported incident that matches no planted one. Exit status 0; this is a report, not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def scan(logscan: str, target: str) -> dict:
    res = subprocess.run([logscan, "scan", target, "--format", "json"], cwd=REPO, capture_output=True, text=True)
    try:
        return json.loads(res.stdout)
    except json.JSONDecodeError:
        return {"error": res.stderr[-2000:], "incidents": []}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--logscan", default=str(REPO / ".venv/bin/logscan"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    m = json.loads((REPO / "samples/deploy-b/manifest.json").read_text())
    targets = [f["path"] for f in m["files"]] + ["samples/deploy-b/"]
    report = {}
    for t in targets:
        r = scan(args.logscan, t)
        planted = [i for i in m["incidents"] if t.endswith("/") or t in i["files"]]
        found = r.get("incidents", [])
        rows, used = [], set()
        for i in planted:
            truth = set(i["request_ids"])
            if i["signature"]:
                hits = [(k, x) for k, x in enumerate(found) if x["signature"] == i["signature"]]
            else:  # an exception with no signature: logscan's 'unknown' incidents titled with its type
                hits = [(k, x) for k, x in enumerate(found) if x["signature"] == "unknown"
                        and i.get("exception") and f"{i['exception']}:" in (x.get("title") or "")]
            used |= {k for k, _ in hits}
            rows.append({"planted": i["signature"] or f"null:{i.get('kind')}:{i.get('exception')}",
                         "service": i["service"], "run": i.get("run"), "route": i.get("route"),
                         "occurrences": i["occurrences"], "requests": len(truth),
                         "found": [{"count": x["count"], "service": x["service"],
                                    "request_ids": len(x.get("request_ids") or []),
                                    "true_request_ids": len(truth & set(x.get("request_ids") or []))}
                                   for _, x in hits]})
        extra = [{"signature": x["signature"], "title": x.get("title"), "service": x["service"], "count": x["count"],
                  "request_ids": len(x.get("request_ids") or [])}
                 for k, x in enumerate(found) if k not in used]
        summary = r.get("summary", {})
        report[t] = {"planted": rows, "unplanted": extra,
                     "events_by_format": summary.get("events_by_format"),
                     "events_by_service": summary.get("events_by_service")}
        print(f"\n== {t}")
        print(f"   formats: {summary.get('events_by_format')}  services: {summary.get('events_by_service')}")
        for row in rows:
            f = "; ".join(f"count={x['count']} svc={x['service']} rids={x['true_request_ids']}/{x['request_ids']}"
                          for x in row["found"]) or "NOT FOUND"
            print(f"   {row['planted']:<44} truth={row['occurrences']:>3} ({row['requests']} req, {row['service']})"
                  f"  -> {f}")
        for x in extra:
            title = f" ({x['title'][:60]})" if x["signature"] == "unknown" else ""
            print(f"   + unplanted {x['signature']:<34} count={x['count']} svc={x['service']} rids={x['request_ids']}{title}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
