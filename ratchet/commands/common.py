"""Steps shared by the commands."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ratchet.baseline import Baseline
from ratchet.config import Config
from ratchet.errors import RatchetError
from ratchet.measurement import Measurement


def measure_here(root: Path, config: Config, data: Sequence[str] = ()) -> Measurement:
    """The working tree's numbers (``init``, ``update``, ``--measure``): the
    given data, or the whole suite run in place (recording the test map)."""
    from ratchet import measure

    if data:
        return measure.given(root, config, data)
    from ratchet.workspace import in_place

    return measure.run(in_place(root, config))


def repo_relative(root: Path, paths: Sequence[str], cwd: Path) -> list[str]:
    """``paths`` (relative to ``cwd`` or absolute) as repository paths with ``/``."""
    real_root = os.path.realpath(root)
    out = []
    for raw in paths:
        full = os.path.realpath(os.path.join(cwd, raw))
        rel = os.path.relpath(full, real_root).replace(os.sep, "/")
        if rel == ".." or rel.startswith("../"):
            raise RatchetError(f"{raw}: path outside the repository {root}")
        out.append(rel)
    return out


def ensure_writable(root: Path, baseline: str) -> None:
    """Refuse before a long test run, not after it, to write where nothing can be."""
    folder = (root / baseline).parent
    if not folder.is_dir():
        raise RatchetError(
            f"{baseline}: the folder {folder.relative_to(root)} does not exist",
            hint="create it, or set [tool.ratchet] baseline to a path in an existing folder",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RatchetError(f"{baseline}: cannot write in {folder}")


def ensure_same_mode(baseline: Baseline, measurement: Measurement, source: str) -> None:
    """Refuse to compare numbers measured with and without branch coverage."""
    if baseline.branch != measurement.branch:

        def mode(branch: bool) -> str:
            return "branch" if branch else "statement"

        raise RatchetError(
            f"{source} was measured in {mode(baseline.branch)} mode, this run in "
            f"{mode(measurement.branch)} mode: the numbers cannot be compared",
            hint="restore the coverage setting, or start over with `ratchet init --force`",
        )


def measurement_notes(measurement: Measurement) -> list[str]:
    """What a measurement set aside, to be said wherever it is used."""
    from ratchet.printable import safe

    notes = []
    if measurement.unrecordable:
        names = ", ".join(safe(repr(p)) for p in measurement.unrecordable[:3])
        more = len(measurement.unrecordable) - 3
        notes.append(
            f"{len(measurement.unrecordable)} measured file(s) have names the baseline cannot "
            f"hold (a control character or a backslash), so they are not judged: {names}"
            + (f" and {more} more" if more > 0 else "")
        )
    if measurement.outside:
        notes.append(f"{len(measurement.outside)} measured files outside the repository ignored")
    return notes


def version_note(baseline: Baseline, measurement: Measurement) -> str | None:
    if baseline.coverage_version != measurement.coverage_version:
        return (
            f"the baseline was measured with coverage.py {baseline.coverage_version}, this run "
            f"with {measurement.coverage_version}; a change in coverage.py can move numbers"
        )
    return None
