"""No measurement, no verdict.

A run in which coverage.py saw none of the project's code (pytest-cov or
another plugin took the tracer over, the tests ran in another interpreter,
``source`` names the wrong folder) still produces a report: every measured
file at 0, or no file at all.  Judged, it would pass every later commit;
recorded, it would make a worthless baseline.  Such a run is a failed run.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING

from ratchet.errors import RatchetError, TestRunFailed
from ratchet.report import RunMode

if TYPE_CHECKING:
    from ratchet.baseline import Baseline
    from ratchet.measurement import Measurement

_CAUSES = (
    "a plugin that measures on its own (pytest-cov), a [tool.coverage.run] source that "
    "misses the code the tests import, or tests run by another interpreter or in "
    "processes coverage.py does not measure"
)


def refuse_empty(
    measurement: Measurement,
    baseline: Baseline | None = None,
    exists: Container[str] = (),
) -> None:
    """Raise when ``measurement`` cannot be evidence of anything.

    It measured no file, or executed no line of any measured file; or the
    ``baseline`` has files that still exist (``exists``) and none of them
    was measured.  A test run's failure exits 3; given data's exits 2.
    """
    given = measurement.mode is RunMode.DATA
    error = RatchetError if given else TestRunFailed
    what = "the given data" if given else "the test run"
    said = _said(measurement.warnings)
    files = measurement.files
    if not files:
        raise error(
            f"{what} measured nothing: coverage.py collected no data for this repository"
            f"{said}; nothing was judged",
            hint=f"likely: {_CAUSES}",
        )
    # Most runs covered a line of the first files: the sums only when none did.
    covered = any(r.numbers.covered for r in files.values())
    if not covered and any(r.numbers.statements for r in files.values()):
        raise error(
            f"{what} executed no line of the {len(files)} measured file(s){said}; "
            "nothing was judged",
            hint=f"likely: {_CAUSES}",
        )
    if baseline is None:
        return
    if any(p in files for p in baseline.files if p in exists):
        return  # Most runs: the first files of the baseline were measured.
    known = [p for p in baseline.files if p in exists]
    if known:
        raise error(
            f"{what} measured none of the {len(known)} file(s) the baseline records"
            f"{said}; nothing was judged",
            hint=f"likely: {_CAUSES}",
        )


def _said(warnings: Sequence[str]) -> str:
    if not warnings:
        return ""
    shown = "; ".join(warnings[:3])
    return f" (coverage.py: {shown})"


def coverage_warnings(log: str) -> tuple[str, ...]:
    """coverage.py's warnings in a run's output, each once, in order."""
    found: list[str] = []
    for line in log.splitlines():
        for mark in ("CoverageWarning: ", "Coverage.py warning: "):
            at = line.find(mark)
            if at >= 0:
                # Without the "(code); see https://..." tail coverage.py adds.
                message = line[at + len(mark) :].split("; see http")[0].strip()
                message = re.sub(r"\s*\([a-z-]+\)$", "", message)
                if message and message not in found:
                    found.append(message)
    return tuple(found)
