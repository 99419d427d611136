"""Extreme argument values are a clear message and exit 2, or work: never a traceback.

Found next to issue 14: a duration too long for a timedelta (`--since 99999999999h`,
`--storm-window 99999999999999999h`, tail's `--tick`) raised OverflowError; `--since 999999999d` went
before year 1; `tail --max-evidence -1` and `--resolve-after 0ms` raised Polars errors.
"""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import ROOT

COMPOSE = str(ROOT / "samples/compose/compose.log")


@pytest.mark.parametrize(("args", "message"), [
    (("--since", "99999999999h"), "'99999999999h' is too long a duration"),
    (("--storm-window", "99999999999999999h"), "'99999999999999999h' is too long a duration"),
    (("--since", "999999999d"), "'999999999d' is out of range (years 1 to 9999)"),
    (("--until", "nonsense"), "'nonsense' is neither a duration (24h) nor an ISO 8601 time"),
])
def test_scan_rejects_times_out_of_range_with_exit_2(cli, args, message):
    result = cli("scan", COMPOSE, *args)
    assert result.exit_code == 2 and message in result.stderr


@pytest.mark.parametrize("args", [("--since", "0001-01-01T00:00-01:00"), ("--until", "9999-12-31T23:59+14:00"),
                                  ("--storm-window", "999999999d")])
def test_scan_takes_extreme_but_valid_times(cli, args):
    assert cli("scan", COMPOSE, *args, "--format", "json").exit_code == 0


@pytest.mark.parametrize("args", [("--tick", "99999999999999h"), ("--resolve-after", "99999999999999999h"),
                                  ("--max-evidence", "-1")])
def test_tail_rejects_unusable_limits_with_exit_2(cli, args):
    result = cli("tail", "-", *args, input="")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_tail_resolving_at_once_still_reports(cli):
    """With --resolve-after 0ms an incident opened from fresh evidence is due before any computation holds it."""
    result = cli("tail", "-", "--resolve-after", "0ms", "--format", "jsonl", input=open(COMPOSE, "rb").read())
    assert result.exit_code == 0
    events = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert events[-1]["event"] == "report" and any(e["event"] == "resolved" for e in events)
