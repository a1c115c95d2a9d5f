"""Coverage numbers of one file, compared exactly.

Percentages are :class:`fractions.Fraction` values derived the way coverage.py
derives them (covered statements plus covered branches over statements plus
branches; a file with nothing to cover is 100%).  They are rounded only for
display, with coverage.py's rule that nothing short of 100 shows as 100 and
nothing above 0 shows as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

HUNDRED = Fraction(100)


@dataclass(frozen=True)
class Numbers:
    """Integer coverage counts; branches are 0 unless branch mode is on."""

    statements: int
    covered: int
    branches: int = 0
    covered_branches: int = 0

    @property
    def units(self) -> int:
        """What the percentage counts: statements plus branches."""
        return self.statements + self.branches

    @property
    def covered_units(self) -> int:
        return self.covered + self.covered_branches

    @property
    def missing_units(self) -> int:
        return self.units - self.covered_units

    @property
    def percent(self) -> Fraction:
        # As coverage.py's Numbers.pc_covered: nothing to cover is 100%.
        if self.units == 0:
            return HUNDRED
        return HUNDRED * self.covered_units / self.units

    def display(self, precision: int = 2) -> str:
        """The percentage as coverage.py's reports print it, to the digit.

        coverage.py divides in floating point before rounding; doing the same
        here keeps our text identical to its reports in half-way cases.
        """
        pc = 100.0 if self.units == 0 else (100.0 * self.covered_units) / self.units
        return display_percent(pc, precision)

    def gap(self, target: Fraction) -> int:
        """Units still to cover to reach ``target`` percent (never negative)."""
        # ceil(target / 100 * units) on integers: -(-a // b) is ceil(a / b).
        needed = -(-target.numerator * self.units // (target.denominator * 100))
        return max(0, needed - self.covered_units)

    def percent_below(self, other: Numbers) -> bool:
        """Is this percentage strictly lower than ``other``'s?  Exact, on integers."""
        # a/b < c/d  <=>  a*d < c*b for positive b, d; no units means 100%.
        # Spelled out rather than through the properties: this runs per file.
        units = self.statements + self.branches
        if units == 0:
            return False
        covered = self.covered + self.covered_branches
        other_units = other.statements + other.branches
        if other_units == 0:
            return covered < units
        return covered * other_units < (other.covered + other.covered_branches) * units

    def __add__(self, other: Numbers) -> Numbers:
        return Numbers(
            self.statements + other.statements,
            self.covered + other.covered,
            self.branches + other.branches,
            self.covered_branches + other.covered_branches,
        )


ZERO = Numbers(0, 0)


def display_percent(pc: float | Fraction, precision: int = 2) -> str:
    """Format a percentage the way coverage.py's ``display_covered`` does."""
    value = float(pc)
    near0 = 1.0 / 10**precision
    if 0 < value < near0:
        value = near0
    elif 100.0 - near0 < value < 100.0:
        value = 100.0 - near0
    else:
        value = round(value, precision)
    return f"{value:.{precision}f}%"


def parse_percent(value: object, what: str) -> Fraction:
    """A percentage from configuration or the baseline, exactly as written.

    ``27.5`` in TOML is a float; going through ``str`` keeps it 55/2 rather
    than the binary approximation.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, not {value!r}")
    result = Fraction(str(value))
    if not 0 <= result <= HUNDRED:
        raise ValueError(f"{what} must be between 0 and 100, not {value}")
    return result


def format_percent_value(value: Fraction) -> str:
    """Write a percentage for TOML: an integer when whole, else a decimal."""
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{float(value)!r}"
    if Fraction(text) != value:  # Never written by us; keep exactness visible.
        raise ValueError(f"percentage {value} has no exact decimal form")
    return text
