"""Incident history of incremental runs (`scan --state`): what changed since the last run.

After each run the fingerprints of its incidents are recorded (`record`) with
their signature, title, service, severity and `last_seen`. The next run
compares its incidents with that history (`compare`, or `annotate` on a report):

* `new`: never seen in a recorded run;
* `ongoing`: found by the previous run too;
* `regressed`: seen in some earlier run, not in the previous one, back now;
* `resolved` (a list, not a status): found by the previous run, not by this one.

With checkpoints, a run reads only the bytes written since the previous one, so
`ongoing` means "happened again since the last run" and `resolved` "did not
happen again". The first run of a job has no previous run: everything is `new`.
`compare` always compares with the history as loaded, so calling it before or
after `record` gives the same answer.

What `scan` records: every incident the run found, whatever its severity, so
`--min-severity` only changes what is shown: a run with a higher minimum does
not make the hidden incidents `resolved`, nor a later run with a lower one make
them `new` or `regressed`. Statuses are set on the incidents shown, and
`resolved` lists only those at or above the run's minimum severity. Incidents
left out by the config's ignore rules are not recorded: an incident that
becomes ignored is listed as `resolved` by the next run, and one whose rule
expires (or is removed) comes back as `regressed` or `new`.

Limits: the last `MAX_RUNS` runs are kept, and at most `MAX_INCIDENTS`
fingerprints (those seen least recently are forgotten first; a forgotten one
that comes back is `new` again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SCHEMA = "logscan.history/1"
MAX_RUNS = 100
MAX_INCIDENTS = 10_000

STATUSES = ("new", "ongoing", "regressed")
_KEPT = ("signature", "title", "service", "severity", "last_seen")


@dataclass
class Comparison:
    statuses: dict[str, str]  # fingerprint -> new | ongoing | regressed
    resolved: list[dict[str, Any]]  # {fingerprint, signature, title, service, severity, last_seen}, previous run's order


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class History:
    """The recorded runs of one job (oldest first) and what is known about each fingerprint."""

    def __init__(
        self,
        runs: list[dict[str, Any]] | None = None,
        incidents: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.runs: list[dict[str, Any]] = list(runs or [])  # {"time": iso, "fingerprints": [...]}
        self.incidents: dict[str, dict[str, Any]] = dict(incidents or {})  # fp -> {signature, ..., first_run, last_run}
        self._previous: list[str] = list(self.runs[-1]["fingerprints"]) if self.runs else []
        self._known: dict[str, dict[str, Any]] = {fp: dict(info) for fp, info in self.incidents.items()}

    # --- storage -------------------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: Any) -> History:
        """From a parsed history file; ValueError when it is not one."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} file")
        runs, incidents = data.get("runs"), data.get("incidents")
        if not isinstance(runs, list) or not isinstance(incidents, dict):
            raise TypeError("runs must be a list and incidents an object")
        for run in runs:
            if (
                not isinstance(run, dict)
                or not isinstance(run.get("time"), str)
                or not isinstance(run.get("fingerprints"), list)
                or not all(isinstance(fp, str) for fp in run["fingerprints"])
            ):
                raise ValueError("a run is not {time, fingerprints}")
        for fp, info in incidents.items():
            if not isinstance(info, dict) or not all(isinstance(info.get(k), str | None) for k in _KEPT):
                raise ValueError(f"incident {fp!r} is not an object of strings")
        return cls(runs, incidents)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "runs": self.runs, "incidents": self.incidents}

    # --- comparing and recording ---------------------------------------------------------------

    def compare(self, incidents: Iterable[Mapping[str, Any]]) -> Comparison:
        """Status of each current incident (report incident dicts with `fingerprint`), and the resolved ones."""
        previous = set(self._previous)
        statuses: dict[str, str] = {}
        for incident in incidents:
            fp = incident["fingerprint"]
            statuses[fp] = "ongoing" if fp in previous else "regressed" if fp in self._known else "new"
        resolved = [
            {"fingerprint": fp, **{k: self._known.get(fp, {}).get(k) for k in _KEPT}}
            for fp in self._previous
            if fp not in statuses
        ]
        return Comparison(statuses, resolved)

    def annotate(
        self,
        report: dict[str, Any],
        found: Iterable[Mapping[str, Any]] | None = None,
        shown: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> Comparison:
        """Set `status` on each of the report's incidents and the report's top-level `resolved` list.

        `found`: every incident of the run (default: the report's), of which the
        report shows a part; the comparison is made with all of them, so an
        incident found but not shown is neither resolved nor, later, new again.
        `shown`: which resolved entries to list (e.g. those at or above the
        run's minimum severity; default all).
        """
        comparison = self.compare(report["incidents"] if found is None else found)
        for incident in report["incidents"]:
            incident["status"] = comparison.statuses[incident["fingerprint"]]
        if shown is not None:
            comparison.resolved = [entry for entry in comparison.resolved if shown(entry)]
        report["resolved"] = comparison.resolved
        return comparison

    def record(self, incidents: Iterable[Mapping[str, Any]], run_time: datetime) -> None:
        """Add this run (its incidents' fingerprints) to the history; saved by the state's `commit`."""
        when = _iso(run_time)
        fingerprints: list[str] = []
        for incident in incidents:
            fp = incident["fingerprint"]
            if fp in fingerprints:
                continue
            fingerprints.append(fp)
            info = self.incidents.get(fp, {"first_run": when})
            info.update({k: incident.get(k) for k in _KEPT}, last_run=when)
            info.setdefault("first_run", when)
            self.incidents[fp] = info
        self.runs.append({"time": when, "fingerprints": fingerprints})
        del self.runs[:-MAX_RUNS]
        if len(self.incidents) > MAX_INCIDENTS:
            latest = set(fingerprints)
            order = sorted(self.incidents, key=lambda fp: (fp in latest, self.incidents[fp].get("last_run") or ""))
            for fp in order[: len(self.incidents) - MAX_INCIDENTS]:
                del self.incidents[fp]
