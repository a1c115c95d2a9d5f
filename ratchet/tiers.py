"""Tiers: classes of files that get a coverage target when first measured."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from ratchet.numbers import Numbers


@dataclass(frozen=True)
class TierRule:
    """Who joins a tier, and the target they get.

    A file joins when it has at least ``min_statements`` and at most
    ``max_statements`` statements and, if ``below_percent`` is set, is covered
    strictly less than that.  The first matching rule wins.
    """

    name: str
    target: Fraction
    min_statements: int = 0
    max_statements: int | None = None
    below_percent: Fraction | None = None

    def admits(self, numbers: Numbers) -> bool:
        if numbers.statements < self.min_statements:
            return False
        if self.max_statements is not None and numbers.statements > self.max_statements:
            return False
        return self.below_percent is None or numbers.percent < self.below_percent


# The seeds' tiers: "Tier 1" files are over 500 statements and under 20%
# covered; "Tier 2" files have 300 to 500 statements.  Both aim at 50%.
DEFAULT_TIERS: tuple[TierRule, ...] = (
    TierRule("Tier 1", Fraction(50), min_statements=501, below_percent=Fraction(20)),
    TierRule("Tier 2", Fraction(50), min_statements=300, max_statements=500),
)


def assign_tier(numbers: Numbers, rules: Sequence[TierRule]) -> TierRule | None:
    """The first tier whose rule admits a file with these numbers."""
    for rule in rules:
        if rule.admits(numbers):
            return rule
    return None
