"""Secrets never reach an output: every planted secret, every format, and `--no-redact` to prove it could.

samples/secrets/secrets.log is real Loguru/SQLAlchemy/PyJWT output (samples/generate/secrets.py) and
planted.json the values it leaks. A leak is the whole value, or any 12-character piece of it (a wrapped or
clipped secret is still a leak).
"""

from __future__ import annotations

import json
import re
import string
from typing import Any

import polars as pl
import pytest
from conftest import ROOT, strings_of
from hypothesis import given, settings
from hypothesis import strategies as st
from sentry_server import SentryServer

from analyzer.analysis.signatures import builtin_dir, load_signatures
from analyzer.report.redact import REDACTED, RULES, SENSITIVE_NAME, TRIGGER, Redactor, redact_diagnose

SAMPLE = ROOT / "samples/secrets/secrets.log"
PLANTED: list[dict[str, str]] = json.loads((ROOT / "samples/secrets/planted.json").read_text())
PIECE = 12


def leaked(output: str) -> list[str]:
    """What of the planted secrets `output` shows: each secret given away whole or by a piece."""
    found = []
    for secret in PLANTED:
        value = secret["value"]
        pieces = [value] + [value[i:i + PIECE] for i in range(0, len(value) - PIECE + 1)] if len(value) >= 16 else [value]
        if any(piece in output for piece in pieces):
            found.append(secret["what"])
    return found


ALL = [s["what"] for s in PLANTED]


@pytest.fixture
def wide(plain_env):
    plain_env.setenv("COLUMNS", "2000")  # a terminal report never wraps a secret over two lines here
    return plain_env


def test_the_sample_plants_what_its_list_says():
    text = SAMPLE.read_text()
    assert len(PLANTED) == 12 and leaked(text) == ALL


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_scan_reports_show_no_planted_secret_and_all_of_them_with_no_redact(cli, wide, fmt):
    every = ["--all"] if fmt == "text" else []  # the text report's first screen shows no log text
    shown = cli("scan", str(SAMPLE), "--format", fmt, *every)
    assert shown.exit_code == 0, shown.output
    assert leaked(shown.stdout + shown.stderr) == []
    assert REDACTED in shown.stdout
    raw = cli("scan", str(SAMPLE), "--format", fmt, "--no-redact", *every)
    assert leaked(raw.stdout) == ALL


@pytest.mark.parametrize("args", [["--format", "jsonl"], ["--format", "jsonl", "--lines"], ["--lines"]])
def test_tail_says_no_planted_secret_and_all_of_them_with_no_redact(cli, wide, args):
    data = SAMPLE.read_bytes()
    shown = cli("tail", "-", *args, input=data)
    assert shown.exit_code == 0, shown.output
    assert leaked(shown.stdout + shown.stderr) == []
    raw = cli("tail", "-", *args, "--no-redact", input=data)
    if "jsonl" in args:  # whole records and incidents
        assert leaked(raw.stdout) == ALL
    else:  # the text board echoes first lines and the report's first screen: some secrets, shown unmasked
        assert leaked(raw.stdout)


@pytest.mark.parametrize("style", ["table", "jsonl", "csv", "count"])
def test_events_print_no_planted_secret(cli, wide, style):
    shown = cli("events", str(SAMPLE), "-f", style)
    assert shown.exit_code == 0, shown.output
    assert leaked(shown.stdout + shown.stderr) == []
    raw = cli("events", str(SAMPLE), "-f", style, "--no-redact").stdout
    if style in ("jsonl", "csv"):  # whole records
        assert leaked(raw) == ALL
    elif style == "table":  # the message column: the first line, 160 characters (the JWT's head)
        assert leaked(raw) == ["a JWT in an Authorization: Bearer header"]


@pytest.mark.parametrize("command", [["scan", str(SAMPLE)], ["tail", "-", "--format", "jsonl"]])
def test_sentry_events_hold_no_planted_secret_and_all_of_them_with_no_redact(cli, wide, command):
    data = SAMPLE.read_bytes() if "tail" in command else None
    for flags, expected in (([], []), (["--no-redact"], ALL)):
        with SentryServer() as sentry:
            result = cli(*command, "--sentry-dsn", sentry.dsn, *flags, input=data)
            assert result.exit_code == 0, result.output
        assert len(sentry.events) == 5
        assert leaked("\n".join(strings_of(sentry.events))) == expected


# --- what is masked, rule by rule --------------------------------------------------------------------------------

TOKEN = st.text(alphabet=string.ascii_letters + string.digits + "-_.~+/", min_size=8, max_size=40)
NAMES = st.sampled_from(["password", "passwd", "secret", "token", "api_key", "apikey", "access_key", "DB_PASSWORD",
                         "aws_secret_access_key", "X-Api-Key", "client_secret", "refresh_token", "pwd"])


@settings(max_examples=60, deadline=None)
@given(name=NAMES, value=TOKEN, form=st.sampled_from([
    "{k}={v}", '{k}="{v}"', "{k}='{v}'", '"{k}": "{v}"', "'{k}': '{v}'", '\\"{k}\\": \\"{v}\\"', "{k} = '{v}'",
    "https://h/x?{k}={v}&page=2",
]))
def test_a_secret_named_key_loses_its_value_in_every_form(name, value, form):
    line = "request failed: " + form.format(k=name, v=value) + " (retrying)"
    safe = Redactor().text(line)
    assert value not in safe and name in safe and REDACTED in safe and safe.endswith("(retrying)")


@settings(max_examples=40, deadline=None)
@given(user=st.from_regex(r"[a-z]{1,8}", fullmatch=True), password=TOKEN.filter(lambda t: "/" not in t),
       scheme=st.sampled_from(["postgresql", "postgresql+asyncpg", "mysql", "redis", "amqp", "https"]))
def test_a_url_keeps_its_user_and_host_not_its_password(user, password, scheme):
    safe = Redactor().text(f"cannot connect to {scheme}://{user}:{password}@db.internal:5432/shop")
    assert safe == f"cannot connect to {scheme}://{user}:{REDACTED}@db.internal:5432/shop"


@pytest.mark.parametrize(("text", "safe"), [
    ("aws_secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key: [REDACTED]"),
    ("  db_password: s3cret-2024  # from vault", "  db_password: [REDACTED]  # from vault"),
    ("X-Api-Key: abcdefghij", "X-Api-Key: [REDACTED]"),
    ("401: invalid token: Signature has expired", "401: invalid token: Signature has expired"),  # prose stays
])
def test_unquoted_key_colon_value_is_masked_when_it_looks_like_a_credential(text, safe):
    assert Redactor().text(text) == safe


@pytest.mark.parametrize(("text", "kept"), [
    ("Authorization: Bearer abc.def-ghi123", "Authorization: Bearer "),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic "),
    ("headers={'authorization': 'Token 9f8e7d6c5b4a'}", "'authorization': 'Token "),
    ("proxy-authorization=s3cr3tvalue", "proxy-authorization="),
    ("retrying with Bearer 0123456789abcdef", "Bearer "),
])
def test_authorization_values_are_masked_and_the_scheme_kept(text, kept):
    safe = Redactor().text(text)
    assert safe.startswith(kept) or kept in safe
    assert REDACTED in safe and not any(part in safe for part in ("abc.def", "dXNlcj", "9f8e7d", "s3cr3t", "0123456"))


@pytest.mark.parametrize("secret", [
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "AKIAZ7Q2MXPL4RTV8WNB", "ASIAZ7Q2MXPL4RTV8WNB",
    "ghp_" + "a1B2" * 9, "github_pat_" + "x1" * 20, "glpat-" + "Ab1_" * 5,
    "xoxb-123456789012-abcdefABCDEF123456", "sk_live_" + "Zx9" * 8, "rk_test_" + "Qw8" * 6, "whsec_" + "Ab12" * 6,
    "AIza" + "b" * 35, "sk-proj-" + "Ab1-" * 8,
])
def test_provider_keys_are_found_by_their_shape_alone(secret):
    assert Redactor().text(f"config dump: {secret} end") == f"config dump: {REDACTED} end"


def test_a_private_key_block_keeps_its_armour_not_its_body():
    body = "MC4CAQAwBQYDK2VwBCIEIEHublTNps5rjO1Qyow7288u9sAfYwRs"
    for text in (f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----",
                 f"'-----BEGIN RSA PRIVATE KEY-----\\n{body}\\n-----END RSA PRIVATE KEY-----\\n'",
                 f"key: -----BEGIN EC PRIVATE KEY-----\n{body}"):  # cut: no END
        safe = Redactor().text(text)
        assert body[:PIECE] not in safe and "PRIVATE KEY-----" in safe and REDACTED in safe


class _Settings:
    db_password = "settings-pw"


def _check(*args: Any) -> None:
    raise ValueError("bad")


def _failing(password: str, settings: _Settings, creds: dict[str, str]) -> None:
    auth, user_id = {"token": "t0k3n-value"}, 42
    _check(settings.db_password, password, creds["x"], auth, user_id, len(password), 42)


def _real_diagnose() -> str:
    """What real Loguru (diagnose=True) writes for an exception in `_failing`."""
    from loguru import logger

    lines: list[str] = []
    handler = logger.add(lines.append, diagnose=True, backtrace=False, colorize=False, format="{message}")
    try:
        _failing("hunter2", _Settings(), {"x": "not-a-secret"})
    except ValueError:
        logger.exception("failed")
    finally:
        logger.remove(handler)
    return "".join(lines)


def test_diagnose_values_are_masked_under_secret_names_only():
    text = _real_diagnose()
    assert "└ 'hunter2'" in text and "└ 'settings-pw'" in text  # what Loguru gives away
    safe = redact_diagnose(text)
    assert "'hunter2'" not in safe and "'settings-pw'" not in safe
    assert safe.count("└ '[REDACTED]'") == 3  # settings.db_password, password, len(password)
    assert "└ 42" in safe and "'not-a-secret'" in safe and "<function _check" in safe
    assert "{'token': '[REDACTED]'}" in Redactor().text(text)  # the dict repr: the quoted-key rule
    assert safe.count("\n") == text.count("\n")


@settings(max_examples=40, deadline=None)
@given(names=st.lists(st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True).filter(lambda n: n != "db_password"),
                      min_size=1, max_size=6, unique=True),
       secret_at=st.integers(min_value=0, max_value=5), value=TOKEN)
def test_diagnose_masking_follows_the_column_of_each_variable(names, secret_at, value):
    """A diagnose block drawn as Loguru draws it; only the secret-named variable's value goes."""
    secret_at %= len(names)
    names = [n if i != secret_at else "db_password" for i, n in enumerate(names)]
    source, columns = "    call(", []
    for name in names:
        columns.append(len(source))
        source += name + ", "
    source = source.removesuffix(", ") + ")"
    values = [f"'{value}'" if i == secret_at else f"'plain-{i}'" for i in range(len(names))]
    drawn = []
    for k in range(len(names) - 1, -1, -1):  # Loguru draws the last variable first
        line = [" "] * columns[k]
        for j in range(k):
            line[columns[j]] = "│"
        drawn.append("".join(line) + "└ " + values[k])
    safe = Redactor().text("\n".join([source, *drawn]))
    sensitive = pl.Series(names).str.contains(f"(?i)^{SENSITIVE_NAME}$").to_list()
    for i, name in enumerate(names):
        assert (values[i] in safe) != sensitive[i], (name, safe)
    assert value not in safe


def test_catalogue_text_in_an_incident_is_left_as_written():
    """Titles are masked like log text (an unknown error's title is its template) and must come through
    unchanged; cause, fix and docs are the signature's own prose and are never masked (one quotes a default
    password to change), though a log's secret in the same incident is."""
    incidents = [{"signature": s.id, "title": s.title, "cause": s.cause, "fix": list(s.fix), "docs": list(s.docs),
                  "examples": [{"text": "password=hunter2"}]} for s in load_signatures([])]
    assert builtin_dir().is_dir() and len(incidents) > 30
    safe = Redactor().data(incidents)
    assert [{**i, "examples": []} for i in safe] == [{**i, "examples": []} for i in incidents]
    assert {e["text"] for i in safe for e in i["examples"]} == {"password=[REDACTED]"}
    assert any('PASSWORD = "changethis"' in i["cause"] for i in safe)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_every_text_a_rule_matches_passes_the_trigger(rule, data):
    """The trigger decides which rows the rules run on: it must find every match of every rule."""
    match = data.draw(st.from_regex(rule.pattern, fullmatch=True))
    assert re.search(TRIGGER, match), (rule.name, match)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_redaction_is_idempotent(text):
    once = Redactor().text(text)
    assert Redactor().text(once) == once


# --- redaction never changes what is found or how it is grouped ----------------------------------------------------

GROUPING = """\
2026-11-23 10:00:00.000 | ERROR    | shop.auth:check:40 - 401 GET /orders: Signature has expired; Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMQ
2026-11-23 10:00:01.000 | ERROR    | shop.auth:check:40 - 401 GET /orders: Signature has expired; Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIyIn0.c2lnbmF0dXJlMg
2026-11-23 10:00:02.000 | ERROR    | shop.db:connect:12 - login failed for app password=first-secret-1 on db
2026-11-23 10:00:03.000 | ERROR    | shop.db:connect:12 - login failed for app password=other-secret-2 on db
"""


def test_records_that_differ_only_in_a_secret_group_alike_with_and_without_redaction(cli, plain_env, write):
    path = write("auth.log", GROUPING)
    shown = json.loads(cli("scan", str(path), "--format", "json").stdout)["incidents"]
    raw = json.loads(cli("scan", str(path), "--format", "json", "--no-redact").stdout)["incidents"]
    identity = [(i["fingerprint"], i["signature"], i["count"], i["rank"]) for i in shown]
    assert identity == [(i["fingerprint"], i["signature"], i["count"], i["rank"]) for i in raw]
    jwt = next(i for i in shown if i["signature"] == "jwt_expired")
    assert jwt["count"] == 2  # the two tokens differ, the incident is one
    assert "first-secret-1" not in json.dumps(shown) and "first-secret-1" in json.dumps(raw)


# --- extra patterns from the config -------------------------------------------------------------------------------


def test_config_patterns_are_masked_too_and_listed_by_config(cli, plain_env, write, tmp_path, monkeypatch):
    log = write("app.log", "2026-11-23 10:00:00.000 | ERROR    | app:f:1 - customer CUST-884213 card 4111111111111111 refused\n")
    (tmp_path / "logscan.toml").write_text('redact_patterns = ["CUST-[0-9]+", "\\\\b[0-9]{16}\\\\b"]\n')
    monkeypatch.chdir(tmp_path)
    report = cli("scan", str(log), "--format", "json").stdout
    assert "CUST-884213" not in report and "4111111111111111" not in report and "customer [REDACTED] card" in report
    assert "CUST-884213" in cli("scan", str(log), "--format", "json", "--no-redact").stdout
    events = cli("events", str(log), "-f", "jsonl").stdout
    assert "CUST-884213" not in events and REDACTED in events
    shown = json.loads(cli("config", "--format", "json").stdout)["values"]["redact_patterns"]
    assert shown["value"] == ["CUST-[0-9]+", "\\b[0-9]{16}\\b"] and shown["source"].endswith("logscan.toml:redact_patterns")


@pytest.mark.parametrize(("value", "message"), [
    ('["(?=x)secret"]', "redact_patterns[0]: '(?=x)secret': look-around"),
    ('["ok", "a*"]', "redact_patterns[1]: 'a*': matches empty text"),
    ('"CUST-[0-9]+"', "redact_patterns: expected an array of strings"),
    ('[""]', "redact_patterns[0]: expected a non-empty string"),
])
def test_a_bad_config_pattern_is_exit_2_naming_file_and_key(cli, plain_env, tmp_path, monkeypatch, value, message):
    (tmp_path / "logscan.toml").write_text(f"redact_patterns = {value}\n")
    monkeypatch.chdir(tmp_path)
    for command in (["scan", str(SAMPLE)], ["tail", "-"], ["events", str(SAMPLE)], ["config"]):
        result = cli(*command, input=b"")
        assert result.exit_code == 2, (command, result.output)
        assert "logscan.toml" in result.stderr and message in " ".join(result.stderr.split()), result.stderr


def test_the_state_history_keeps_no_secret_of_a_title(cli, plain_env, write, tmp_path):
    """The history file keeps titles for the next run's `resolved` list: redacted at rest as in a report."""
    secret = "Hunter2-Very-Secret"
    log = write("app.log", (
        'INFO:     127.0.0.1:50412 - "GET /orders HTTP/1.1" 500 Internal Server Error\n'
        "ERROR:    Exception in ASGI application\n"
        "Traceback (most recent call last):\n"
        '  File "/srv/app/routes/orders.py", line 12, in list_orders\n'
        f'    raise ValueError("cannot reach postgresql://app:{secret}@db:5432/shop")\n'
        f"ValueError: cannot reach postgresql://app:{secret}@db:5432/shop\n"))

    def kept(*flags: str) -> str:
        state = tmp_path / ("state" + "".join(flags))
        assert cli("scan", str(log), "--state", str(state), "-f", "json", *flags).exit_code == 0
        return "".join(path.read_text() for path in state.rglob("*.json"))

    redacted = kept()
    assert secret not in redacted and "postgresql://app:" in redacted
    assert secret in kept("--no-redact")  # the title does carry it: the redaction is what keeps it out


_ASCII_AND_TRIGGERS = st.lists(st.sampled_from(
    [chr(c) for c in range(128)] + ["pass", "Token", "KEY", "://", "eyJ", "AKIA", "sk-", "└", "é", "\x9b"]),
    max_size=20).map("".join)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_ASCII_AND_TRIGGERS, max_size=5), enabled=st.booleans(), extra=st.booleans())
def test_what_is_known_unchanged_without_polars_is_unchanged_by_the_rules(texts, enabled, extra):
    """`Redactor.unchanged` (Python's engine, no Polars) never claims a text the rules would change."""
    redactor = Redactor(["[0-9]+"] if extra else [], enabled=enabled)
    if redactor.unchanged(texts):
        assert redactor.series(pl.Series(texts, dtype=pl.String)).to_list() == texts
        assert redactor.data({"texts": texts}) == {"texts": texts}
