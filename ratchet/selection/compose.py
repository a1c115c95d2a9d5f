"""Exact numbers without running unaffected tests.

For a file whose numbers can have changed, the lines a full run would have
executed in it are the union, over every unit of the new run, of what it
executes: the units that ran again, as they ran now; every other unit, as
the map has it, carried to the new line numbers.  Those lines become a
coverage data file, and the project's own coverage.py reports on it, with
the project's configuration, plugins and analysis (statements, exclusions,
branch structure; :mod:`ratchet.coverage_report`); ratchet never counts a
line itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ratchet import runner
from ratchet.coverage_report import FUNCTIONS, cache_path
from ratchet.errors import TestRunFailed
from ratchet.measurement import CoverageReport, load_json_report

if TYPE_CHECKING:
    from ratchet.workspace import Workspace

# Run by the project's interpreter, started while the tests run: it imports
# coverage.py, then waits for the spec's folder on its input (none: not
# needed), makes a data file of the given lines (and the unexecuted source
# files a full run would have touched), and reports on the named files.
_COMPOSE = """\
import json
import os
import sys
import warnings

import coverage

folder = sys.stdin.readline().rstrip("\\n")
if not folder:
    sys.exit(0)
spec_path, data_file, outfile = (os.path.join(folder, n) for n in sys.argv[1:4])
with open(spec_path, encoding="utf-8") as f:
    spec = json.load(f)
warnings.simplefilter("ignore")
cov = coverage.Coverage(data_file=data_file)
files = spec["files"]
# A named file that ran nothing is reported only if a full run's save would
# touch it (an unexecuted source file): saving a measurement that ran
# nothing does the same.  That save walks every source folder (seconds, at
# 20,000 files); the walk is narrowed to the folders that lead to the named
# files.  coverage.py's own rules still decide what it finds there (a
# folder without __init__.py, omit patterns, plugins): a folder is visited
# only if the whole walk would visit it.  coverage.py walks with its own
# copy of os (coverage.misc.isolate_module); if it does not, or walks
# another way, the walk is whole, and finds the same.
unexecuted = [f for f in spec["report"] if f not in files]
if unexecuted:
    try:
        from coverage.misc import isolate_module

        walking = isolate_module(os)
    except ImportError:
        walking = os

    def where(path):
        return os.path.normcase(os.path.realpath(path))

    leading = set()
    for name in unexecuted:
        folder = os.path.dirname(where(name))
        while folder not in leading:
            leading.add(folder)
            folder, parent = os.path.dirname(folder), folder
            if folder == parent:
                break
    whole_walk = walking.walk

    def narrowed_walk(top, *args, **kwargs):
        for folder, subfolders, names in whole_walk(top, *args, **kwargs):
            subfolders[:] = [d for d in subfolders if where(os.path.join(folder, d)) in leading]
            yield folder, subfolders, names

    walking.walk = narrowed_walk
    try:
        cov.start()
        cov.stop()
        cov.save()
    finally:
        walking.walk = whole_walk
data = cov.get_data()
if spec["branch"]:
    data.add_arcs({f: list(zip(v[::2], v[1::2])) for f, v in files.items()})
else:
    data.add_lines(files)
if spec["tracers"]:
    data.add_file_tracers(spec["tracers"])
data.write()
measured = set(data.measured_files())
report = [f for f in spec["report"] if f in measured]
# The same object reports: loading again would look for another file when
# the configuration names one per process (parallel, patch = subprocess).
if report:
    ratchet_report(cov, outfile, report, sys.argv[4])
else:
    meta = {"version": coverage.__version__, "branch_coverage": spec["branch"]}
    with open(outfile, "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "files": {}}, f)
# Its report is written and closed: the interpreter's teardown (a third of
# this process's time after its go) is skipped; ratchet waits for the exit.
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
"""
_COMPOSE = _COMPOSE.replace("\nimport coverage\n", "\nimport coverage\n" + FUNCTIONS, 1)
_NAMES = ("compose.json", ".coverage.composed", "composed.json")


class Spent(Exception):
    """A composer reports once: asked again, it would have nothing new to say."""


class Composer:
    """The project's interpreter with coverage.py imported, ready to report.

    Started before the selected tests run, so that its start-up (a good part
    of a small selection's own time) overlaps theirs.  Use as a context
    manager: unused, it is told so and exits.
    """

    def __init__(self, ws: Workspace, workdir: Path, git_dir: Path) -> None:
        self.ws = ws
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "compose.log"
        self.spent = False
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(ws.python), "-c", _COMPOSE, *_NAMES, cache_path(git_dir)],
                cwd=ws.root,
                env=dict(ws.env),
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def __enter__(self) -> Composer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(OSError):
                self.proc.communicate(b"", timeout=30)
            if self.proc.returncode is None:
                self.proc.kill()
                self.proc.wait()

    def report(
        self,
        lines: Mapping[str, Sequence[int]],
        wanted: Sequence[str],
        *,
        branch: bool,
        tracers: Mapping[str, str],
    ) -> CoverageReport:
        """coverage.py's report on ``wanted`` (repository paths) given the lines
        (or flat arcs, in ``branch`` mode) a full run would have executed."""
        if self.spent:  # Its process has ended; its last answer is not this one's.
            raise Spent("the composer reported already")
        self.spent = True
        root = self.ws.root.resolve()
        spec = {
            "branch": branch,
            "files": {str(root / p): list(v) for p, v in lines.items()},
            "tracers": {str(root / p): t for p, t in tracers.items() if p in lines and t},
            "report": [str(root / p) for p in wanted],
        }
        spec_name, _, out_name = _NAMES
        (self.workdir / spec_name).write_text(json.dumps(spec), "utf-8")
        try:
            self.proc.communicate(os.fsencode(self.workdir) + b"\n")
        except OSError:
            self.proc.wait()
        if self.proc.returncode != 0:
            raise TestRunFailed(
                f"`coverage json (composed)` failed (exit {self.proc.returncode})",
                detail=runner.tail(self.log),
                hint="see its output above",
            )
        return load_json_report(self.workdir / out_name, self.ws.root)
