"""Ignore rules applied to ranked incidents: the config's active `[[ignore]]` rules, compiled once.

A rule names a fingerprint or a signature, optionally limited to one service. `Ignores.of` compiles the
active rules (analyzer.config validates them, `Effective.active_rules` drops the expired ones) into
lookups; `apply_ignores` removes the incidents they name and ranks the rest again, so no rank, `caused_by`
or `why` still points at an ignored incident (nor raises a cause's severity on its account).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import polars as pl

from analyzer.analysis.ranking import RANK_COLUMNS, rank
from analyzer.config import IgnoreRule

@dataclass(frozen=True)
class Ignores:
    """Active `[[ignore]]` rules compiled into one lookup per kind of rule, so 20,000 rules cost what a few do.

    Rules are grouped by the fields they constrain: a fingerprint or a signature for any service is a
    set membership (`is_in`); one limited to a service is a (value, service) pair found by a semi join.
    An incident without a service matches no service-limited rule.
    """

    fingerprints: pl.Series
    signatures: pl.Series
    fingerprint_services: pl.DataFrame  # fingerprint, service
    signature_services: pl.DataFrame  # signature, service

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

        def pairs(kind: str) -> pl.DataFrame:
            return pl.DataFrame(sorted(limited[kind]), schema={kind: pl.String, "service": pl.String}, orient="row")

        return cls(pl.Series(sorted(anywhere["fingerprint"]), dtype=pl.String),
                   pl.Series(sorted(anywhere["signature"]), dtype=pl.String), pairs("fingerprint"), pairs("signature"))

    def __bool__(self) -> bool:
        return bool(len(self.fingerprints) or len(self.signatures)
                    or self.fingerprint_services.height or self.signature_services.height)

    def mask(self, incidents: pl.DataFrame) -> pl.Series:
        """True for each incident a rule ignores."""
        rows = incidents.select("fingerprint", "signature", "service").with_row_index("_row")
        anywhere = pl.col("fingerprint").is_in(self.fingerprints.implode()) | pl.col("signature").is_in(
            self.signatures.implode())
        hit = rows.select(anywhere.fill_null(False).alias("ignored")).to_series()
        for kind, pairs in (("fingerprint", self.fingerprint_services), ("signature", self.signature_services)):
            if pairs.height:
                hit = hit.scatter(rows.join(pairs, on=[kind, "service"], how="semi").get_column("_row"), True)
        return hit


NO_IGNORES: Final = Ignores.of(())


def apply_ignores(incidents: pl.DataFrame, ignores: Ignores, min_severity: str) -> tuple[pl.DataFrame, int]:
    """Incidents without the ignored ones, ranked again when they were ranked (`min_severity` as the ranking's),
    and how many went."""
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


