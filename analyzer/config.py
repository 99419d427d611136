"""Configuration: `[tool.logscan]` in `pyproject.toml`, or a `logscan.toml`, found or named with `--config`.

Where it is found: `--config FILE` (a `pyproject.toml` is read for its
`[tool.logscan]` table, any other file for its top-level keys); otherwise the
current folder, then each parent up to the filesystem root, and the first
folder holding a `logscan.toml`, or a `pyproject.toml` with a `[tool.logscan]`
table, wins (`logscan.toml` first when a folder has both). No file: defaults.

Keys (all optional; an unknown key is an error, so a typo never passes silently):

``storm_count`` (integer ≥ 1)
    requests that make a 422/5xx/429 storm (default: the signatures' own, 20);
    `--storm-count`.
``storm_window`` (duration: "500ms", "60s", "2m", "1h")
    the sliding window of a storm (default: the signatures' own, 60 s); `--storm-window`.
``slow_count`` (integer ≥ 1)
    slow requests per route in 60 s that make an incident (default 1); `--slow-count`.
``min_severity`` (info, low, medium, high, critical)
    incidents below it are not shown (default low); `--min-severity`.
``fail_on`` (a severity)
    `scan` exits 1 when an incident at or above it is found (default: never); `--fail-on`.
``signatures`` (list of folders)
    extra signature folders, relative to the config file's folder; a flag's
    `--signatures` folders are added after them (and override them by id).
``request_id_keys`` (list of key names)
    JSON keys that also carry the request/correlation ID, tried before the
    built-in ones (`request_id`, `req_id`, `correlation_id`, ...): top-level keys
    of generic JSON lines, keys of `record.extra` for Loguru's `serialize=True`.
``redact_patterns`` (list of regexes)
    extra secrets to mask in every output, each whole match replaced by
    `[REDACTED]` (analyzer.report.redact lists what is masked anyway); Rust
    regex syntax, like signature patterns (linear time: no look-around, no
    backreferences), and a pattern must not match empty text.
``[services]`` (table of strings)
    observed service name -> the name to report, e.g. `"api-1" = "api"`;
    applied to every event, so incidents, traces and summaries use the new name.
``[[ignore]]`` (array of tables)
    incidents to leave out of reports: `fingerprint = "..."` or
    `signature = "..."` (optionally with `service = "..."`), `reason = "..."`
    (required: say why), and optionally `until = 2026-12-31` (a TOML date; from
    the day after it the rule no longer applies and `logscan config` says it
    expired). The number of incidents left out is reported
    (`summary.ignored_incidents`, and in the terminal summary).

Precedence, per value: a command-line flag, then an environment variable
(only `LOGSCAN_SENTRY_DSN`, which has no config key), then the config file,
then the default. `logscan config` prints each effective value and where it
came from.

A config that cannot be used (TOML syntax, an unknown key, a wrong type, a
bad duration or severity, a signature folder that does not exist) raises
`ConfigError`, one message naming the file and the key (the line for a
syntax error); the commands exit 2 with it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from difflib import get_close_matches
from pathlib import Path
from typing import Any


from analyzer import safe_toml
from analyzer.report.redact import check_pattern
from analyzer.timespec import parse_duration
from analyzer.vocabulary import SEVERITIES

LOGSCAN_TOML = "logscan.toml"
PYPROJECT = "pyproject.toml"
DEFAULT = "default"

KEYS = ("storm_count", "storm_window", "slow_count", "min_severity", "fail_on", "signatures", "request_id_keys",
        "redact_patterns", "services", "ignore")
_IGNORE_KEYS = ("fingerprint", "signature", "service", "reason", "until")


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class IgnoreRule:
    """One `[[ignore]]` entry."""

    reason: str
    origin: str  # "path:ignore[0]"
    fingerprint: str | None = None
    signature: str | None = None
    service: str | None = None
    until: date | None = None

    def expired(self, today: date | None = None) -> bool:
        return self.until is not None and (today or date.today()) > self.until


@dataclass
class Config:
    """What a config file says (empty when there is none); `origins` maps each key set to `path:key`."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)

    @property
    def ignore(self) -> list[IgnoreRule]:
        return list(self.values.get("ignore", []))


def _has_tool_table(path: Path) -> bool:
    """Whether a pyproject.toml holds `[tool.logscan]` (parsed only when its text mentions it)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if "logscan" not in text:
        return False
    try:
        data = safe_toml.loads(text)
    except tomllib.TOMLDecodeError:
        if "tool.logscan" in text:  # ours, broken: say so rather than silently using another config
            _parse(path, text)
        return False  # someone else's broken pyproject.toml is not logscan's business
    return isinstance(data.get("tool"), dict) and "logscan" in data["tool"]


def find_config(start: Path | None = None) -> Path | None:
    """The config file for `start` (default: the current folder): the nearest folder that has one."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        own = candidate / LOGSCAN_TOML
        if own.is_file():
            return own
        pyproject = candidate / PYPROJECT
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        return safe_toml.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: TOML syntax error: {exc}") from None


def load_config(path: str | Path | None = None, start: Path | None = None) -> Config:
    """The config named by `path` (`--config`), else the one found from `start`; an empty Config when none."""
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"{file}: no such config file")
    else:
        found = find_config(start)
        if found is None:
            return Config()
        file = found
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the config file ({getattr(exc, 'strerror', None) or exc})") from None
    data = _parse(file, text)
    prefix = ""
    if file.name == PYPROJECT:
        tool = data.get("tool")
        if not isinstance(tool, dict) or "logscan" not in tool:
            raise ConfigError(f"{file}: no [tool.logscan] table")
        data, prefix = tool["logscan"], "tool.logscan."
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: tool.logscan: expected a table")
    return _validate(file, data, prefix)


# ---------------------------------------------------------------------------
# Validation: every value checked, the first problem named with file and key
# ---------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
             dict: "a table", date: "a date", datetime: "a date-time"}
    return names.get(type(value), type(value).__name__)


def _severity(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a severity ({', '.join(SEVERITIES)}), got {_type_name(value)}")
    if value not in SEVERITIES:
        raise ConfigError(f"{where}: {value!r} is not a severity (use one of {', '.join(SEVERITIES)})")
    return value


def _count(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected an integer, got {_type_name(value)}")
    if value < 1:
        raise ConfigError(f"{where}: must be at least 1, got {value}")
    return value


def _duration(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a duration such as \"60s\" or \"2m\", got {_type_name(value)}")
    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if seconds <= 0:
        raise ConfigError(f"{where}: must be longer than 0, got {value!r}")
    return value


def _strings(where: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected an array of strings, got {_type_name(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{where}[{i}]: expected a non-empty string, got {_type_name(item)}")
    return list(value)


def _patterns(where: str, value: Any) -> tuple[str, ...]:
    """`redact_patterns`: each one usable by the engine that runs it (analyzer.report.redact.check_pattern)."""
    patterns = _strings(where, value)
    for i, pattern in enumerate(patterns):
        try:
            check_pattern(pattern)
        except ValueError as exc:
            raise ConfigError(f"{where}[{i}]: {pattern!r}: {exc}") from None
    return tuple(dict.fromkeys(patterns))


def _unknown(where: str, key: str, known: Sequence[str]) -> ConfigError:
    close = get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"
    return ConfigError(f"{where}{key}: unknown key{hint}")


def _until(where: str, value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{where}: expected a date such as 2026-12-31, got {value!r}")


def _ignore(file: Path, prefix: str, value: Any) -> list[IgnoreRule]:
    where = f"{file}: {prefix}ignore"
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected an array of tables ([[ignore]]), got {_type_name(value)}")
    rules = []
    for i, entry in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{at}: expected a table, got {_type_name(entry)}")
        for key in entry:
            if key not in _IGNORE_KEYS:
                raise _unknown(f"{at}.", key, _IGNORE_KEYS)
        for key in ("fingerprint", "signature", "service", "reason"):
            if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
                raise ConfigError(f"{at}.{key}: expected a non-empty string, got {_type_name(entry[key])}")
        if ("fingerprint" in entry) == ("signature" in entry):
            raise ConfigError(f"{at}: give exactly one of fingerprint or signature")
        if "reason" not in entry:
            raise ConfigError(f"{at}.reason: missing (say why this incident is ignored)")
        rules.append(IgnoreRule(
            reason=entry["reason"], origin=f"{file}:{prefix}ignore[{i}]", fingerprint=entry.get("fingerprint"),
            signature=entry.get("signature"), service=entry.get("service"),
            until=_until(f"{at}.until", entry["until"]) if "until" in entry else None,
        ))
    return rules


def _validate(file: Path, data: dict[str, Any], prefix: str) -> Config:
    config = Config(path=file)
    for key, value in data.items():
        where = f"{file}: {prefix}{key}"
        if key in ("storm_count", "slow_count"):
            checked: Any = _count(where, value)
        elif key == "storm_window":
            checked = _duration(where, value)
        elif key in ("min_severity", "fail_on"):
            checked = _severity(where, value)
        elif key == "signatures":
            checked = []
            for i, folder in enumerate(_strings(where, value)):
                resolved = (file.parent / os.path.expanduser(folder)).resolve()
                if not resolved.is_dir():
                    raise ConfigError(f"{where}[{i}]: no such folder {resolved}")
                checked.append(resolved)
        elif key == "request_id_keys":
            checked = tuple(dict.fromkeys(_strings(where, value)))
        elif key == "redact_patterns":
            checked = _patterns(where, value)
        elif key == "services":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: expected a table of names (\"api-1\" = \"api\"), got {_type_name(value)}")
            for name, target in value.items():
                if not isinstance(target, str) or not target.strip():
                    raise ConfigError(f"{where}.{name}: expected a service name, got {_type_name(target)}")
            checked = dict(value)
        elif key == "ignore":
            checked = _ignore(file, prefix, value)
        else:
            raise _unknown(f"{file}: {prefix}", key, KEYS)
        config.values[key] = checked
        config.origins[key] = f"{file}:{prefix}{key}"
    return config


# ---------------------------------------------------------------------------
# Effective values: flag > environment > config file > default
# ---------------------------------------------------------------------------


@dataclass
class Effective:
    """The values a run uses, each with where it came from (`sources`)."""

    config_path: Path | None = None
    storm_count: int | None = None
    storm_window: str | None = None
    slow_count: int | None = None
    min_severity: str = "low"
    fail_on: str | None = None
    signatures: list[Path] = field(default_factory=list)
    request_id_keys: tuple[str, ...] = ()
    redact_patterns: tuple[str, ...] = ()
    services: dict[str, str] = field(default_factory=dict)
    ignore: list[IgnoreRule] = field(default_factory=list)
    sentry_dsn: str | None = None
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def storm_window_seconds(self) -> float | None:
        return parse_duration(self.storm_window).total_seconds() if self.storm_window else None

    def active_rules(self, today: date | None = None) -> list[IgnoreRule]:
        """The `[[ignore]]` rules that have not expired (analyzer.analysis.ignores compiles them)."""
        return [rule for rule in self.ignore if not rule.expired(today)]


_FLAG_NAMES = {
    "storm_count": "--storm-count", "storm_window": "--storm-window", "slow_count": "--slow-count",
    "min_severity": "--min-severity", "fail_on": "--fail-on", "signatures": "--signatures",
}


def effective(config: Config, flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
              sentry_env: str | None = None) -> Effective:
    """Merge `flags` (None = not given) over the environment over `config` over the defaults.

    `signatures` adds up: the config's folders, then the flag's; a flag's
    folder that does not exist raises ConfigError. A flag's `storm_window`
    must already be valid (the commands check it).
    `sentry_env` names the environment variable of the Sentry DSN, read from
    `env` (default os.environ) when the flag `sentry_dsn` is not given.
    """
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if env is None else env
    out = Effective(config_path=config.path)
    for key in ("storm_count", "storm_window", "slow_count", "min_severity", "fail_on"):
        if key in flags:
            setattr(out, key, flags[key])
            out.sources[key] = f"flag {_FLAG_NAMES[key]}"
        elif key in config.values:
            setattr(out, key, config.values[key])
            out.sources[key] = config.origins[key]
        else:
            out.sources[key] = DEFAULT
    sig_sources = []
    if "signatures" in config.values:
        out.signatures.extend(config.values["signatures"])
        sig_sources.append(config.origins["signatures"])
    if flags.get("signatures"):
        for folder in flags["signatures"]:
            if not Path(folder).is_dir():  # scan, tail and config alike: exit 2 with this message
                raise ConfigError(f"--signatures {folder}: no such folder")
        out.signatures.extend(Path(folder) for folder in flags["signatures"])
        sig_sources.append("flag --signatures")
    out.sources["signatures"] = " + ".join(sig_sources) or DEFAULT
    for key in ("request_id_keys", "redact_patterns", "services", "ignore"):
        if key in config.values:
            setattr(out, key, config.values[key])
            out.sources[key] = config.origins[key]
        else:
            out.sources[key] = DEFAULT
    if flags.get("sentry_dsn"):
        out.sentry_dsn, out.sources["sentry_dsn"] = flags["sentry_dsn"], "flag --sentry-dsn"
    elif sentry_env and env.get(sentry_env):
        out.sentry_dsn, out.sources["sentry_dsn"] = env[sentry_env], f"env {sentry_env}"
    else:
        out.sources["sentry_dsn"] = DEFAULT
    return out


# ---------------------------------------------------------------------------
# The effective values of a run: the config file with the flags over it
# ---------------------------------------------------------------------------

def for_run(config_path: str | Path | None, flags: Mapping[str, Any]) -> Effective:
    """Load the config (named, or found from the current folder) and merge `flags` over it.

    Raises ConfigError for a bad config file and ValueError for a bad flag value
    (`storm_window`), each with a message fit to print as is.
    """
    window = flags.get("storm_window")
    if window is not None:
        parse_duration(window)  # ValueError names the accepted forms
    return effective(load_config(config_path), flags)
