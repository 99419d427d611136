"""`logscan config`: the effective configuration, and where each value comes from.

For every key (analyzer.config documents them): its value and its source,
`default`, `path:key` (the config file), `flag --...` or `env NAME`. The same
threshold, severity and signature flags as `scan` can be given to see what a
run with them would use. Ignore rules are listed with their reason and
whether they have expired. `--format json` prints the same as one JSON object.
"""

from __future__ import annotations

import sys
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from analyzer.commands.options import (
    ConfigOption,
    OutputFileOption,
    Severity,
    SignaturesOption,
    SlowCountOption,
    StormCountOption,
    StormWindowOption,
    console,
    examples,
    fail,
)
from analyzer.commands.steps import open_output
from analyzer.config import ConfigError, Effective, effective, load_config
from analyzer.report.sentry_dsn import DSN_ENV
from analyzer.timespec import parse_duration

CONFIG_EXIT_CODES = (
    "Exit codes: 0 = printed; 2 = the config file or an argument cannot be used (TOML syntax, unknown key, "
    "wrong type, bad duration or severity, missing signature folder); the message names the file and the key."
)
CONFIG_EPILOG = examples(
    "logscan config                      # the values and where each comes from",
    "logscan config --fail-on critical   # what a run with this flag would use",
    "logscan config --config ci/logscan.toml -f json",
) + "\n\n" + CONFIG_EXIT_CODES
_KEYS = ("storm_count", "storm_window", "slow_count", "min_severity", "fail_on", "signatures", "request_id_keys",
         "redact_patterns", "services", "sentry_dsn")


class ConfigFormat(str, Enum):
    text = "text"
    json = "json"


def as_data(eff: Effective, today: date | None = None) -> dict[str, Any]:
    """The effective config as JSON-ready data: each value with its source, the ignore rules with their state."""
    values: dict[str, Any] = {
        "storm_count": eff.storm_count, "storm_window": eff.storm_window, "slow_count": eff.slow_count,
        "min_severity": eff.min_severity, "fail_on": eff.fail_on,
        "signatures": [str(folder) for folder in eff.signatures], "request_id_keys": list(eff.request_id_keys),
        "redact_patterns": list(eff.redact_patterns),
        "services": dict(eff.services), "sentry_dsn": "(set)" if eff.sentry_dsn else None,  # never print the key
    }
    return {
        "config_file": str(eff.config_path) if eff.config_path else None,
        "values": {key: {"value": values[key], "source": eff.sources[key]} for key in _KEYS},
        "ignore": [
            {"fingerprint": rule.fingerprint, "signature": rule.signature, "service": rule.service,
             "reason": rule.reason, "until": rule.until.isoformat() if rule.until else None,
             "expired": rule.expired(today), "source": rule.origin}
            for rule in eff.ignore
        ],
        "ignore_source": eff.sources["ignore"],
    }


_UNSET = {
    "storm_count": "signatures' own: 20", "storm_window": "signatures' own: 60s",
    "slow_count": "signature's own: 1", "fail_on": "never", "signatures": "built-in only",
    "request_id_keys": "built-in keys only", "redact_patterns": "built-in rules only", "services": "as observed",
    "sentry_dsn": "not set",
}


def _shown(key: str, value: Any) -> str:
    if value in (None, [], {}):
        return f"({_UNSET.get(key, 'unset')})"
    if key == "services":
        return ", ".join(f"{seen} -> {name}" for seen, name in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def print_text(data: dict[str, Any], file: Any = None) -> None:
    out = console(soft_wrap=True, file=file)
    out.print(f"[bold]config file[/] {escape(data['config_file'] or '(none found: defaults)')}")
    for key, entry in data["values"].items():
        out.print(f"{key:<16} {escape(_shown(key, entry['value'])):<40} [dim]{escape(entry['source'])}[/]")
    rules = data["ignore"]
    out.print(f"[bold]ignore[/] {len(rules)} rule(s)  [dim]{escape(data['ignore_source'])}[/]")
    for rule in rules:
        what = f"fingerprint {rule['fingerprint']}" if rule["fingerprint"] else f"signature {rule['signature']}"
        if rule["service"]:
            what += f" on service {rule['service']}"
        if rule["until"]:
            state = f"EXPIRED (until {rule['until']})" if rule["expired"] else f"active until {rule['until']}"
        else:
            state = "active"
        out.print(f"  {escape(what)}: {escape(rule['reason'])}  [bold]{state}[/]  [dim]{escape(rule['source'])}[/]")


def config_command(
    config: ConfigOption = None,
    output_format: Annotated[ConfigFormat, typer.Option("--format", "-f", help="text or json.")] = ConfigFormat.text,
    output: OutputFileOption = None,
    storm_count: StormCountOption = None,
    storm_window: StormWindowOption = None,
    slow_count: SlowCountOption = None,
    min_severity: Annotated[Severity | None, typer.Option(help="As for scan: see its effect.")] = None,
    fail_on: Annotated[Severity | None, typer.Option(help="As for scan: see its effect.")] = None,
    signatures: SignaturesOption = None,
) -> None:
    """Print the effective configuration and where each value comes from (default, config file key, flag, env).

    The config file is logscan.toml, or the tool.logscan table of pyproject.toml, in the current folder or the nearest
    parent that has one, or --config FILE. Ignore rules are listed with their reason and whether they expired.
    """
    try:
        if storm_window is not None:
            parse_duration(storm_window)
        loaded = load_config(config)
        flags = {
            "storm_count": storm_count, "storm_window": storm_window, "slow_count": slow_count,
            "min_severity": min_severity.value if min_severity else None,
            "fail_on": fail_on.value if fail_on else None,
            "signatures": [str(Path(folder)) for folder in signatures] if signatures else None,
        }
        eff = effective(loaded, flags, sentry_env=DSN_ENV)  # a missing --signatures folder: ConfigError, as in scan
    except (ConfigError, ValueError) as exc:
        raise fail(str(exc)) from None
    data = as_data(eff)
    with open_output(output) as out:
        if output_format is ConfigFormat.json:
            out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            print_text(data, file=None if out is sys.stdout else out)
