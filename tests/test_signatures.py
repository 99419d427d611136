"""Signature files: the built-in catalogue's examples, the loader's validation and
messages, user folders, and the `logscan signatures` commands."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer.analysis.match import check_examples
from analyzer.analysis.signatures import SignatureError, builtin_dir, compile_pattern, load_signatures, named_groups
from analyzer.commands.signatures import signatures_app

BUILTIN = load_signatures()
REQUIRED_IDS = (
    "missing_greenlet", "pool_exhausted", "too_many_connections", "alembic_multiple_heads", "alembic_missing_revision",
    "alembic_not_up_to_date", "http_422_storm", "http_5xx_storm", "http_429_storm", "slow_request", "pg_slow_statement",
    "deadlock", "relation_missing", "address_in_use", "jwt_expired", "jwt_invalid_signature", "statement_timeout",
    "stale_connection", "db_connection_refused", "session_already_attached", "detached_instance", "worker_timeout",
    "container_oom_killed",
)

GOOD = '''
[[signature]]
id = "acme_payment_failed"
title = "Payment provider rejected a charge"
severity = "high"
role = "cause"
keywords = ["PaymentDeclined"]
pattern = 'PaymentDeclined: card (?P<card>\\d{4}) declined'
key = ["card"]
leads_to = ["http_5xx_storm"]

[signature.examples]
match = ["2026-11-23 09:08:12.539 | ERROR    | acme.pay:charge:12 - PaymentDeclined: card 4242 declined"]
no_match = ["2026-11-23 09:08:12.539 | INFO     | acme.pay:charge:12 - charged card 4242"]
'''


def run_cli(*args: str):
    return CliRunner().invoke(signatures_app, list(args), catch_exceptions=False)


def folder_with(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    folder = tmp_path / "sigs"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(SignatureError) as info:
        load_signatures([folder])
    return [str(p) for p in info.value.problems]


# --- the built-in catalogue -------------------------------------------------------


@pytest.fixture(scope="module")
def example_failures() -> dict[str, list[str]]:
    """Every example of every built-in signature, run once through the real pipeline."""
    by_id: dict[str, list[str]] = defaultdict(list)
    for failure in check_examples(BUILTIN):
        by_id[failure.signature].append(str(failure))
    return by_id


@pytest.mark.parametrize("sig_id", [sig.id for sig in BUILTIN])
def test_builtin_signature_examples(sig_id, example_failures):
    sig = BUILTIN[sig_id]
    assert len(sig.examples.match) >= 2, "needs at least two real example records"
    assert sig.examples.no_match, "needs at least one near-miss"
    assert not example_failures[sig_id]


def test_required_ids_are_in_the_catalogue():
    assert [sig_id for sig_id in REQUIRED_IDS if sig_id not in BUILTIN] == []


def test_builtin_window_rules_are_data():
    slow = BUILTIN["slow_request"]
    assert (slow.window_seconds, slow.min_count, slow.group_by) == (60.0, 1, ("service", "http_path"))
    assert BUILTIN["http_422_storm"].min_count == 20
    assert BUILTIN["missing_greenlet"].window_seconds is None


@pytest.mark.parametrize("sig_id", [sig.id for sig in BUILTIN if sig.pattern])
def test_builtin_pattern_compiles_under_the_engine_that_runs_it(sig_id):
    # a run reads the built-ins' captures from the text (named_groups) and compiles nothing: this is the check
    sig = BUILTIN[sig_id]
    assert compile_pattern(sig.pattern) == sig.captures == named_groups(sig.pattern)


def test_the_builtins_load_as_checked_as_a_user_folder_does():
    checked = load_signatures(check_builtin=True)
    assert [(sig.id, sig.captures) for sig in checked] == [(sig.id, sig.captures) for sig in BUILTIN]


@pytest.mark.parametrize("pattern", [
    r"(?P<a>x)(?<b>y)", r"\(?P<no>x\)", r"[(?P<no>]", r"[]?(](?P<a>x)", r"[^]?(](?P<a>x)", r"[[:alpha:](](?P<a>x)",
    r"(?:(?P<outer>a(?P<inner>b)))", r"(?i)(?P<a_1>x)|(?P<b2>y)", r"\\(?P<a>x)", r"x{2}(?P<a>\p{L}+)",
])
def test_named_groups_reads_what_the_engine_compiles(pattern):
    assert named_groups(pattern) == compile_pattern(pattern)


def test_builtin_folder_is_found():
    assert builtin_dir().is_dir()
    assert {sig.source.parent for sig in BUILTIN} == {builtin_dir()}


# --- loader errors: one clear message naming file and key --------------------------

BASE = '[[signature]]\nid = "foo"\ntitle = "Foo"\nseverity = "high"\nrole = "cause"\n'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(BASE.replace('title = "Foo"\n', "") + "pattern = 'x'\n", 'signature[1] (id "foo").title: is required', id="missing-key"),
        pytest.param(BASE.replace('"high"', '"urgent"') + "pattern = 'x'\n", '(id "foo").severity: must be one of critical, high, medium, low, info, not \'urgent\'', id="bad-severity"),
        pytest.param(BASE + "pattern = 'a(b'\n", '(id "foo").pattern: unclosed group', id="bad-regex"),
        pytest.param(BASE + "pattern = '(?<=user )x'\n", "(id \"foo\").pattern: look-around, including look-ahead and look-behind, is not supported (Rust's linear-time regex engine has no look-around", id="look-around"),
        pytest.param(BASE + "pattern = '(a)\\1'\n", "(id \"foo\").pattern: backreferences are not supported (Rust's linear-time regex engine", id="backreference"),
        pytest.param(BASE + "pattern = '\\w{1000}{1000}'\n", '(id "foo").pattern: Compiled regex exceeds size limit', id="oversized-regex"),
        pytest.param(BASE + "pattern = 'x'\nleads_to = [\"no_such_symptom\"]\n", '(id "foo").leads_to[0]: \'no_such_symptom\': no loaded signature has this id', id="unknown-leads-to"),
        pytest.param(BASE + "pattern = '(?P<table>\\w+)'\nkey = [\"tabel\"]\n", "(id \"foo\").key: 'tabel' is not a named capture of the pattern (its named captures are: table)", id="key-not-a-capture"),
        pytest.param(BASE + "pattern = 'x'\npatern = 'y'\n", '(id "foo").patern: unknown key', id="unknown-key"),
        pytest.param(BASE + "keywords = 'x'\n", '(id "foo").keywords: must be a list, not a string', id="wrong-type"),
        pytest.param(BASE + "[signature.when]\nstatus = 500\n", '(id "foo").when.status: unknown event column', id="unknown-column"),
        pytest.param(BASE + "[signature.when]\nlevel = \"err\"\n", "(id \"foo\").when.level: 'err' is not a level", id="bad-level"),
        pytest.param(BASE + "[signature.when]\nhttp_status = { gte = 500, below = 600 }\n", '(id "foo").when.http_status.below: unknown range key', id="bad-range"),
        pytest.param(BASE + "[signature.when]\nhttp_status = 500\n[signature.window]\nwindow = \"sixty seconds\"\n", '(id "foo").window.window: \'sixty seconds\' is not a duration', id="bad-window"),
        pytest.param(BASE + "[signature.when]\nhttp_status = 500\n[signature.window]\nwindow = \"60s\"\ngroup_by = [\"route\"]\n", "(id \"foo\").window.group_by[0]: unknown event column 'route'", id="bad-group-by"),
        pytest.param(BASE, 'signature[1] (id "foo"): needs a pattern, keywords or when conditions', id="selects-nothing"),
        pytest.param(BASE + "pattern = 'x'\n" + BASE + "pattern = 'y'\n", 'signature[2] (id "foo"): duplicate id, also defined in', id="duplicate-id"),
    ],
)
def test_loader_reports_one_clear_problem(tmp_path, body, expected):
    folder = folder_with(tmp_path, body)
    problems = problems_of(folder)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{folder / 'x.toml'}: ")
    assert expected in problems[0]


def test_malformed_toml_names_file_and_line(tmp_path):
    folder = folder_with(tmp_path, BASE.replace('"high"', "high") + "pattern = 'x'\n")
    [problem] = problems_of(folder)
    assert problem == f"{folder / 'x.toml'}: invalid TOML: Invalid value (at line 4, column 12)"


def test_every_problem_of_every_file_is_reported(tmp_path):
    broken = BASE.replace('"cause"', '"reason"') + "pattern = '('\nleads_to = [\"nope\"]\n"
    folder = folder_with(tmp_path, broken, "a.toml")
    (folder / "b.toml").write_text("not toml at all")
    problems = problems_of(folder)
    assert len(problems) == 4
    assert any("a.toml" in p and ".role:" in p for p in problems)
    assert any("a.toml" in p and ".pattern:" in p for p in problems)
    assert any("a.toml" in p and ".leads_to[0]: 'nope'" in p for p in problems)
    assert any("b.toml" in p and "invalid TOML" in p for p in problems)


# --- user folders ----------------------------------------------------------------


def test_user_folder_adds_signatures_and_overrides_builtins_by_id(tmp_path):
    override = GOOD.replace("acme_payment_failed", "jwt_expired").replace("PaymentDeclined", "TokenGone")
    folder = folder_with(tmp_path, GOOD)
    (folder / "override.toml").write_text(override)
    sigs = load_signatures([folder])
    assert len(sigs) == len(BUILTIN) + 1
    assert sigs["acme_payment_failed"].key == ("card",)
    assert sigs["acme_payment_failed"].captures == ("card",)
    assert sigs["jwt_expired"].keywords == ("TokenGone",)
    assert sigs["jwt_expired"].source == folder / "override.toml"
    assert [s.id for s in sigs].index("jwt_expired") == [s.id for s in BUILTIN].index("jwt_expired")


# --- the CLI ---------------------------------------------------------------------


def test_cli_list_shows_builtins_and_user_signatures(tmp_path):
    result = run_cli("list", "--signatures", str(folder_with(tmp_path, GOOD)), "--wide")
    assert result.exit_code == 0
    assert "missing_greenlet" in result.stdout and "acme_payment_failed" in result.stdout
    assert "sqlalchemy.toml" in result.stdout  # --wide: the file of each
    assert f"{len(BUILTIN) + 1} signature(s)" in result.stdout


def test_cli_show_prints_everything_about_a_signature():
    result = run_cli("show", "pool_exhausted")
    assert result.exit_code == 0
    for text in ("QueuePool limit of size", "pool_size", "Every pooled connection", "https://sqlalche.me/e/20/3o7r",
                 "http_5xx_storm", "match examples (2)", "no_match examples (2)"):
        assert text in result.stdout


def test_cli_show_unknown_id_suggests_close_ones():
    result = run_cli("show", "pool_exhausting")
    assert result.exit_code == 1
    assert "No signature with id 'pool_exhausting'. Did you mean: pool_exhausted" in result.stderr


def test_cli_lint_passes_the_builtins_and_reports_every_problem(tmp_path):
    ok = run_cli("lint")
    assert ok.exit_code == 0 and "no problems" in ok.stdout
    folder = folder_with(tmp_path, BASE.replace('"high"', '"urgent"') + "pattern = '('\n")
    bad = run_cli("lint", str(folder))
    assert bad.exit_code == 1
    assert '(id "foo").severity' in bad.stderr and '(id "foo").pattern: unclosed group' in bad.stderr
    assert "2 problem(s)" in bad.stderr


def test_cli_test_runs_a_folders_examples(tmp_path):
    folder = folder_with(tmp_path, GOOD)
    ok = run_cli("test", str(folder))
    assert ok.exit_code == 0 and "2 example(s) of 1 signature(s): all passed" in ok.stdout
    (folder / "x.toml").write_text(GOOD.replace("- PaymentDeclined: card 4242", "- PaymentDeclined: card 42"))
    bad = run_cli("test", str(folder))
    assert bad.exit_code == 1
    assert "acme_payment_failed: match[0]: no match; read as 1 event(s): [format=loguru, level=error" in bad.stderr


def test_cli_test_checks_when_conditions_on_parsed_fields(tmp_path):
    storm = BASE.replace('"cause"', '"symptom"') + (
        '[signature.when]\nhttp_status = 503\nlevel = "info"\n'
        '[signature.examples]\n'
        'match = [\'INFO:     172.18.0.1:40112 - "GET /api HTTP/1.1" 503 Service Unavailable\']\n'
        'no_match = [\'WARNING:  172.18.0.1:40112 - "GET /api HTTP/1.1" 503 Service Unavailable\']\n'
    )
    assert run_cli("test", str(folder_with(tmp_path, storm))).exit_code == 0
    wrong = storm.replace('level = "info"', 'level = "error"')
    result = run_cli("test", str(folder_with(tmp_path, wrong)))
    assert result.exit_code == 1
    assert "foo: match[0]: no match; read as 1 event(s): [format=uvicorn, level=info, logger=uvicorn.access, http_status=503]" in result.stderr
