"""The pytest plugin that records which files each test executes.

It runs inside the project's own test process (and in each pytest-xdist
worker), copied there by the runner, so it uses nothing but the standard
library, pytest and the running coverage.py, and keeps to Python 3.9.

How it records, exactly and cheaply: coverage.py's collector keeps, per
measured file, a set of the lines (or arcs) executed.  At every phase
boundary (collection, each test's setup, call and teardown, each fixture
instance above function scope) we move what those sets hold into our own
per-phase sets, so the files a phase executed are exactly those whose sets
were non-empty.  Before coverage.py saves (any ``flush_data``), everything
moved is put back, so its data and numbers are untouched.  Coverage
contexts are never switched: on the sys.monitoring core that loses data
(coverage.py issue 2200), and it costs a database write per switch.  The
sys.monitoring core disables a line's event after its first execution, so
per-phase sets would miss repeats: under that core nothing is recorded and
the runner falls back to full runs.

Per test we keep, for each file, a 32-bit digest of the lines it executed:
after a selected run, a file whose digests did not change for any rerun
test kept its coverage, and needs no other test run.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest

OUT = "RATCHET_TESTMAP_OUT"
SELECT = "RATCHET_TESTMAP_SELECT"
ROOT = "RATCHET_TESTMAP_ROOT"
DATA_DIR = "RATCHET_TESTMAP_DATA"
# In a snapshot run: the repository the snapshot was taken from, whose files
# the tests must not import.
FORBID = "RATCHET_TESTMAP_FORBID"
# The coverage configuration file the main process measures with ('' for
# none), so that pytest-xdist's workers measure with the same one.
RCFILE = "RATCHET_COVERAGE_RCFILE"

Sets = dict[str, set[Any]]


def _merge(into: Sets, sets: Sets) -> None:
    for f, s in sets.items():
        if f in into:
            into[f] |= s
        else:
            into[f] = set(s)


class Holder:
    """What one phase (or fixture instance) executed and opened."""

    __slots__ = ("children", "imported", "opened", "sets", "spawned")

    def __init__(self) -> None:
        self.sets: Sets = {}
        self.opened: set[str] = set()
        self.imported = False  # A repository module was first imported here.
        self.spawned = False  # It started a Python subprocess...
        self.children = False  # ... and coverage data of subprocesses appeared.

    @property
    def opaque(self) -> bool:
        """It ran Python we could not see: what it depends on is unknown."""
        return self.spawned and not self.children


class Recorder:
    def __init__(self, out: str) -> None:
        self.out = out
        self.root = os.path.realpath(os.environ.get(ROOT, os.getcwd()))
        self.prefix = self.root.rstrip(os.sep) + os.sep
        self.reason = ""
        self.core = ""
        self.collector: Any = None
        self.data: dict[str, set[Any]] = {}
        self.moved: Sets = {}  # Everything taken from coverage, given back on flush.
        self.stack: list[Holder] = []
        self.collect = Holder()
        self.session = Holder()
        self.current = self.collect
        self.test: Holder | None = None
        self.tests: dict[str, Any] = {}
        self.fixtures: dict[str, Holder] = {}
        self.active: dict[int, str] = {}  # id(fixturedef) -> key of its live instance
        self.collected: list[str] = []
        self.nmodules = len(sys.modules)
        self.known_modules: set[str] = set(sys.modules)
        self.import_lines: dict[str, set[int]] = {}
        self.own_data_dir = ""
        self.seen_data: set[str] = set()
        self.relcache: dict[str, str | None] = {}
        self.packed = False
        self.branch = False
        # Of packed arcs: bits per line number, the flags of negative numbers.
        self.layout = (28, 56, 57)
        self.line_counts: dict[str, int] = {}
        self._start()

    # -- coverage.py's collector ---------------------------------------------

    def _start(self) -> None:
        try:
            import coverage
        except ImportError:
            self.reason = "coverage.py is not running in this process"
            return
        cov = coverage.Coverage.current()
        collector = getattr(cov, "_collector", None)
        if cov is None or collector is None:
            self.reason = "coverage.py is not measuring this process"
            return
        data = getattr(collector, "data", None)
        flush = getattr(collector, "flush_data", None)
        tracers = getattr(collector, "tracers", None)
        if not isinstance(data, dict) or flush is None or not tracers:
            self.reason = "this coverage.py keeps its data in an unknown way"
            return
        self.core = type(tracers[0]).__name__
        if self.core not in ("CTracer", "PyTracer"):
            self.reason = f"coverage.py's {self.core} core cannot be recorded per test"
            return
        if getattr(cov.config, "dynamic_context", None):
            self.reason = "coverage.py's dynamic_context is set"
            return
        core = getattr(collector, "core", None)
        self.packed = bool(getattr(core, "packed_arcs", getattr(collector, "packed_arcs", False)))
        self.branch = bool(getattr(collector, "branch", False))
        if self.packed and self.branch:
            layout = packed_layout(type(collector))
            if layout is None:
                version = getattr(coverage, "__version__", "?")
                self.reason = f"coverage.py {version} packs arcs in a way ratchet does not know"
                return
            self.layout = layout
        self.collector = collector
        self.data = data

        def flush_data() -> bool:
            self._give_back()
            return bool(flush())

        collector.flush_data = flush_data
        sys.addaudithook(self._audit)

    def _take(self) -> Sets:
        """Move what coverage collected since the last call into a new dict."""
        taken: Sets = {}
        for f, s in list(self.data.items()):
            if s:
                kept = self.moved.get(f)
                if kept is None:
                    kept = self.moved[f] = set()
                # Copy first, then remove only what was copied: a line a thread
                # adds meanwhile stays for the next call, never lost.
                snap = set(s)
                s -= snap
                kept |= snap
                taken[f] = snap
        return taken

    def _give_back(self) -> None:
        for f, s in self.moved.items():
            live = self.data.get(f)
            if live is None:
                self.data[f] = s
            else:
                live |= s
        self.moved = {}

    def flush(self, *extra: Holder) -> None:
        """Attribute everything since the last flush to the current holder."""
        if self.collector is None:
            return
        taken = self._take()
        holders = [self.current, *extra]
        if len(sys.modules) != self.nmodules:
            self.nmodules = len(sys.modules)
            if self._new_repo_modules():
                for h in holders:
                    h.imported = True
        for h in holders:
            _merge(h.sets, taken)
            # Collection and the session start pytest-xdist's workers: their
            # data is theirs, recorded per test in their own processes.
            if h.spawned and h is not self.collect and h is not self.session:
                self._child_data(h)

    def _new_repo_modules(self) -> bool:
        found = False
        for name, module in list(sys.modules.items()):
            if name in self.known_modules:
                continue
            self.known_modules.add(name)
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and self._rel(path) is not None:
                found = True
        return found

    # -- files opened and processes started ----------------------------------

    def _rel(self, path: str) -> str | None:
        rel = self.relcache.get(path)
        if rel is None and path not in self.relcache:
            full = os.path.realpath(path)
            if full.startswith(self.prefix) and "__pycache__" not in full:
                rel = full[len(self.prefix) :].replace(os.sep, "/")
                if rel.startswith(".git/"):
                    rel = None
            self.relcache[path] = rel
        return rel

    def _audit(self, event: str, args: Any) -> None:
        if event == "open":
            path = args[0]
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            if isinstance(path, str):
                if not os.path.isabs(path):
                    path = os.path.join(os.getcwd(), path)
                rel = self._rel(path)
                if rel is not None:
                    self.current.opened.add(rel)
        elif event in ("subprocess.Popen", "os.posix_spawn", "os.exec"):
            program = args[0] if event != "subprocess.Popen" or args[0] else (args[1] or [""])[0]
            name = os.path.basename(os.fsdecode(program)) if program else ""
            if name.startswith("python") or program == sys.executable:
                self.current.spawned = True

    def _child_data(self, holder: Holder) -> None:
        """Attribute measured Python subprocesses to the holder that started them."""
        directory = self.own_data_dir
        if directory and os.path.isdir(directory):
            for name in sorted(os.listdir(directory)):
                full = os.path.join(directory, name)
                if not name.startswith(".coverage") or full in self.seen_data:
                    continue
                self.seen_data.add(full)
                holder.children = True
                try:
                    from coverage import CoverageData

                    cd = CoverageData(full)
                    cd.read()
                    for f in cd.measured_files():
                        arcs = cd.arcs(f) if cd.has_arcs() else None
                        values = set(arcs) if arcs is not None else set(cd.lines(f) or ())
                        _merge(holder.sets, {f: values})
                except Exception:  # A child's unreadable data: we cannot tell.
                    holder.children = False
                    return

    # -- pytest hooks ---------------------------------------------------------

    def enter(self, holder: Holder) -> None:
        self.flush()
        self.stack.append(self.current)
        self.current = holder

    def leave(self, *extra: Holder) -> None:
        self.flush(*extra)
        self.current = self.stack.pop()


def _fixture_key(fixturedef: Any, request: Any) -> str:
    node = getattr(request, "node", None)
    where = getattr(node, "nodeid", "")
    index = getattr(request, "param_index", 0)
    return f"{fixturedef.baseid}::{fixturedef.argname}@{where}[{index}]"


class Plugin:
    def __init__(self) -> None:
        out = os.environ[OUT]
        self.rec = Recorder(out)
        self.select: set[str] | None = None
        self.known: set[str] = set()
        path = os.environ.get(SELECT)
        if path:
            with open(path, encoding="utf-8") as f:
                spec = json.load(f)
            self.select = set(spec["select"])
            self.known = set(spec["known"])
        data_dir = os.environ.get(DATA_DIR)
        if data_dir and self.rec.collector is not None:
            # Python subprocesses this process starts write coverage data here,
            # so each phase can tell what its own children measured.
            own = os.path.join(data_dir, f"p{os.getpid()}")
            os.makedirs(own, exist_ok=True)
            target = os.path.join(own, ".coverage")
            os.environ["COVERAGE_FILE"] = target
            _redirect_process_config(target)
            self.rec.own_data_dir = own

    # Collection: keep the whole suite's import-time code, deselect after.
    # Last, so that the tests are those a full run runs (after -m, -k, ...).
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        self.rec.collected = [item.nodeid for item in items]
        if self.select is None:
            return
        keep: list[Any] = []
        drop: list[Any] = []
        for item in items:
            nodeid = item.nodeid
            (keep if nodeid in self.select or nodeid not in self.known else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_collection_finish(self, session: Any) -> None:
        self.rec.flush()
        self.rec.current = self.rec.session

    def _phase(self, item: Any) -> Any:
        rec = self.rec
        if rec.test is None:
            rec.test = Holder()
        rec.enter(rec.test)
        yield
        rec.leave()

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: Any) -> Any:
        yield from self._phase(item)

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: Any) -> Any:
        yield from self._phase(item)

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: Any) -> Any:
        yield from self._phase(item)
        self._finish_test(item)

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Any:
        rec = self.rec
        if fixturedef.scope == "function" or rec.test is None:
            # Function-scoped fixtures belong to their test.
            yield
            return
        key = _fixture_key(fixturedef, request)
        rec.active[id(fixturedef)] = key
        holder = rec.fixtures.get(key)
        if holder is None:
            holder = rec.fixtures[key] = Holder()
        rec.enter(holder)
        try:
            yield
        finally:
            rec.leave()

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_post_finalizer(self, fixturedef: Any, request: Any) -> None:
        rec = self.rec
        key = rec.active.get(id(fixturedef))
        if fixturedef.scope != "function" and key in rec.fixtures:
            # Attribute the teardown code to the fixture (and the phase it ran in).
            rec.flush(rec.fixtures[key])

    def _finish_test(self, item: Any) -> None:
        rec = self.rec
        holder, rec.test = rec.test, None
        if holder is None:
            return
        names: set[str] = set(getattr(item, "fixturenames", ()))
        info = getattr(item, "_fixtureinfo", None)
        defs = getattr(info, "name2fixturedefs", {}) if info is not None else {}
        if holder.imported:
            _lines_into(rec.import_lines, holder.sets, rec)
        used = set()
        for name in names:
            for fixturedef in defs.get(name, ()):
                key = rec.active.get(id(fixturedef))
                if key is not None:
                    used.add(key)
        rec.tests[item.nodeid] = {
            "files": _digests(holder, rec),
            "fixtures": sorted(used),
            "imported": holder.imported,
            "opaque": holder.opaque,
        }

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: Any) -> None:
        rec = self.rec
        rec.flush()
        rec._give_back()
        rec.collector = None  # Nothing more is taken from coverage.py.
        import_lines = rec.import_lines
        import_opened: set[str] = set()
        for h in [rec.collect, rec.session, *rec.fixtures.values()]:
            if h is rec.collect or h is rec.session or h.imported:
                _lines_into(import_lines, h.sets, rec)
                import_opened |= h.opened
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        result = {
            "ok": not rec.reason,
            "reason": rec.reason,
            "core": rec.core,
            "worker": worker,
            "collected": rec.collected,
            "tests": rec.tests,
            "fixtures": {
                key: {"files": _digests(h, rec), "imported": h.imported, "opaque": h.opaque}
                for key, h in rec.fixtures.items()
            },
            "import_lines": {f: sorted(v) for f, v in import_lines.items()},
            "import_opened": sorted(import_opened),
            "imported_modules": sorted(_repo_modules(rec)),
            "foreign": _foreign_modules(rec.root),
        }
        path = os.path.join(rec.out, f"map-{worker or 'main'}-{os.getpid()}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(result, f)
        os.replace(path + ".tmp", path)
        _save_worker()


def _repo_modules(rec: Recorder) -> set[str]:
    found = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            rel = rec._rel(path)
            if rel is not None:
                found.add(rel)
    return found


def _foreign_modules(root: str) -> list[str]:
    """Modules imported from the repository a snapshot was taken from."""
    forbid = os.environ.get(FORBID)
    if not forbid:
        return []
    forbid = os.path.realpath(forbid)
    found = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            real = os.path.realpath(path)
            if real.startswith(forbid + os.sep) and not real.startswith(root + os.sep):
                found.add(os.path.relpath(real, forbid).replace(os.sep, "/"))
    return sorted(found)


def _digests(holder: Holder, rec: Recorder) -> dict[str, int]:
    """Per repository file: a digest of what the holder executed (0: opened)."""
    out: dict[str, int] = {}
    for f in holder.opened:
        out[f] = 0
    for f, values in holder.sets.items():
        rel = rec._rel(f)
        if rel is not None and values:
            out[rel] = hash(frozenset(values)) & 0xFFFFFFFF or 1
    return out


def packed_layout(collector_class: Any) -> tuple[int, int, int] | None:
    """How this coverage.py's C tracer packs an arc into an int: the bits of
    each line number and the flag bits of a negative first and second one.

    Read from coverage.py's own unpacking code (``Collector.flush_data``),
    the one place that defines it: 20-bit fields up to 7.13.1, 28-bit since
    7.13.2.  None when that code is not recognised: then nothing is recorded.
    """
    import inspect
    import re

    try:
        source = inspect.getsource(collector_class.flush_data)
    except (OSError, TypeError, AttributeError):
        return None
    mask = re.search(r"l1 = packed & 0x(F+)\b", source)
    second = re.search(r"l2 = \(packed & \(0x(F+) << (\d+)\)\) >> (\d+)", source)
    flags = [int(n) for n in re.findall(r"if packed & \(1 << (\d+)\):", source)]
    if not mask or not second or len(flags) != 2:
        return None
    bits = 4 * len(mask.group(1))
    if not (4 * len(second.group(1)) == bits == int(second.group(2)) == int(second.group(3))):
        return None
    if flags != [2 * bits, 2 * bits + 1]:
        return None
    return bits, flags[0], flags[1]


def _lines_into(into: dict[str, set[int]], sets: Sets, rec: Recorder) -> None:
    bits, first_negative, second_negative = rec.layout
    mask = (1 << bits) - 1
    for f, values in sets.items():
        rel = rec._rel(f)
        if rel is None:
            continue
        lines = into.setdefault(rel, set())
        for v in values:
            if isinstance(v, tuple):
                lines.update(n for n in v if n > 0)
            elif rec.packed and rec.branch:
                if not v & (1 << first_negative):
                    lines.add(v & mask)
                if not v & (1 << second_negative):
                    lines.add((v >> bits) & mask)
            else:
                lines.add(v)
        if lines and max(lines) > _line_count(rec, f):
            # A line past the file's end: the arcs were not unpacked right.
            rec.reason = f"coverage.py's data for {rel} could not be read (line {max(lines)})"


def _line_count(rec: Recorder, path: str) -> int:
    count = rec.line_counts.get(path)
    if count is None:
        try:
            with open(path, "rb") as f:
                count = f.read().count(b"\n") + 1
        except OSError:
            count = 1 << 62  # Gone: nothing to check against.
        rec.line_counts[path] = count
    return count


def _redirect_process_config(data_file: str) -> None:
    """Point coverage.py's subprocess measurement (``patch = subprocess``) at
    ``data_file``: it passes its configuration to children in the
    environment, data file included, so COVERAGE_FILE alone does not reach them."""
    serialized = os.environ.get("COVERAGE_PROCESS_CONFIG")
    if not serialized:
        return
    import base64

    try:
        settings = json.loads(base64.b64decode(serialized.encode()).decode())
        settings["data_file"] = data_file
        os.environ["COVERAGE_PROCESS_CONFIG"] = base64.b64encode(
            json.dumps(settings).encode()
        ).decode()
    except (ValueError, TypeError, KeyError):
        pass  # Children then write beside the main data file; still combined.


def _measure_worker() -> Any:
    """In a pytest-xdist worker that coverage.py does not measure, measure it.

    ``coverage run`` measures the main process only; xdist's workers run the
    tests.  Started here, when pytest imports this plugin (``-p``, before any
    conftest or test module), a worker is measured as the main process
    would have been: the same configuration file, data beside the run's.
    The data is saved when pytest ends (:func:`pytest_unconfigure`).
    """
    if not os.environ.get("PYTEST_XDIST_WORKER") or not os.environ.get(DATA_DIR):
        return None
    import coverage

    if coverage.Coverage.current() is not None:  # Measured already (patch = subprocess).
        return None
    folder = os.path.join(os.environ[DATA_DIR], f"w{os.getpid()}")
    os.makedirs(folder, exist_ok=True)
    rcfile = os.environ.get(RCFILE, "")
    cov = coverage.Coverage(
        data_file=os.path.join(folder, ".coverage"),
        data_suffix=True,
        config_file=rcfile if rcfile else False,
    )
    cov.start()
    return cov


def _share_configuration() -> None:
    """Tell xdist's workers (which inherit the environment) the main process's
    coverage configuration file."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    try:
        import coverage
    except ImportError:
        return
    cov = coverage.Coverage.current()
    if cov is not None:
        os.environ[RCFILE] = getattr(cov.config, "config_file", None) or ""


_share_configuration()
_WORKER_COVERAGE = _measure_worker()


@pytest.hookimpl(hookwrapper=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: Any) -> Any:
    """Keep pytest-cov (``--cov`` in the project's ``addopts``) from starting a
    measurement of its own inside ours: it would take over the tracer, and
    ours would see nothing.  pytest-cov starts only when ``--cov`` named a
    source, which it reads here, in this hook."""
    namespace = getattr(early_config, "known_args_namespace", None)
    if namespace is not None and getattr(namespace, "cov_source", None):
        namespace.cov_source = []
    yield


def pytest_configure(config: Any) -> None:
    if os.environ.get(OUT):
        config.pluginmanager.register(Plugin(), "ratchet-testmap")


def _save_worker() -> None:
    """Save a worker's measurement, once.  Called when the session finishes,
    before pytest-xdist tells the main process that the worker is done (the
    main process may stop it right after)."""
    global _WORKER_COVERAGE
    cov, _WORKER_COVERAGE = _WORKER_COVERAGE, None
    if cov is not None:
        cov.stop()
        cov.save()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: Any) -> None:
    _save_worker()
