"""Measure this repository's own suite as ``ratchet check`` measures it, in one run.

Imported first by ``tests/conftest.py``; it does nothing unless
``RATCHET_SELF_COVERAGE`` names a folder.  Then every process of the run
(the main one and each pytest-xdist worker) is measured from that moment,
before anything imports ratchet, with the repository's coverage
configuration, each writing a data file into that folder: the same
processes, from the same point, as ratchet's own measurement of a ``pytest``
run (``coverage run`` in the main process, its plugin in the workers).  CI
runs the README's test command once this way and judges the data with
``ratchet check --all --data``, instead of running the whole suite a second
time.  (ratchet removes ``RATCHET_*`` variables from the environment of the
tests it runs, so its own runs are never measured twice.)
"""

from __future__ import annotations

import os
from typing import Any

import pytest

_FOLDER = os.environ.get("RATCHET_SELF_COVERAGE", "")


def _start() -> Any:
    if not _FOLDER:
        return None
    import coverage

    if coverage.Coverage.current() is not None:  # Measured already (ratchet's own run).
        return None
    os.makedirs(_FOLDER, exist_ok=True)
    cov = coverage.Coverage(data_file=os.path.join(_FOLDER, ".coverage"), data_suffix=True)
    cov.start()
    return cov


_COVERAGE = _start()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    global _COVERAGE
    cov, _COVERAGE = _COVERAGE, None
    if cov is not None:
        cov.stop()
        cov.save()
