"""Running the project's coverage.py in a :class:`~ratchet.workspace.Workspace`.

The test command runs as ``coverage run`` with the project's interpreter, in
a process group of its own (stopped whole on a timeout, Ctrl-C, SIGTERM or
SIGHUP), writing its data to a temporary folder, never to the user's
``.coverage``; reports come from coverage.py's own ``json_report``.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ratchet import live, scratch
from ratchet.coverage_report import FUNCTIONS, cache_path
from ratchet.errors import RatchetError, TestRunFailed
from ratchet.nodata import coverage_warnings

if TYPE_CHECKING:
    from ratchet.measurement import CoverageReport, TestRun
    from ratchet.workspace import Workspace

TAIL_LINES = 40
STOP_GRACE = 5.0  # Seconds a stopped test run gets to end before it is killed.
_TICK = 0.25  # Seconds between redraws of the progress line.


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


def start_tests(
    ws: Workspace,
    workdir: Path,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    *,
    pass_fds: Sequence[int] = (),
) -> StartedRun:
    """Start the test command under coverage; :meth:`StartedRun.finish`
    waits for it.  ``pass_fds``: descriptors the test process inherits."""
    args, module = coverage_args(ws.config.test_command)
    if module == "pytest":
        # Keep pytest's cache out of the user's working tree.
        args += ["-p", "no:cacheprovider", *extra_args]
    workdir.mkdir(parents=True, exist_ok=True)
    data_file = workdir / ".coverage"
    log = workdir / "test-output.log"
    env = dict(ws.env, COVERAGE_FILE=str(data_file), **(extra_env or {}))
    _prepend_import_paths(env, ws.import_paths())
    bytecode = _bytecode_cache(ws, env)
    state = None
    if module == "pytest" and live.enabled():
        state = live.install_plugin(workdir)
        _prepend_import_paths(env, [str(state.parent)])
        env["RATCHET_LIVE_FILE"] = str(state)
        args += ["-p", live.PLUGIN]
    out = log.open("wb")
    try:
        proc = spawn_in_group(
            [str(ws.python), "-m", "coverage", "run", f"--data-file={data_file}", *args],
            cwd=ws.root,
            env=env,
            out=out,
            pass_fds=pass_fds,
        )
    except BaseException:
        out.close()
        raise
    ticker = live.Ticker(state) if state else None
    return StartedRun(ws, module, proc, out, data_file, log, bytecode, ticker)


class StartedRun:
    """A test run started by :func:`start_tests`: finish it, or abandon it."""

    def __init__(
        self,
        ws: Workspace,
        module: str | None,
        proc: subprocess.Popen[bytes],
        out: IO[bytes],
        data_file: Path,
        log: Path,
        bytecode: Path | None,
        ticker: live.Ticker | None,
    ) -> None:
        self.ws = ws
        self.module = module
        self.proc = proc
        self.out = out
        self.data_file = data_file
        self.log = log
        self.bytecode = bytecode
        self.ticker = ticker
        self.started = time.perf_counter()
        # A descriptor the run says "done" on when what ratchet reads is
        # written, before its exit (the test-map plugin's); None: no such.
        self.ready_fd: int | None = None

    def abandon(self) -> None:
        """Stop the run (its whole process group) and let go of it."""
        try:
            if self.proc.returncode is None:
                _stop_group(self.proc)
        finally:
            self._close()

    def _close(self) -> None:
        if self.ready_fd is not None:  # Not handed to a waiting reader.
            os.close(self.ready_fd)
            self.ready_fd = None
        self.out.close()
        if self.ticker:
            self.ticker.close()
        if self.bytecode is not None:
            # What ran from a run's temporary folder (the plugins ratchet copies
            # there, a fresh snapshot of the index) is cached under a path never
            # seen again: not kept.  The kept copy of the index's is.
            temporary = self.bytecode / scratch.where().resolve().relative_to("/")
            with contextlib.suppress(OSError):
                for entry in os.scandir(temporary):
                    if not entry.name.startswith(scratch.KEPT):
                        shutil.rmtree(entry.path, ignore_errors=True)

    def finish(
        self,
        *,
        may_select_none: bool = False,
        data: bool = True,
        meanwhile: Callable[[], None] | None = None,
        when_ready: Callable[[], None] | None = None,
    ) -> TestRun:
        """Wait for the run: its data file, time and warnings.

        ``data``: the data file is read after the run (else the test-map
        plugin skips saving it, and it is neither combined nor required).
        ``may_select_none``: pytest finding no test to run is no error.
        ``meanwhile``: work to do while the tests run; ``when_ready``: work to
        do once the run says its output is written, while it ends (not done
        if it ends first, or cannot say)."""
        from ratchet.measurement import TestRun  # Imported once the tests run, not before.

        ws, module, log, data_file = self.ws, self.module, self.log, self.data_file
        command = " ".join(ws.config.test_command)
        timeout = ws.config.test_timeout
        ready, self.ready_fd = self.ready_fd, None
        try:
            returncode = wait_in_group(
                self.proc,
                timeout=timeout,
                tick=self.ticker.tick if self.ticker else None,
                meanwhile=meanwhile,
                ready_fd=ready,
                when_ready=when_ready,
            )
        finally:
            self._close()
        seconds = time.perf_counter() - self.started
        if returncode is None:
            raise TestRunFailed(
                f"the test run `{command}` did not finish in {timeout:g} s and was stopped; "
                "nothing was measured",
                detail=tail(log),
                hint="its output above ends where it hung; "
                "if it is only slow, raise [tool.ratchet] test-timeout (0: no limit)",
            )
        # pytest exits 5 when it ran no test: fine when we deselected them all.
        if returncode == 5 and module == "pytest" and not may_select_none:
            raise TestRunFailed(
                f"the test run `{command}` found no tests (pytest exit 5); nothing was measured",
                detail=tail(log),
                hint="check testpaths and python_files in the pytest configuration, "
                "and [tool.ratchet] test-command",
            )
        if returncode != 0 and not (may_select_none and returncode == 5):
            how = f"killed by signal {-returncode}" if returncode < 0 else f"exit {returncode}"
            raise TestRunFailed(
                f"the test run `{command}` failed ({how}); nothing was measured",
                detail=tail(log),
                hint="make the tests pass, then commit again",
            )
        # Subprocesses (pytest-xdist workers too) write beside it, or in the
        # folders the test-map plugin gives each process.
        if not data:
            return TestRun(data_file, seconds, coverage_warnings(_read(log)))
        workdir = data_file.parent
        parallel = [p for p in workdir.rglob(".coverage.*") if p.is_file()]
        if parallel:
            extra = ["--append"] if data_file.exists() else []
            _coverage(
                ws,
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
                detail=tail(log),
                hint="check that the test command runs Python code under coverage",
            )
        return TestRun(data_file, seconds, coverage_warnings(_read(log)))


def _bytecode_cache(ws: Workspace, env: dict[str, str]) -> Path | None:
    """Where the test run keeps its bytecode: a cache of ratchet's own in the
    git directory (``PYTHONPYCACHEPREFIX``), never the user's working tree.

    Kept between runs, so a check does not compile every module, nor
    rewrite every test module's assertions (pytest caches that as bytecode
    too), again: without it, a run of a few tests spent most of its time
    there.  The first run fills it.  A prefix the user set is theirs to keep.
    """
    if "PYTHONPYCACHEPREFIX" in env:
        return None
    from ratchet import git, state

    try:
        cache = state.folder(git.git_dir(ws.repo)) / "pycache"
    except (RatchetError, state.StateError):
        # Then no bytecode is written at all; existing __pycache__ is read.
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return None
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    # Set to keep bytecode out of a tree; with the prefix none is written there.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return cache


def _prepend_import_paths(env: dict[str, str], folders: Sequence[str]) -> None:
    """Put ``folders`` first on the test run's ``PYTHONPATH``."""
    if folders:
        rest = [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []
        env["PYTHONPATH"] = os.pathsep.join([*folders, *rest])


def tracers(report: Path, root: Path) -> dict[str, str]:
    """The coverage plugins of a report's measured files (repository paths)."""
    return {p: v for p, v in _beside(report, ".tracers", root).items() if isinstance(v, str)}


def ran_digests(report: Path, root: Path) -> dict[str, bytes]:
    """Per measured file (repository paths), the digest of what it executed
    (:func:`ratchet.selection.store.ran_digest`), as the report script wrote it."""
    out = {}
    for path, digest in _beside(report, ".ran", root).items():
        if isinstance(digest, str):
            with contextlib.suppress(ValueError):
                out[path] = bytes.fromhex(digest)
    return out


def _beside(report: Path, suffix: str, root: Path) -> dict[str, object]:
    """What the report script wrote beside the report, per repository path.
    A side file is a help, not a measurement: unreadable, it is empty."""
    import json

    try:
        raw = json.loads((report.parent / (report.name + suffix)).read_text("utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(raw, dict):
        return {}
    real = str(root.resolve())
    return {
        path[len(real) + 1 :]: value
        for path, value in raw.items()
        if isinstance(path, str) and path.startswith(real + "/")
    }


def json_report(
    ws: Workspace,
    data_file: Path,
    workdir: Path,
    error: type[RatchetError],
    skip: Collection[str] = (),
    *,
    git_dir: Path,
    root: Path,
    digests: bool = False,
) -> tuple[CoverageReport, Path]:
    """coverage.py's report of ``data_file`` (:mod:`ratchet.coverage_report`,
    its parsers kept in ``git_dir``), with the repository paths of ``root``,
    and where its side files are; ``skip``: repository paths not needed.

    Analysing a file is most of a report's time, so a selected run leaves
    out the files whose numbers it already has, and thousands of files are
    analysed by several processes at once (:func:`report_shares`).  No data
    at all gives a report without files.  Beside it: the files' coverage
    plugins, and with ``digests``, what each file executed
    (:func:`ran_digests`).
    """
    from ratchet.measurement import from_json_report, load_json_report

    report = workdir / "coverage.json"
    # Through the API, run by the project's interpreter: the command line
    # cannot carry thousands of omit patterns, and a run that collected
    # no data must come back as an empty report (judged by
    # :mod:`ratchet.nodata`), not as a failed command.
    omit_file = workdir / "omit.txt"
    omit_file.write_text("\0".join(_omit_patterns(ws.root, skip)), "utf-8")
    cache = cache_path(git_dir)

    def script(out: Path, share: str) -> list[str]:
        return [
            "-c",
            _JSON_REPORT,
            str(data_file),
            str(out),
            str(omit_file),
            str(digests),
            cache,
            share,
        ]

    count = report_shares(data_file)
    if count > 1:
        outs = [workdir / f"coverage-{i}.json" for i in range(count)]
        logs = [workdir / f"report-{i}.log" for i in range(count)]
        scripts = [script(out, f"{i}/{count}") for i, out in enumerate(outs)]
        python_all(ws, scripts, "coverage json", logs=logs, error=error)
        merged = merge_shares(outs, report)
        if merged is not None:
            return from_json_report(merged, root, str(report)), report
        # Two measured files reported under one name: which one a single
        # report keeps depends on its order, so one process reports them.
    python(ws, script(report, "0/1"), "coverage json", log=workdir / "report.log", error=error)
    return load_json_report(report, root), report


SHARE_FILES = 1_000  # Measured files a report process is given, at least.
MAX_SHARES = 8


def report_shares(data_file: Path) -> int:
    """How many processes analyse ``data_file``'s measured files: one per
    :data:`SHARE_FILES` of them, at most one per processor ratchet may use.
    A data file whose files cannot be counted is reported by one process."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # Not on every platform.
        cpus = os.cpu_count() or 1
    if cpus < 2:
        return 1
    import sqlite3

    try:
        uri = data_file.resolve().as_uri() + "?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            (files,) = db.execute("SELECT count(*) FROM file").fetchone()
    except (sqlite3.Error, OSError, ValueError, TypeError):
        return 1
    return max(1, min(cpus, MAX_SHARES, int(files) // SHARE_FILES))


def merge_shares(outs: Sequence[Path], report: Path) -> dict[str, object] | None:
    """The share processes' reports as one (decoded), their side files
    written beside ``report``.  None, and nothing written, when two shares
    report the same file, or the shares do not agree on what was measured.
    The merged report is not written: it is read at once, and encoding it
    again cost a tenth of a report of 20,000 files."""
    import json

    files: dict[str, object] = {}
    sides: dict[str, dict[str, object]] = {".tracers": {}, ".ran": {}}
    meta = None
    try:
        for out in outs:
            doc = json.loads(out.read_text("utf-8"))
            if meta is not None and doc["meta"] != meta:
                return None
            meta = doc["meta"]
            for path, entry in doc["files"].items():
                if path in files:
                    return None
                files[path] = entry
            for suffix, merged in sides.items():
                side = out.parent / (out.name + suffix)
                if side.exists():
                    merged.update(json.loads(side.read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # Not what the script writes: one process reports again.
    for suffix, merged in sides.items():
        (report.parent / (report.name + suffix)).write_text(json.dumps(merged), "utf-8")
    return {"meta": meta, "files": files}


def combine(ws: Workspace, paths: Sequence[Path], workdir: Path) -> Path:
    """Combine user data files (e.g. CI shards) without touching them."""
    data_file = workdir / ".coverage"
    _coverage(
        ws,
        "combine",
        "-q",
        "--keep",
        f"--data-file={data_file}",
        *(str(p.resolve()) for p in paths),
        log=workdir / "combine.log",
        error=RatchetError,
    )
    return data_file


def _coverage(ws: Workspace, *args: str, log: Path, error: type[RatchetError]) -> None:
    python(ws, ["-m", "coverage", *args], f"coverage {args[0]}", log=log, error=error)


def python(
    ws: Workspace, args: Sequence[str], what: str, *, log: Path, error: type[RatchetError]
) -> None:
    python_all(ws, [args], what, logs=[log], error=error)


def python_all(
    ws: Workspace,
    scripts: Sequence[Sequence[str]],
    what: str,
    *,
    logs: Sequence[Path],
    error: type[RatchetError],
) -> None:
    """Run the project's interpreter with each of ``scripts`` at once, each
    writing to its log; the first that fails is the error.  None is left
    running when this returns or raises (Ctrl-C included)."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for args, log in zip(scripts, logs, strict=True):
            with log.open("ab") as out:
                procs.append(
                    subprocess.Popen(
                        [str(ws.python), *args],
                        cwd=ws.root,
                        env=dict(ws.env),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        codes = [proc.wait() for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for code, log in zip(codes, logs, strict=True):
        if code != 0:
            raise error(
                f"`{what}` failed (exit {code})", detail=tail(log), hint="see its output above"
            )


# coverage.py's numbers (:mod:`ratchet.coverage_report`), with more files
# omitted than the configuration says; run by the project's interpreter.
_JSON_REPORT = """\
import json
import sys
import coverage

data_file, outfile, omit_file, digests, cache = sys.argv[1:6]
# This process's share of the measured files: "index/count".
share = tuple(int(n) for n in (sys.argv[6] if len(sys.argv) > 6 else "0/1").split("/"))
cov = coverage.Coverage(data_file=data_file)
cov.load()
with open(omit_file, encoding="utf-8") as f:
    extra = [p for p in f.read().split("\\0") if p]
cov.set_option("report:omit", list(cov.config.report_omit or []) + extra)
rans, plugins = ratchet_report(cov, outfile, None, cache, share)
# The coverage plugins (file tracers) of measured files, for the test map.
data = cov.get_data()
names = ratchet_share(data.measured_files(), share)
with ratchet_held(data):
    tracers = {f: plugins[f] if plugins and f in plugins else data.file_tracer(f) for f in names}
    tracers = {f: t for f, t in tracers.items() if t}
    # What each reported file executed, as a digest: a selected run whose
    # lines in an unchanged file come to the same needs no new analysis of it.
    # The report made most of them already, for its kept results' keys.
    omitted = set(extra)
    ran = {}
    for name in names if digests == "True" else ():
        if name not in omitted:
            digest = rans.get(name) or ratchet_ran(data, name)
            ran[name] = digest.hex()
with open(outfile + ".tracers", "w", encoding="utf-8") as f:
    json.dump(tracers, f)
with open(outfile + ".ran", "w", encoding="utf-8") as f:
    json.dump(ran, f)
"""
_JSON_REPORT = _JSON_REPORT.replace("\nimport coverage\n", "\nimport coverage\n" + FUNCTIONS, 1)
# Characters that coverage.py's file patterns give a meaning to.
_PATTERN_CHARS = frozenset("*?[]{},\\")


def _omit_patterns(root: Path, paths: Collection[str]) -> list[str]:
    """Exact omit patterns for ``paths``; those a pattern cannot name are kept in."""
    base = os.path.realpath(root)
    return sorted(os.path.join(base, p) for p in paths if not _PATTERN_CHARS.intersection(p))


def spawn_in_group(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    out: IO[bytes],
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start ``args`` in a process group of its own (see :func:`wait_in_group`)."""
    try:
        return subprocess.Popen(
            list(args),
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=os.name != "nt",
            pass_fds=tuple(pass_fds),
        )
    except OSError as e:
        raise TestRunFailed(f"could not start the test run: {e}") from None


def wait_in_group(
    proc: subprocess.Popen[bytes],
    *,
    timeout: float,
    tick: Callable[[], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
    ready_fd: int | None = None,
    when_ready: Callable[[], None] | None = None,
) -> int | None:
    """Wait for a process :func:`spawn_in_group` started: its exit code, or
    None when it did not end within ``timeout`` seconds and was stopped.
    On a timeout or Ctrl-C its whole group is stopped.  ``meanwhile`` is
    called once first: this process is otherwise idle while it waits.
    ``ready_fd`` (taken, and closed): a pipe the process writes ``done`` to
    before it ends; ``when_ready`` is called when it has, if it has not ended."""
    limit = timeout if 0 < timeout < math.inf else None
    # A thread waits for the exit, so it is seen at once: ``Popen.wait`` with
    # a timeout polls, up to 50 ms late.
    ended = threading.Event()
    wake = threading.Event()  # The exit, or the word on ``ready_fd``.

    def reap() -> None:
        proc.wait()
        ended.set()
        wake.set()

    threading.Thread(target=reap, daemon=True).start()
    ready = threading.Event()
    if ready_fd is not None:
        threading.Thread(target=_listen, args=(ready_fd, ready, wake), daemon=True).start()
    try:
        deadline = None if limit is None else time.monotonic() + limit
        if meanwhile is not None:
            meanwhile()
        while True:  # Wake a few times a second to redraw the progress line.
            if ended.is_set():
                return proc.returncode
            if when_ready is not None and ready.is_set():
                call, when_ready = when_ready, None
                call()
                continue
            left = None if deadline is None else deadline - time.monotonic()
            step = left if tick is None else _TICK if left is None else min(_TICK, left)
            # The word on ``ready_fd`` wakes this only while it is awaited.
            awaited = ended if when_ready is None else wake
            if awaited.wait(None if step is None else max(step, 0)):
                continue
            if deadline is not None and time.monotonic() >= deadline:
                _stop_group(proc)
                return None
            if tick is not None:
                tick()
    except BaseException:
        _stop_group(proc)
        raise


def _listen(fd: int, ready: threading.Event, wake: threading.Event) -> None:
    """Read ``fd`` until ``done`` or its end (the writer gone); close it."""
    said = b""
    try:
        with contextlib.suppress(OSError):  # Then no word: the exit is waited for.
            while len(said) < 5:
                chunk = os.read(fd, 5 - len(said))
                if not chunk:
                    break
                said += chunk
    finally:
        os.close(fd)
    if said == b"done\n":
        ready.set()
        wake.set()


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


def tail(log: Path, lines: int = TAIL_LINES) -> str:
    tail = _read(log).rstrip("\n").splitlines()[-lines:]
    return "\n".join(tail)
