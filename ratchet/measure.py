"""Measure: run the project's tests in a workspace, or read given coverage data.

The three ways a command gets its numbers, each returning a complete
:class:`~ratchet.measurement.Measurement`:

- :func:`given`: ``--data``, one ``coverage json`` report or ``.coverage``
  data files (combined as ``coverage combine`` does);
- :func:`run`: the test command under coverage; a pytest suite through the
  test-selection engine (:mod:`ratchet.selection`), which records the test
  map and, with ``select``, runs only what a change needs;
- :func:`rerun`: the same run once more, for ``check --confirm``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ratchet import git, runner, scratch
from ratchet.config import Config
from ratchet.errors import RatchetError, TestRunFailed
from ratchet.report import RunMode
from ratchet.workspace import Workspace, in_place, refuse_worktree_imports

if TYPE_CHECKING:  # Imported where used: not on a check's way to starting its tests.
    from ratchet.measurement import CoverageReport, FileResult, Measurement


def given(root: Path, config: Config, data: Sequence[str]) -> Measurement:
    """The numbers in given coverage data, as the project's coverage.py reports them."""
    from ratchet.measurement import Measurement, load_json_report

    paths = [Path(p) for p in data]
    heads = [_head(p) for p in paths]
    is_json = [head.lstrip().startswith(b"{") for head in heads]
    if is_json == [True]:
        return Measurement(load_json_report(paths[0], root), RunMode.DATA, f"report {data[0]}")
    if any(is_json):
        raise RatchetError("--data takes one coverage JSON report, or .coverage data files")
    ws = in_place(root, config, tests=False)
    report: CoverageReport | None = None
    if len(paths) == 1 and heads[0].startswith(_SQLITE):
        # One data file is reported as it is, as `coverage json` reports it
        # ([paths] remapped at report time): a copy, so that the user's file
        # is never touched, costs less than combining it.
        with scratch.folder() as workdir:
            data_file = workdir / ".coverage"
            shutil.copyfile(paths[0], data_file)
            report = _report(ws, data_file, workdir, root)
    if report is None or not (report.files or report.outside or report.unrecordable):
        # Files given, or one that reported nothing: `coverage combine` says
        # what is wrong with a file that is not coverage.py's.
        with scratch.folder() as workdir:
            report = _report(ws, runner.combine(ws, paths, workdir), workdir, root)
    return Measurement(report, RunMode.DATA, f"data {', '.join(data)}")


def _report(ws: Workspace, data_file: Path, workdir: Path, root: Path) -> CoverageReport:
    report, _ = runner.json_report(
        ws, data_file, workdir, RatchetError, git_dir=git.git_dir(root), root=root
    )
    return report


def run(
    ws: Workspace,
    *,
    select: bool = False,
    full_reason: str = "",
    meanwhile: Callable[[], None] | None = None,
    on_kept: Callable[[Mapping[str, FileResult]], None] | None = None,
) -> Measurement:
    """Run the tests under coverage in ``ws``.

    A pytest suite records the test map; with ``select``, only the tests the
    map says can change the judged files run, unless ``full_reason`` says
    why not.  Any other test command runs whole.  ``meanwhile``: work to do
    while the tests run, if a test process runs (an error there stops it).
    ``on_kept``: given, while a selection runs, the map's results before it,
    which the measurement keeps for every file the run does not measure.
    """
    with scratch.folder() as workdir:
        if ws.module != "pytest":
            why = "test selection needs pytest" if select else ""
            m = _whole(ws, workdir, why, meanwhile)
        else:
            started = None
            if select:  # Started before the session's imports, which it overlaps.
                from ratchet.selection import early

                started = early.start(ws, workdir, git.git_dir(ws.repo))
            from ratchet.selection.session import run_pytest

            m = run_pytest(
                ws,
                workdir,
                select=select,
                full_reason=full_reason,
                meanwhile=meanwhile,
                on_kept=on_kept,
                started=started,
            )
    if ws.snapshot:
        _refuse_outside_measured(ws, m)
    return m


def rerun(ws: Workspace, files: Collection[str], tests: Collection[str] | None) -> Measurement:
    """Repeat the run of ``tests`` (None: all) for ``check --confirm``; ``files``' numbers."""
    with scratch.folder() as workdir:
        if ws.module != "pytest":
            return _whole(ws, workdir, "")
        from ratchet.selection.session import repeat_pytest

        return repeat_pytest(ws, workdir, files, tests)


def _whole(
    ws: Workspace, workdir: Path, why: str, meanwhile: Callable[[], None] | None = None
) -> Measurement:
    """The test command run as it is, without the test-map plugin (not pytest)."""
    from ratchet.measurement import Measurement

    test_run = runner.start_tests(ws, workdir).finish(meanwhile=meanwhile)
    report, _ = runner.json_report(
        ws, test_run.data_file, workdir, TestRunFailed, git_dir=git.git_dir(ws.repo), root=ws.root
    )
    how = f"`{' '.join(ws.config.test_command)}` ({test_run.seconds:.1f} s)"
    return Measurement(report, RunMode.FULL, how, why, warnings=test_run.warnings)


def _refuse_outside_measured(ws: Workspace, m: Measurement) -> None:
    """Refuse numbers from a snapshot run that measured the working tree's files."""
    import os

    real = os.path.realpath(ws.repo)
    inside = [os.path.realpath(key) for key in m.outside]
    refuse_worktree_imports(
        ws.repo,
        [
            os.path.relpath(p, real).replace(os.sep, "/")
            for p in inside
            if p.startswith(real + os.sep)
        ],
    )


_SQLITE = b"SQLite format 3\0"  # How coverage.py's data files begin.


def _head(path: Path) -> bytes:
    """The first bytes of a --data file: enough to tell a JSON report and a data file."""
    try:
        with path.open("rb") as f:
            return f.read(64)
    except FileNotFoundError:
        raise RatchetError(f"{path}: no such file", hint="check the --data paths") from None
    except IsADirectoryError:
        raise RatchetError(f"{path}: is a folder; name the data files") from None
