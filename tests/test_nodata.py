"""coverage.py's warnings, as a run's output prints them, each said once."""

from __future__ import annotations

import pytest

from ratchet.errors import TestRunFailed
from ratchet.nodata import coverage_warnings

LOG = """\
.....
/x/control.py:9: CoverageWarning: Module pkg.gone was never imported. (module-not-imported)
  self._warn(f"Module {pkg} was never imported.", slug="module-not-imported")
Coverage.py warning: No data was collected. (no-data-collected); see https://coverage.readthedocs.io/en/7.6.1/messages.html#warning-no-data-collected
/x/control.py:9: CoverageWarning: Module pkg.gone was never imported. (module-not-imported)
CoverageWarning:
"""


def test_each_warning_once_in_order_without_its_tail() -> None:
    assert coverage_warnings(LOG) == (
        "Module pkg.gone was never imported.",
        "No data was collected.",
    )


def test_a_log_without_warnings_has_none() -> None:
    assert coverage_warnings("1 passed in 0.01s\n") == ()


def test_a_run_that_measured_files_no_longer_in_the_baseline_is_evidence() -> None:
    """None of the baseline's files was measured, but none of them exists
    any more: a run of the new files is evidence, not an empty run."""
    from ratchet.baseline import Baseline, Entry
    from ratchet.measurement import CoverageReport, FileResult, Measurement
    from ratchet.nodata import refuse_empty
    from ratchet.numbers import Numbers
    from ratchet.report import RunMode

    new = {"new.py": FileResult(Numbers(4, 3))}
    run = Measurement(CoverageReport(new, "7.6", False), RunMode.FULL, "pytest")
    gone = Baseline("7.6", False, {"old.py": Entry(Numbers(4, 2))})
    refuse_empty(run, gone, exists={"new.py"})  # old.py is gone: no error.
    with pytest.raises(TestRunFailed, match="measured none of the 1 file"):
        refuse_empty(run, gone, exists={"new.py", "old.py"})
