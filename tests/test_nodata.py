"""coverage.py's warnings, as a run's output prints them, each said once."""

from __future__ import annotations

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
