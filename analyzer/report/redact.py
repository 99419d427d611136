"""Secrets out of everything logscan prints: what the logs hold is not repeated in a report.

Logs carry credentials: Loguru's `diagnose` blocks print the value of every
local variable (`password`, `api_key` ...), errors quote database URLs, request
dumps hold `Authorization` headers. `Redactor` masks them in every output (the
terminal report, JSON, Markdown, HTML, Sentry, `tail`'s lines and `events`),
at the last moment: the analysis (matching, fingerprints, templates, grouping)
always sees the original text, so redaction never changes what is found or
how it is grouped, and `--no-redact` changes only what is shown.

What is masked (`[REDACTED]` replaces the secret; a key, a scheme or a header
name in front of it stays so the reader sees what was there):

- passwords in URLs: `postgresql://app:[REDACTED]@db/shop`;
- values of keys whose name says secret (`SENSITIVE_NAME`: password, passwd,
  pwd, passphrase, secret, token, api_key/apikey/api-key, access_key,
  private_key, credential(s), as part of a longer name too: `db_password`,
  `aws_secret_access_key`, `X-Api-Key`): `key=value`, `key="value"`, and the
  quoted-key forms of JSON (`"password": "..."`) and Python reprs (`'password': '...'`), and
  `key: value` when the value holds a digit (YAML, config dumps; `token: expired` is prose)
  or the key is an API-key header (`X-Api-Key: ...`);
- `Authorization` / `Proxy-Authorization` header values (Bearer, Basic, Token,
  ... or a bare credential) and `Bearer <token>` anywhere;
- JSON Web Tokens (`eyJ….eyJ….…`);
- in Loguru `diagnose` blocks, the value shown under a variable whose name says
  secret (`│    └ 'app-secret-pw'` below `password`): the column of `└` names
  the variable in the source line above;
- provider keys by their shape: AWS access key IDs (`AKIA…`, `ASIA…`), GitHub
  (`ghp_…`, `github_pat_…`), GitLab (`glpat-…`), Slack (`xox?-…`, webhook
  URLs), Stripe (`sk_live_…`, `rk_…`, `whsec_…`), Google API keys (`AIza…`),
  OpenAI-style `sk-…`, and PEM private key blocks. (An AWS *secret* key has no
  shape of its own; it is caught by its key name, `aws_secret_access_key=`.)
- the matches of the config's `redact_patterns` (whole match).

Every pattern is a Rust regex run by Polars (linear time, so neither a built-in
nor a user pattern can hang a run), applied to whole Series at once; only the
`diagnose` step is Python, on the rare texts that hold a `└`. Control sequences
are removed first (analyzer.report.sanitize), with or without redaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import regex

from analyzer.analysis.signatures import compile_pattern
from analyzer.report.sanitize import CONTROL, strip_series

if TYPE_CHECKING:  # Polars only for text that redaction may change (`Redactor.unchanged`)
    import polars as pl

REDACTED: Final = "[REDACTED]"

#: A key or variable name that says its value is a secret (case-insensitive; part of a longer name too).
SENSITIVE_NAME: Final = (
    r"[A-Za-z0-9_.-]*(?:passw(?:or)?d|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|credentials?)[A-Za-z0-9_.-]*"
)
_TOKEN_CHARS = r"A-Za-z0-9._~+/-"


@dataclass(frozen=True)
class Rule:
    """One redaction: a Rust regex and its replacement (`${name}` refers to a named group of the pattern)."""

    name: str
    pattern: str
    replacement: str = REDACTED


#: The built-in rules, in the order they run (a private key block before its base64 could look like anything).
RULES: Final = (
    Rule("private key block",
         r"(?s)(?P<begin>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----).*?(?P<end>-----END [A-Z0-9 ]*PRIVATE KEY-----)",
         f"${{begin}}{REDACTED}${{end}}"),
    Rule("private key block, cut", r"(?P<begin>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)[A-Za-z0-9+/=\s\\]+",
         f"${{begin}}{REDACTED}"),
    Rule("URL password", r"(?i)\b(?P<head>[a-z][a-z0-9+.-]*://[^\s:/@'\"<>]*:)[^\s@'\"<>]+@",
         f"${{head}}{REDACTED}@"),
    Rule("authorization header",
         r"(?i)(?P<head>\b(?:proxy-)?authorization\\?[\"']?\s*[:=]\s*\\?[\"']?[ \t]*"
         r"(?:(?:bearer|basic|token|digest|negotiate|apikey)[ \t]+)?)[^\s\"'\\,;]+",
         f"${{head}}{REDACTED}"),
    Rule("bearer token",
         rf"(?i)(?P<head>\bbearer[ \t]+)(?:[{_TOKEN_CHARS}]*[0-9][{_TOKEN_CHARS}]*|[{_TOKEN_CHARS}]{{20,}})=*",
         f"${{head}}{REDACTED}"),
    Rule("JSON web token", r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    Rule("quoted key, quoted value",
         rf"(?i)(?P<head>\\?[\"']{SENSITIVE_NAME}\\?[\"']\s*[:=]\s*)(?:(?P<q1>\\?\")(?:[^\"\\\n]|\\[^\"\n])*(?:\\?\")?"
         rf"|(?P<q2>')(?:[^'\\\n]|\\[^\n])*'?)",
         f"${{head}}${{q1}}${{q2}}{REDACTED}${{q1}}${{q2}}"),
    Rule("key=value", rf"(?i)(?P<head>\b{SENSITIVE_NAME}=)(?:\"[^\"\n]*\"?|'[^'\n]*'?|[^\s&,;'\"()\[\]{{}}<>]+)",
         f"${{head}}{REDACTED}"),
    Rule("key = quoted value", rf"(?i)(?P<head>\b{SENSITIVE_NAME}[ \t]*=[ \t]*)(?:\"[^\"\n]*\"?|'[^'\n]*'?)",
         f"${{head}}{REDACTED}"),  # `[ \t]*` once: a pattern with two spellings of the name ran 70x slower
    Rule("key: value",
         rf"(?i)(?P<head>\b(?:x-api-key|api-key|x-auth-token|x-access-token)[ \t]*:[ \t]*)[^\s'\",;]+"
         rf"|(?P<yaml>\b{SENSITIVE_NAME}[ \t]*:[ \t]+)[^\s'\",;]*[0-9][^\s'\",;]*",
         f"${{head}}${{yaml}}{REDACTED}"),  # unquoted: a value with a digit (not "token: Signature has expired")
    Rule("AWS access key ID", r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|A3T[A-Z0-9])[A-Z0-9]{16}\b"),
    Rule("GitHub token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    Rule("GitLab token", r"\bgl(?:pat|dt|rt|ptt|ft|cbt|oas|imt|soat|agent)-[A-Za-z0-9_-]{20,}"),
    Rule("Slack token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),
    Rule("Slack webhook", r"(?P<head>https://hooks\.slack\.com/(?:services|workflows)/)[A-Za-z0-9/_-]+",
         f"${{head}}{REDACTED}"),
    Rule("Stripe key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|\bwhsec_[A-Za-z0-9]{20,}"),
    Rule("Google API key", r"\bAIza[0-9A-Za-z_-]{35}"),
    Rule("sk- API key", r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"),
)

#: Text every built-in rule's match contains (case-insensitive): rows without any skip the rules. One cheap
#: pass over every row instead of a pass per rule (keep in step with RULES: each rule's tests go through it).
TRIGGER: Final = (
    r"(?i)pass|pwd|secret|token|key|credential|auth|bearer|://|eyJ|A[KS]IA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA"
    r"|A3T|gh[pousr]_|github_pat_|gl[a-z]+-|xox|sk_|rk_|whsec_|AIza|sk-"
)

#: CONTROL and TRIGGER in Python's engine, for `Redactor.unchanged` (on ASCII text only).
_PY_CONTROL: Final = regex.compile(CONTROL)
_PY_TRIGGER: Final = regex.compile(TRIGGER)

# --- Loguru diagnose blocks -------------------------------------------------------------------------------------

_DIAGNOSE_VALUE = regex.compile(r"^(?P<bars>[ │]*)└ (?P<value>.*)$")
_NAME_AT = regex.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SENSITIVE = regex.compile(rf"^{SENSITIVE_NAME}$", regex.IGNORECASE)
_QUOTED = regex.compile(r"""^(?P<prefix>[rbuRBU]{0,2})(?P<q>['"]).*(?P=q)$""")


def _masked_value(value: str) -> str:
    """`'app-secret-pw'` -> `'[REDACTED]'` (a repr keeps its quotes), anything else -> `[REDACTED]`."""
    quoted = _QUOTED.match(value)
    if quoted:
        return f"{quoted['prefix']}{quoted['q']}{REDACTED}{quoted['q']}"
    return REDACTED


def redact_diagnose(text: str) -> str:
    """`text` with the values Loguru's `diagnose` shows under secret-named variables masked.

    Loguru draws, under a source line, one line per variable: `│` at the column of
    each variable still to come and `└ value` at the column of this one. The name
    at that column of the source line (the last line above that is not drawing)
    says whose value it is: `password`, `settings.db_password` (marked at
    `db_password`), `api_key` ...
    """
    lines = text.split("\n")
    source = ""
    changed = False
    for i, line in enumerate(lines):
        drawn = _DIAGNOSE_VALUE.match(line)
        if drawn is None:
            if line.strip() and not set(line.strip()) <= {"│"}:
                source = line
            continue
        name = _NAME_AT.match(source, len(drawn["bars"]))
        if name is not None and _SENSITIVE.match(name.group()):
            lines[i] = f"{drawn['bars']}└ {_masked_value(drawn['value'])}"
            changed = True
    return "\n".join(lines) if changed else text


# --- The redactor -----------------------------------------------------------------------------------------------


def check_pattern(pattern: str) -> None:
    """Raise ValueError (a one-line reason) for a `redact_patterns` entry that cannot be used.

    It must compile in the Rust engine that runs it (no look-around, no backreferences),
    and must not match empty text (it would put `[REDACTED]` between every two characters).
    """
    import polars as pl

    compile_pattern(pattern)
    if pl.Series([""], dtype=pl.String).str.contains(pattern).item():
        raise ValueError("matches empty text (it would redact between every two characters)")


class Redactor:
    """What every output does to log-derived text: control sequences out, then (when `enabled`) secrets masked.

    `extra`: the config's `redact_patterns` (checked with `check_pattern`; each whole match is masked).
    `enabled=False` is `--no-redact`: secrets are shown, control sequences are still removed.
    """

    def __init__(self, extra: Sequence[str] = (), *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.extra = tuple(Rule(f"redact_patterns[{i}]", pattern) for i, pattern in enumerate(extra))

    def unchanged(self, texts: Sequence[str]) -> bool:
        """Whether showing `texts` would change none of them, known without Polars: each is ASCII (where
        Python's regex engine and Polars' read CONTROL and TRIGGER alike) with no control character and, when
        redacting, nothing TRIGGER finds and no `redact_patterns` (which may match anything)."""
        if self.enabled and self.extra:
            return False
        return all(text.isascii() and not _PY_CONTROL.search(text) and not (self.enabled and _PY_TRIGGER.search(text))
                   for text in texts)

    def series(self, values: pl.Series) -> pl.Series:
        """A String Series made safe to show (nulls stay null)."""
        import polars as pl

        values = strip_series(values)
        if not self.enabled or values.len() == 0:
            return values
        drawn = values.str.contains("└", literal=True).fill_null(False)
        if drawn.any():  # first: the other rules could shift the columns that name a diagnose value's variable
            masked = pl.Series([redact_diagnose(text) for text in values.filter(drawn)], dtype=pl.String)
            values = values.clone().scatter(drawn.arg_true(), masked)
        candidates = values.str.contains(TRIGGER).fill_null(False)
        if candidates.any():
            some = values.filter(candidates)
            for rule in RULES:
                some = some.str.replace_all(rule.pattern, rule.replacement)
            values = values.clone().scatter(candidates.arg_true(), some)
        for rule in self.extra:  # the user's own: no trigger known, every row
            values = values.str.replace_all(rule.pattern, rule.replacement)
        return values

    def text(self, text: str) -> str:
        """One string made safe to show."""
        if self.unchanged((text,)):
            return text
        import polars as pl

        return str(self.series(pl.Series([text], dtype=pl.String))[0])

    def frame(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Every String column of `frame` made safe to show (the `events` output)."""
        import polars as pl

        names = [name for name, dtype in frame.schema.items() if dtype == pl.String]
        return frame.with_columns(self.series(frame.get_column(name)) for name in names) if names else frame

    def data(self, value: Any) -> Any:
        """A copy of JSON-like data (a report, an incident) with every string, keys included, made safe to show
        (`value` itself when that changes no string).

        All strings go through one Series, so a report costs a few vectorized passes, not one per string.
        An incident's `CATALOGUE_FIELDS` are the signature's own prose, not log text: only cleaned, never
        masked (a fix step may well quote a default password to change).
        """
        found: list[str] = []
        prose: list[bool] = []
        _collect(value, lambda text, is_prose: (found.append(text), prose.append(is_prose)), False)
        if self.unchanged(found):  # (a report of no incidents, say: its keys, its times, its counts)
            return value
        import polars as pl

        texts = pl.Series(found, dtype=pl.String)
        is_prose = pl.Series(prose, dtype=pl.Boolean)
        safe = self.series(texts)
        if is_prose.any():
            safe = safe.clone().scatter(is_prose.arg_true(), strip_series(texts.filter(is_prose)))
        return _rebuild(value, iter(safe.to_list()))


#: An incident's fields that come from its signature's catalogue entry (see analyzer.report.model).
CATALOGUE_FIELDS: Final = frozenset({"cause", "fix", "docs"})


def _collect(value: Any, add: Callable[[str, bool], None], prose: bool) -> None:
    if isinstance(value, str):
        add(value, prose)
    elif isinstance(value, dict):
        incident = "signature" in value
        for key, item in value.items():
            if isinstance(key, str):
                add(key, False)
            _collect(item, add, prose or (incident and key in CATALOGUE_FIELDS))
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, add, prose)


def _rebuild(value: Any, safe: Iterator[str]) -> Any:
    """`value` with its strings replaced, in the order `_collect` found them."""
    if isinstance(value, str):
        return next(safe)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            new_key = next(safe) if isinstance(key, str) else key
            out[new_key] = _rebuild(item, safe)
        return out
    if isinstance(value, (list, tuple)):
        return type(value)(_rebuild(item, safe) for item in value)
    return value
