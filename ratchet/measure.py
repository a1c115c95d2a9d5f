"""Measure coverage with the project's own coverage.py, or read given data.

Numbers always come from coverage.py's own JSON report, produced by the
project's coverage.py under the project's configuration and plugins; we never
re-implement its analysis.  A test run writes its data to a temporary folder,
never to the user's ``.coverage``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ratchet.baseline import MAX_COUNT
from ratchet.config import Config
from ratchet.errors import RatchetError, TestRunFailed
from ratchet.nodata import coverage_warnings
from ratchet.numbers import Numbers
from ratchet.paths import check_repo_path
from ratchet.printable import safe

if TYPE_CHECKING:
    from ratchet.environment import Probe

MIN_COVERAGE = (7, 0)
TAIL_LINES = 40
STOP_GRACE = 5.0  # Seconds a stopped test run gets to end before it is killed.


@dataclass(frozen=True)
class FileResult:
    numbers: Numbers
    missing_lines: Sequence[int] = ()
    lines_known: bool = True  # False: numbers from the test map, lines not kept.


@dataclass(frozen=True)
class Measurement:
    """Per-file results keyed by repository-relative path with ``/``."""

    files: Mapping[str, FileResult]
    coverage_version: str
    branch: bool
    outside: tuple[str, ...] = ()  # Measured files outside the repository, ignored.
    how: str = ""
    # True when we ran the tests on the working tree ourselves; given data may
    # come from any commit, so only our own runs describe the content here.
    ran_tests: bool = False
    # The files a selected run measured exactly; None: all (a full run).
    judged: frozenset[str] | None = None
    mode: str = ""  # "full", "selected" or "data"
    why: str = ""  # Why a full run, or what the selection ran.
    tests_run: tuple[str, ...] | None = None  # A selected run's test ids; None: all.
    warnings: tuple[str, ...] = ()  # What coverage.py warned about during the run.
    # Measured files whose names the baseline cannot hold (control characters,
    # backslashes): named in a note, never judged or written.
    unrecordable: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestRun:
    """One run of the test command: its combined data file, and what it said."""

    __test__ = False  # Not a pytest test class, despite the name.
    data_file: Path
    seconds: float
    warnings: tuple[str, ...]


# -- reading coverage.py's JSON report ------------------------------------------


def from_json_report(data: Any, root: Path, source: str) -> Measurement:
    """A :class:`Measurement` from a parsed ``coverage json`` report.

    Files outside the repository are set aside (``outside``); files whose
    names the baseline cannot hold (a control character, a backslash) are
    set aside too (``unrecordable``), to be named, never written.
    """
    try:
        meta = data["meta"]
        version = str(meta["version"])
        branch = bool(meta.get("branch_coverage", False))
        files_data = data["files"]
        if not isinstance(files_data, dict):
            raise TypeError("files is not an object")
    except (KeyError, TypeError) as e:
        raise RatchetError(f"{source}: not a coverage.py JSON report ({e})") from None
    files: dict[str, FileResult] = {}
    outside: list[str] = []
    unrecordable: list[str] = []
    real_root = os.path.realpath(root)
    for key, entry in files_data.items():
        if not key or "\0" in key or key in (".", "/") or key.endswith(("/", os.sep)):
            raise RatchetError(f"{source}: {safe(repr(key))} is not the name of a file")
        path = _repo_path(key, root, real_root)
        if path is None:
            outside.append(key)
            continue
        if check_repo_path(path) is not None:
            unrecordable.append(path)
            continue
        files[path] = _file_result(entry, key, branch, source)
    return Measurement(files, version, branch, tuple(outside), unrecordable=tuple(unrecordable))


def _file_result(entry: Any, key: str, branch: bool, source: str) -> FileResult:
    try:
        s = entry["summary"]
        statements, covered = s["num_statements"], s["covered_lines"]
        branches = s.get("num_branches", 0) if branch else 0
        covered_branches = s.get("covered_branches", 0) if branch else 0
        missing = entry.get("missing_lines", [])
    except (KeyError, TypeError, AttributeError) as e:
        raise RatchetError(
            f"{source}: file {safe(repr(key))} has no usable summary ({e})"
        ) from None
    counts = (statements, covered, branches, covered_branches)
    valid = (
        all(type(c) is int and 0 <= c <= MAX_COUNT for c in counts)
        and covered <= statements
        and covered_branches <= branches
        and isinstance(missing, list)
        and all(type(n) is int and 0 < n <= MAX_COUNT for n in missing)
    )
    if not valid:
        raise RatchetError(f"{source}: file {safe(repr(key))} has invalid counts or lines")
    return FileResult(Numbers(statements, covered, branches, covered_branches), missing)


def _repo_path(key: str, root: Path, real_root: str) -> str | None:
    """``key`` as a repository-relative ``/`` path, or None if outside."""
    if check_repo_path(key) is None:
        return key  # Already clean: the common case, kept cheap.
    if os.path.isabs(key):
        rel = os.path.relpath(os.path.realpath(key), real_root)
    else:
        rel = os.path.normpath(key)
    rel = rel.replace(os.sep, "/")
    if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
        return None
    return rel


def load_json_report(path: Path, root: Path) -> Measurement:
    try:
        with path.open("rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise RatchetError(f"{path}: no such file") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise RatchetError(f"{path}: not valid JSON ({_first(e)})") from None
    except RecursionError:
        raise RatchetError(f"{path}: not a coverage.py JSON report (nested too deeply)") from None
    except OSError as e:
        raise RatchetError(f"{path}: cannot read it ({e.strerror})") from None
    return from_json_report(data, root, str(path))


def _first(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= 120 else text[:117] + "..."


# -- running the project's coverage.py --------------------------------------------


def _is_json(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(64).lstrip()
    except FileNotFoundError:
        raise RatchetError(f"{path}: no such file", hint="check the --data paths") from None
    except IsADirectoryError:
        raise RatchetError(f"{path}: is a folder; name the data files") from None
    return head.startswith(b"{")


def coverage_args(command: Sequence[str]) -> tuple[list[str], str | None]:
    """What follows ``coverage run`` for the test command, and its module.

    ``pytest -x`` runs as ``-m pytest -x``; ``python -m unittest`` as
    ``-m unittest``; a ``.py`` script as itself.
    """
    first, rest = command[0], list(command[1:])
    if os.path.basename(first).startswith("python") and rest[:1] == ["-m"] and len(rest) > 1:
        return ["-m", *rest[1:]], rest[1]
    if first.endswith(".py"):
        return [first, *rest], None
    return ["-m", first, *rest], first


class Runner:
    """Runs the project's coverage.py in the project's environment."""

    def __init__(self, root: Path, config: Config, repo: Path | None = None) -> None:
        """Tests run in ``root``: the repository, or a snapshot of ``repo``'s index."""
        from ratchet.environment import clean_env, find_python

        self.root = root
        self.repo = repo or root
        self.config = config
        self.python, self.python_source = find_python(self.repo, config.python)
        self.env = clean_env(self.repo, self.python, os.environ)
        self.probed: Probe | None = None  # Set by require().

    @property
    def snapshot(self) -> bool:
        return self.repo != self.root

    def _import_paths(self) -> list[str]:
        """In a snapshot, the import folders that would reach into the
        repository (editable installs, ``src`` layouts), moved into it."""
        if not self.snapshot or self.probed is None:
            return []
        repo = os.path.realpath(self.repo)
        paths = []
        for entry in self.probed.sys_path:
            real = os.path.realpath(entry)
            if real == repo or real.startswith(repo + os.sep):
                paths.append(os.path.join(self.root, os.path.relpath(real, repo)))
        src = self.root / "src"
        if src.is_dir() and str(src) not in paths:
            paths.append(str(src))
        return paths

    def require(self, modules: list[str]) -> str:
        """Check the environment has coverage.py and ``modules``; its version."""
        from ratchet.environment import probe

        found = self.probed = probe(self.python, self.env, self.root, modules)
        where = f"{self.python} ({self.python_source})"
        if found.coverage_version is None:
            raise RatchetError(
                f"coverage.py is not installed in the project's environment {where}",
                hint="install it there: python -m pip install coverage",
            )
        version = tuple(int(p) for p in found.coverage_version.split(".")[:2] if p.isdigit())
        if version < MIN_COVERAGE:
            raise RatchetError(
                f"coverage.py {found.coverage_version} in {where} is too old",
                hint="ratchet needs coverage 7.0 or newer there",
            )
        if found.missing_modules:
            names = ", ".join(found.missing_modules)
            raise RatchetError(
                f"the project's environment {where} lacks {names}",
                hint=f"install it there: python -m pip install {names}",
            )
        return found.coverage_version

    def _coverage(self, *args: str, log: Path, error: type[RatchetError]) -> None:
        self._python(["-m", "coverage", *args], f"coverage {args[0]}", log=log, error=error)

    def _python(
        self, args: Sequence[str], what: str, *, log: Path, error: type[RatchetError]
    ) -> None:
        with log.open("ab") as out:
            proc = subprocess.run(
                [str(self.python), *args],
                cwd=self.root,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if proc.returncode != 0:
            raise error(
                f"`{what}` failed (exit {proc.returncode})",
                detail=_tail(log),
                hint="see its output above",
            )

    @property
    def module(self) -> str | None:
        return coverage_args(self.config.test_command)[1]

    def run_tests(
        self,
        workdir: Path,
        extra_args: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
        *,
        may_select_none: bool = False,
    ) -> TestRun:
        """Run the test command under coverage: its data file, time and warnings."""
        args, module = coverage_args(self.config.test_command)
        if module == "pytest":
            # Keep pytest's cache out of the user's working tree.
            args += ["-p", "no:cacheprovider", *extra_args]
        if self.probed is None:
            self.require([module] if module else [])
        workdir.mkdir(parents=True, exist_ok=True)
        data_file = workdir / ".coverage"
        log = workdir / "test-output.log"
        env = dict(self.env, COVERAGE_FILE=str(data_file), **(extra_env or {}))
        imports = self._import_paths()
        if imports:
            env["PYTHONPATH"] = os.pathsep.join(
                [*imports, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
            )
        if "PYTHONPYCACHEPREFIX" not in env:
            # Write no bytecode into the user's working tree.  Existing
            # __pycache__ files are still read; only uncached files compile.
            # (A cache prefix elsewhere would recompile the whole standard
            # library on the first run, and on every run where the user's
            # environment forbids writing bytecode.)
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        started = time.perf_counter()
        command = " ".join(self.config.test_command)
        timeout = self.config.test_timeout
        with log.open("wb") as out:
            returncode = run_in_group(
                [str(self.python), "-m", "coverage", "run", f"--data-file={data_file}", *args],
                cwd=self.root,
                env=env,
                out=out,
                timeout=timeout,
            )
        seconds = time.perf_counter() - started
        if returncode is None:
            raise TestRunFailed(
                f"the test run `{command}` did not finish in {timeout:g} s and was stopped; "
                "nothing was measured",
                detail=_tail(log),
                hint="its output above ends where it hung; "
                "if it is only slow, raise [tool.ratchet] test-timeout (0: no limit)",
            )
        # pytest exits 5 when it ran no test: fine when we deselected them all.
        if returncode == 5 and self.module == "pytest" and not may_select_none:
            raise TestRunFailed(
                f"the test run `{command}` found no tests (pytest exit 5); nothing was measured",
                detail=_tail(log),
                hint="check testpaths and python_files in the pytest configuration, "
                "and [tool.ratchet] test-command",
            )
        if returncode != 0 and not (may_select_none and returncode == 5):
            how = f"killed by signal {-returncode}" if returncode < 0 else f"exit {returncode}"
            raise TestRunFailed(
                f"the test run `{command}` failed ({how}); nothing was measured",
                detail=_tail(log),
                hint="make the tests pass, then commit again",
            )
        # Subprocesses (pytest-xdist workers too) write beside it, or in the
        # folders the test-map plugin gives each process.
        parallel = [p for p in workdir.rglob(".coverage.*") if p.is_file()]
        if parallel:
            extra = ["--append"] if data_file.exists() else []
            self._coverage(
                "combine",
                "-q",
                *extra,
                f"--data-file={data_file}",
                *map(str, parallel),
                log=log,
                error=TestRunFailed,
            )
        if not data_file.exists():
            raise TestRunFailed(
                f"the test run `{command}` wrote no coverage data",
                detail=_tail(log),
                hint="check that the test command runs Python code under coverage",
            )
        return TestRun(data_file, seconds, coverage_warnings(_read(log)))

    def json_report(
        self,
        data_file: Path,
        workdir: Path,
        error: type[RatchetError],
        skip: Collection[str] = (),
    ) -> Path:
        """``coverage json`` of ``data_file``; ``skip``: repository paths not needed.

        Analysing a file is most of a report's time, so a selected run leaves
        out the files whose numbers it already has.  No data at all gives a
        report without files.
        """
        report = workdir / "coverage.json"
        # Through the API, run by the project's interpreter: the command line
        # cannot carry thousands of omit patterns, and a run that collected
        # no data must come back as an empty report (judged by
        # :mod:`ratchet.nodata`), not as a failed command.
        omit_file = workdir / "omit.txt"
        omit_file.write_text("\0".join(_omit_patterns(self.root, skip)), "utf-8")
        self._python(
            ["-c", _JSON_REPORT, str(data_file), str(report), str(omit_file)],
            "coverage json",
            log=workdir / "report.log",
            error=error,
        )
        return report

    def combine(self, paths: Sequence[Path], workdir: Path) -> Path:
        """Combine user data files (e.g. CI shards) without touching them."""
        data_file = workdir / ".coverage"
        self._coverage(
            "combine",
            "-q",
            "--keep",
            f"--data-file={data_file}",
            *(str(p.resolve()) for p in paths),
            log=workdir / "combine.log",
            error=RatchetError,
        )
        return data_file


# ``coverage json`` through the API, with more files omitted than the
# configuration says; run by the project's interpreter.
_JSON_REPORT = """\
import json
import sys
import coverage

data_file, outfile, omit_file = sys.argv[1:4]
cov = coverage.Coverage(data_file=data_file)
cov.load()
with open(omit_file, encoding="utf-8") as f:
    extra = [p for p in f.read().split("\\0") if p]
try:
    cov.json_report(outfile=outfile, omit=list(cov.config.report_omit or []) + extra)
except coverage.exceptions.NoDataError:  # No data, or every measured file left out.
    meta = {"version": coverage.__version__, "branch_coverage": cov.get_data().has_arcs()}
    with open(outfile, "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "files": {}}, f)
"""
# Characters that coverage.py's file patterns give a meaning to.
_PATTERN_CHARS = frozenset("*?[]{},\\")


def _omit_patterns(root: Path, paths: Collection[str]) -> list[str]:
    """Exact omit patterns for ``paths``; those a pattern cannot name are kept in."""
    base = os.path.realpath(root)
    return sorted(os.path.join(base, p) for p in paths if not _PATTERN_CHARS.intersection(p))


def _check_snapshot_imports(m: Measurement, repo: Path) -> None:
    """Refuse numbers from a snapshot run that measured the working tree's files."""
    from ratchet.snapshot import refuse_worktree_imports

    real = os.path.realpath(repo)
    inside = [os.path.realpath(key) for key in m.outside]
    refuse_worktree_imports(
        repo,
        [
            os.path.relpath(p, real).replace(os.sep, "/")
            for p in inside
            if p.startswith(real + os.sep)
        ],
    )


def run_in_group(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], out: IO[bytes], timeout: float
) -> int | None:
    """Run ``args`` in a process group of its own; its exit code, or None on timeout.

    On a timeout or Ctrl-C the whole group is stopped (pytest-xdist workers
    and any process a test started too), so nothing is left running.
    """
    try:
        proc = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=os.name != "nt",
        )
    except OSError as e:
        raise TestRunFailed(f"could not start the test run: {e}") from None
    try:
        return proc.wait(timeout=timeout if 0 < timeout < math.inf else None)
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        return None
    except BaseException:
        _stop_group(proc)
        raise


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Ask the group to stop (SIGTERM), then kill what is left after a grace period."""
    if os.name == "nt":  # pragma: no cover - exercised on Windows only
        proc.kill()
        proc.wait()
        return
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_GRACE)
    # What is left of the group (the leader, or processes it left behind) is killed.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _read(log: Path) -> str:
    try:
        return log.read_text("utf-8", "replace")
    except FileNotFoundError:
        return ""


def _tail(log: Path, lines: int = TAIL_LINES) -> str:
    tail = _read(log).rstrip("\n").splitlines()[-lines:]
    return "\n".join(tail)


def measure(
    root: Path,
    config: Config,
    data: Sequence[str] = (),
    *,
    select: bool = False,
    full_reason: str = "",
    repo: Path | None = None,
) -> Measurement:
    """Run the tests under coverage (or read ``data``) and return the numbers.

    A test run records the test map; with ``select``, it runs only the tests
    the map says can change the judged files (:mod:`ratchet.testrun`), unless
    ``full_reason`` says why not.
    """
    paths = [Path(p) for p in data]
    if paths and len(paths) == 1 and _is_json(paths[0]):
        m = load_json_report(paths[0], root)
        return replace(m, how=f"report {data[0]}", mode="data")
    if any(_is_json(p) for p in paths):
        raise RatchetError("--data takes one coverage JSON report, or .coverage data files")
    runner = Runner(root, config, repo)
    if not paths:
        from ratchet.testrun import run_and_record

        m = run_and_record(runner, select=select, full_reason=full_reason)
        if runner.snapshot:
            _check_snapshot_imports(m, runner.repo)
        return m
    from ratchet import scratch

    with scratch.folder() as workdir:
        runner.require([])
        data_file = runner.combine(paths, workdir)
        report = runner.json_report(data_file, workdir, RatchetError)
        m = load_json_report(report, root)
    return replace(m, how=f"data {', '.join(data)}", mode="data")


def remeasure(
    root: Path,
    config: Config,
    files: Collection[str],
    tests: Collection[str] | None,
    *,
    repo: Path | None = None,
) -> Measurement:
    """Repeat the run of ``tests`` (None: all) for ``check --confirm``; ``files``' numbers."""
    from ratchet.testrun import rerun

    return rerun(Runner(root, config, repo), files, tests)
