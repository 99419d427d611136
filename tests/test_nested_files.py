"""Issue 14, item 8b: a config or signature file nested 100,000 deep is a bad file named in one message
(config: exit 2; signatures: a reported problem), never a RecursionError traceback (analyzer.safe_toml)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT

SAMPLE = str(ROOT / "samples/compose/compose.log")


def nested(depth: int, opener: str, closed: bool) -> str:
    """A value nested `depth` deep in arrays (`[`) or inline tables (`{a = `), closed or left open."""
    closer = "]" if opener == "[" else "}"
    return opener * depth + ("1" if opener != "[" else "") + (closer * depth if closed else "")


DEPTHS = st.one_of(st.just(100_000), st.integers(min_value=1, max_value=3_000))
SHAPES = {"depth": DEPTHS, "opener": st.sampled_from(["[", "{a = "]), "closed": st.booleans()}
FUZZ = settings(max_examples=12, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("name", ["logscan.toml", "pyproject.toml"])
def test_issue_reproduction_config_exits_2_naming_the_file(cli, tmp_path, monkeypatch, name):
    table = "[tool.logscan]\n" if name == "pyproject.toml" else ""
    (tmp_path / name).write_text(f"{table}storm_count = {'[' * 100_000}\n")
    monkeypatch.chdir(tmp_path)
    for command in (("config",), ("scan", SAMPLE), ("tail", "-"), ("events", SAMPLE)):
        result = cli(*command, input="")
        assert result.exit_code == 2, (command, result.output)
        assert f"{tmp_path / name}: TOML syntax error: arrays or inline tables nested too deeply" in result.stderr


@FUZZ
@given(**SHAPES)
def test_any_nesting_in_a_config_is_exit_2_with_the_file_named(cli, tmp_path, depth, opener, closed):
    config = tmp_path / "deep.toml"
    config.write_text(f"request_id_keys = {nested(depth, opener, closed)}\n")
    result = cli("config", "--config", str(config))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {config}: ") and len(result.stderr.splitlines()) == 1


@FUZZ
@given(**SHAPES)
def test_any_nesting_in_a_signature_file_is_a_reported_problem(cli, tmp_path: Path, depth, opener, closed):
    folder = tmp_path / "sigs"
    folder.mkdir(exist_ok=True)
    (folder / "deep.toml").write_text(f'[[signature]]\nid = "deep"\nkeywords = {nested(depth, opener, closed)}\n')
    lint = cli("signatures", "lint", str(folder))
    assert lint.exit_code == 1 and "deep.toml" in lint.stderr and "problem(s) in signature files" in lint.stderr
    scan = cli("scan", SAMPLE, "--signatures", str(folder))
    assert scan.exit_code == 2 and "deep.toml" in scan.stderr
