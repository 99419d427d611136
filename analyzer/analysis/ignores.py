"""Ignore rules applied to ranked incidents: the config's active `[[ignore]]` rules, compiled once.

A rule names a fingerprint or a signature, optionally limited to one service. `Ignores.of` compiles the
active rules (analyzer.config validates them, `Effective.active_rules` drops the expired ones) into
lookups; `apply_ignores` removes the incidents they name and ranks the rest again, so no rank, `caused_by`
or `why` still points at an ignored incident (nor raises a cause's severity on its account).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Final

from analyzer.config import IgnoreRule

if TYPE_CHECKING:  # Polars only when there are incidents to filter: a run's rules are read before any data
    import polars as pl


@dataclass(frozen=True)
class Ignores:
    """Active `[[ignore]]` rules compiled into one lookup per kind of rule, so 20,000 rules cost what a few do.

    Rules are grouped by the fields they constrain: a fingerprint or a signature for any service is a
    set membership (`is_in`); one limited to a service is a (value, service) pair found by a semi join.
    An incident without a service matches no service-limited rule. The Polars lookups are built on the
    first `mask`.
    """

    fingerprints: tuple[str, ...]
    signatures: tuple[str, ...]
    fingerprint_services: tuple[tuple[str, str], ...]  # (fingerprint, service)
    signature_services: tuple[tuple[str, str], ...]  # (signature, service)

    @classmethod
    def of(cls, rules: Iterable[IgnoreRule]) -> Ignores:
        """The lookups of `rules` (duplicates are looked up once)."""
        anywhere: dict[str, set[str]] = {"fingerprint": set(), "signature": set()}
        limited: dict[str, set[tuple[str, str]]] = {"fingerprint": set(), "signature": set()}
        for rule in rules:
            kind, value = ("fingerprint", rule.fingerprint) if rule.fingerprint else ("signature", rule.signature)
            if rule.service:
                limited[kind].add((str(value), rule.service))
            else:
                anywhere[kind].add(str(value))
        return cls(tuple(sorted(anywhere["fingerprint"])), tuple(sorted(anywhere["signature"])),
                   tuple(sorted(limited["fingerprint"])), tuple(sorted(limited["signature"])))

    def __bool__(self) -> bool:
        return bool(self.fingerprints or self.signatures or self.fingerprint_services or self.signature_services)

    @cached_property
    def _lookups(self) -> tuple[pl.Series, pl.Series, dict[str, pl.DataFrame]]:
        """The rules as Polars values: fingerprints and signatures for any service, (value, service) pairs by kind."""
        import polars as pl

        def pairs(kind: str, rows: tuple[tuple[str, str], ...]) -> pl.DataFrame:
            return pl.DataFrame(list(rows), schema={kind: pl.String, "service": pl.String}, orient="row")

        return (pl.Series(self.fingerprints, dtype=pl.String), pl.Series(self.signatures, dtype=pl.String),
                {"fingerprint": pairs("fingerprint", self.fingerprint_services),
                 "signature": pairs("signature", self.signature_services)})

    def mask(self, incidents: pl.DataFrame) -> pl.Series:
        """True for each incident a rule ignores."""
        import polars as pl

        fingerprints, signatures, by_service = self._lookups
        rows = incidents.select("fingerprint", "signature", "service").with_row_index("_row")
        anywhere = pl.col("fingerprint").is_in(fingerprints.implode()) | pl.col("signature").is_in(signatures.implode())
        hit = rows.select(anywhere.fill_null(False).alias("ignored")).to_series()
        for kind, pairs in by_service.items():
            if pairs.height:
                hit = hit.scatter(rows.join(pairs, on=[kind, "service"], how="semi").get_column("_row"), True)
        return hit


NO_IGNORES: Final = Ignores.of(())


def apply_ignores(incidents: pl.DataFrame, ignores: Ignores, min_severity: str) -> tuple[pl.DataFrame, int]:
    """Incidents without the ignored ones, ranked again when they were ranked (`min_severity` as the ranking's),
    and how many went."""
    from analyzer.analysis.ranking import RANK_COLUMNS, rank

    if not ignores or incidents.height == 0:
        return incidents, 0
    mask = ignores.mask(incidents)
    gone = int(mask.sum())
    if not gone:
        return incidents, 0
    kept = incidents.filter(~mask)
    if "rank" in kept.columns:
        kept = rank(kept.drop(RANK_COLUMNS), min_severity=min_severity)
    return kept, gone


