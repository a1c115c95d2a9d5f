"""Small baselines written by hand, for tests of merging and guarding."""

from __future__ import annotations

from ratchet.baseline import Baseline, Entry, dumps, loads
from ratchet.numbers import Numbers


def entry(covered: int, statements: int = 10) -> Entry:
    return Entry(Numbers(statements, covered, 0, 0))


def baseline_text(**covered: int) -> str:
    files = {f"pkg/{name}.py": entry(c) for name, c in covered.items()}
    return dumps(Baseline("7.0", False, files))


def covered_of(text: str) -> dict[str, int]:
    return {p: e.numbers.covered for p, e in loads(text).files.items()}
