"""One run of logscan, built once from the effective configuration: what `scan` and `tail` drive.

`Run.build` turns the effective configuration (analyzer.config: the config file with the flags over it)
and the run's own flags into what every run needs, once: the compiled signatures, the analysis
`Settings` (time window, window-rule overrides), the active ignore rules, the `--service` view, the
redactor and the run's `Diagnostics`. It hands out the pipeline the commands feed, and does the report
steps they share: incidents with the ignore rules applied once, the view a person asked for (severity
floor, services), the report model with its history and redaction, and the exit verdict.

Commands keep only their options, their loop (batch, live, Dask), rendering and errors; analyzer.config
only finds, validates and merges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from analyzer.analysis.ignores import Ignores, apply_ignores
from analyzer.analysis.settings import Settings, WindowOverride
from analyzer.analysis.signatures import SignatureError, SignatureSet, load_signatures
from analyzer.config import Effective
from analyzer.diagnostics import Diagnostics
from analyzer.report.model import build_report, history_rows
from analyzer.report.redact import Redactor
from analyzer.timespec import parse_instant
from analyzer.vocabulary import SEVERITIES

if TYPE_CHECKING:  # the stages (and Polars) only once there is something to read; the state store only with
    # --state or --incremental (open_state)
    import polars as pl

    from analyzer.analysis.engine import Analysis
    from analyzer.ingest.pipeline import Pipeline
    from analyzer.state.store import State

#: The window rules `storm_count` / `storm_window` set; `slow_count` sets `slow_request`.
STORM_SIGNATURES: Final = ("http_422_storm", "http_5xx_storm", "http_429_storm")


class RunError(ValueError):
    """The run cannot be built (a bad time, a bad signature file): one line to print, exit 2."""


def settings_from(eff: Effective, since: str | None = None, until: str | None = None) -> Settings:
    """The analysis Settings of a run: the time filter and the window thresholds (ValueError for bad times)."""
    settings = Settings(since=parse_instant(since) if since else None, until=parse_instant(until) if until else None,
                        min_severity=eff.min_severity)
    window = eff.storm_window_seconds
    if eff.storm_count or window:
        for sig_id in STORM_SIGNATURES:
            settings.overrides[sig_id] = WindowOverride(window_seconds=window, min_count=eff.storm_count)
    if eff.slow_count:
        settings.overrides["slow_request"] = WindowOverride(min_count=eff.slow_count)
    return settings


def service_filter(incidents: pl.DataFrame, services: Sequence[str]) -> pl.DataFrame:
    """The incidents felt by, or with evidence from, any of `services` (all of them when none is named)."""
    if not services or incidents.height == 0:
        return incidents
    import polars as pl

    names = list(services)
    keep = pl.col("service").is_in(names)
    if "services" in incidents.columns:
        keep |= pl.col("services").list.eval(pl.element().is_in(names)).list.any().fill_null(False)
    return incidents.filter(keep)


@dataclass
class Run:
    """Everything one run uses, built once (`build`); see the module docstring."""

    eff: Effective
    signatures: SignatureSet
    settings: Settings
    ignores: Ignores
    redactor: Redactor
    services: tuple[str, ...] = ()  # --service: the incidents these services felt or logged
    diag: Diagnostics = field(default_factory=Diagnostics)
    state: State | None = None  # scan --state / --incremental (open_state)

    @classmethod
    def build(cls, eff: Effective, *, since: str | None = None, until: str | None = None,
              services: Sequence[str] = (), redact: bool = True) -> Run:
        """The run `eff` and these flags describe; RunError (one line, exit 2) for a bad time or signature file."""
        try:
            settings = settings_from(eff, since, until)
            signatures = load_signatures(eff.signatures)
        except (ValueError, SignatureError) as exc:
            raise RunError(str(exc)) from None
        return cls(eff, signatures, settings, Ignores.of(eff.active_rules()),
                   Redactor(eff.redact_patterns, enabled=redact), tuple(services))

    def pipeline(self, log_format: str | None = None, kind: type[Pipeline] | None = None, *, screened: bool = False,
                 **options: Any) -> Pipeline:
        """A pipeline reading into this run's Diagnostics, with the config's request ID keys and service names;
        `screened`: it normalizes only the records this run's signatures may need (analyzer.ingest.screen).
        Its tally counts the records within --since/--until, when given (`Tally.in_period`)."""
        from analyzer.ingest.pipeline import Pipeline
        from analyzer.ingest.screen import Screen

        return (kind or Pipeline)(self.diag, fmt=log_format, request_id_keys=self.eff.request_id_keys,
                                  services=self.eff.services, screen=Screen(self.signatures) if screened else None,
                                  period=self.period, **options)

    @property
    def period(self) -> tuple[datetime | None, datetime | None] | None:
        """`--since`/`--until` (either may be None), or None when neither is given: what the tally counts within."""
        since, until = self.settings.since, self.settings.until
        return (since, until) if since is not None or until is not None else None

    def open_state(self, state_dir: str | None, incremental: bool, paths: Sequence[str]) -> State | None:
        """The job's checkpoints and history (`--state DIR`, or `--incremental`: the default folder), opened before
        anything is read so that an unusable folder stops the run at once (RunError)."""
        if state_dir is not None or incremental:
            from analyzer.state.store import StateError, open_state

            try:
                self.state = open_state(state_dir, paths, self.diag)
            except StateError as exc:
                raise RunError(str(exc)) from None
        return self.state

    def analysis(self) -> Analysis:
        """The batch analysis of this run's signatures and settings (tail uses a bounded one built from the run)."""
        from analyzer.analysis.engine import Analysis

        return Analysis(self.signatures, self.settings)

    def incidents(self, analysis: Analysis | None) -> tuple[pl.DataFrame | None, int]:
        """The analysis' ranked incidents with the ignore rules applied, and how many went. No analysis (nothing
        was read): None, no incident, and so for every step below."""
        return self.unignored(analysis.incidents()) if analysis is not None else (None, 0)

    def unignored(self, incidents: pl.DataFrame) -> tuple[pl.DataFrame, int]:
        """`incidents` without those the ignore rules name (the one place they are applied), ranked again, and
        how many went."""
        return apply_ignores(incidents, self.ignores, self.settings.min_severity)

    def view(self, incidents: pl.DataFrame | None, severity: bool = True) -> pl.DataFrame | None:
        """What a person asked to see: the `--service` incidents, at or above the severity floor (`severity`)."""
        if incidents is None:
            return None
        import polars as pl

        from analyzer.analysis.ranking import severity_at_least

        shown = service_filter(incidents, self.services)
        return shown.filter(severity_at_least(pl.col("severity"), self.eff.min_severity)) if severity else shown

    def report(self, summary: dict[str, Any], incidents: pl.DataFrame | None, traces: Any) -> dict[str, Any]:
        """The report model of `incidents` (ignored ones already gone): the shown ones, marked new, ongoing or
        regressed against the state's history, then redacted (the one copy every sink renders)."""
        report = build_report(summary, self.view(incidents), traces)
        state = self.state
        if state is not None:
            shown = SEVERITIES[SEVERITIES.index(self.eff.min_severity):]
            # history compares every incident found, not only the shown ones: --min-severity changes what is
            # shown, never what is new, regressed or resolved (analyzer.state.history)
            state.history.annotate(report, history_rows(incidents),
                                   shown=lambda entry: entry.get("severity") in (*shown, None))
        return self.redactor.data(report)

    def remember(self, incidents: pl.DataFrame | None) -> None:
        """With a state: record this run's incidents in the history and commit it (RunError when it cannot be
        written); only after a run that got this far, so a crashed run reads the same bytes again."""
        if self.state is None:
            return
        from analyzer.state.store import StateError

        # the history keeps titles for the next run's `resolved` list: no secret from a log at rest either
        shown = incidents.with_columns(self.redactor.series(incidents["title"])) if incidents is not None else None
        self.state.history.record(history_rows(shown), datetime.now(UTC))
        try:
            self.state.commit()
        except StateError as exc:
            raise RunError(str(exc)) from None

    def verdict(self, incidents: pl.DataFrame | None) -> int:
        """The exit code: 2 when an input could not be read, 1 when a `--service` incident is at or above
        `fail_on` (the severity floor does not narrow it), else 0."""
        if self.diag.errors:
            return 2
        gate = self.view(incidents, severity=False)
        if gate is None:
            return 0
        import polars as pl

        from analyzer.analysis.ranking import severity_at_least

        if self.eff.fail_on and gate.filter(severity_at_least(pl.col("severity"), self.eff.fail_on)).height:
            return 1
        return 0
