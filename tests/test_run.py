"""The Run every command drives (analyzer.run): built once from the effective config, the report steps
scan and tail share (ignore rules once, the --service view, the exit verdict)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from conftest import ROOT

from analyzer.analysis.engine import Analysis
from analyzer.config import Effective, IgnoreRule
from analyzer.ingest.sources import resolve
from analyzer.run import Run, RunError

COMPOSE = ROOT / "samples" / "compose" / "compose.log"


def _incidents(run: Run) -> tuple[pl.DataFrame, int]:
    analysis = Analysis(run.signatures, run.settings)
    for batch in run.pipeline().run(resolve([str(COMPOSE)], run.diag)):
        analysis.add(batch)
    return run.incidents(analysis)


def test_ignore_rules_apply_once_and_expired_ones_not_at_all():
    rules = [IgnoreRule("known", "t:ignore[0]", signature="jwt_expired"),
             IgnoreRule("old", "t:ignore[1]", signature="deadlock", until=date(2000, 1, 1))]
    everything, _ = _incidents(Run.build(Effective()))
    kept, ignored = _incidents(Run.build(Effective(ignore=rules)))
    signatures = set(kept.get_column("signature"))
    assert ignored == 1 and "jwt_expired" not in signatures and "deadlock" in signatures
    assert kept.height == everything.height - 1
    ranks = kept.get_column("rank").drop_nulls().to_list()  # hidden ones (below the floor) take no rank
    assert ranks == list(range(1, len(ranks) + 1))


def test_the_view_and_the_verdict_follow_service_severity_and_fail_on():
    run = Run.build(Effective(fail_on="critical"), services=["db"])
    incidents, _ = _incidents(run)
    shown = run.view(incidents)
    assert shown.height and all("db" in names or service == "db"
                               for service, names in shown.select("service", "services").iter_rows())
    assert run.verdict(incidents) == 0  # the critical OOM kill is the api's, not the db's
    assert Run.build(Effective(fail_on="critical")).verdict(incidents) == 1


def test_a_bad_time_or_signature_folder_is_one_run_error(tmp_path):
    with pytest.raises(RunError, match="yesterday-ish"):
        Run.build(Effective(), since="yesterday-ish")
    (tmp_path / "bad.toml").write_text("[[signature]]\nid = 'x'\n")
    with pytest.raises(RunError, match="bad.toml"):
        Run.build(Effective(signatures=[tmp_path]))
