"""The pytest plugin that records what each test executes, line by line.

It runs inside the project's own test process (and in each pytest-xdist
worker), copied there by the runner, so it uses nothing but the standard
library, pytest and the running coverage.py, and keeps to Python 3.9.

What is recorded is split into *units*, each with the lines (or arcs) it
executed per file, the repository files it opened, and the repository
modules it imported:

- a test: its setup, call and teardown (and pytest's hooks between them),
  with its function-scoped fixtures;
- a fixture instance of a broader scope, set up and torn down;
- an import: the execution of one repository module's body, including what
  that body calls, and only that (a test that imports a module lazily owns
  the lines it runs, not the module's import-time lines);
- the session: whatever else ran (conftest hooks, plugins).

How lines are attributed, exactly and cheaply:

- under coverage.py's ``ctrace`` and ``pytrace`` cores, its collector keeps
  a set of the lines (or arcs) executed per file.  At every unit boundary
  what the sets hold is moved aside into the unit; before coverage.py saves
  (any ``flush_data``), everything is put back, so its data and numbers are
  untouched, and coverage contexts are never switched;
- under the ``sysmon`` core, which reports a line only the first time,
  a ``sys.monitoring`` tool of our own records lines, and its events are
  re-enabled at each unit boundary (``restart_events``), which changes none
  of coverage.py's numbers.

The output (one JSON document per process) is read by
:mod:`ratchet.selection.session`.  With a selection spec, only the test
modules named are collected (the others are never imported) and only the
tests named are run.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from array import array
from base64 import b64encode
from itertools import compress
from operator import sub
from typing import Any

import pytest

OUT = "RATCHET_TESTMAP_OUT"
SELECT = "RATCHET_TESTMAP_SELECT"
# A descriptor to read "go" from before the spec is read: the process was
# started before ratchet had decided what it runs (session.py, Session.start).
GO = "RATCHET_TESTMAP_GO"
DONE = "RATCHET_TESTMAP_DONE"
ROOT = "RATCHET_TESTMAP_ROOT"
DATA_DIR = "RATCHET_TESTMAP_DATA"
# In a snapshot run: the repository the snapshot was taken from, whose files
# the tests must not import.
FORBID = "RATCHET_TESTMAP_FORBID"
# The coverage configuration file the main process measures with ('' for
# none), so that pytest-xdist's workers measure with the same one.
RCFILE = "RATCHET_COVERAGE_RCFILE"
# Hypothesis's reader of local modules' constants, and its pytest plugin,
# which fills its pool while collecting (see ratchet/selection/pool.py).
_CONSTANTS_AST = os.path.join("hypothesis", "internal", "constants_ast.py")
_HYPOTHESIS_PLUGIN = "_hypothesis_pytestplugin.py"
TOOL_ID = 4  # A sys.monitoring tool id coverage.py (1) and debuggers (0) do not use.


class Unit:
    """What one test, fixture instance, import or the session executed."""

    __slots__ = ("children", "drew", "imports", "lines", "opened", "spawned")

    def __init__(self) -> None:
        self.lines: dict[str, set[Any]] = {}  # Absolute file name -> lines or arcs.
        self.opened: set[str] = set()  # Repository files opened.
        self.imports: set[str] = set()  # Repository module files imported.
        self.spawned = False  # It started a Python subprocess...
        self.children = False  # ... and coverage data of subprocesses appeared.
        self.drew = False  # It drew from Hypothesis's pool of local constants.

    def add(self, taken: dict[str, set[Any]]) -> None:
        for f, values in taken.items():
            mine = self.lines.get(f)
            if mine is None:
                self.lines[f] = set(values)
            else:
                mine |= values

    @property
    def opaque(self) -> bool:
        """It ran Python we could not see: what it depends on is unknown."""
        return self.spawned and not self.children


# -- taking lines from coverage.py, or from sys.monitoring ---------------------------


class Sets:
    """Lines from coverage.py's own per-file sets (the ctrace and pytrace cores).

    Every unit boundary looks for the files with new lines.  coverage.py's
    dict holds a set for every file measured so far (20,000 in a monorepo,
    where the scan took half a recorded run's time), so the sets nothing
    else holds, once emptied, are removed from it (:meth:`_compact`): the
    tracers add a file again when they next enter it, and the scan sees only
    the files run since.  Both cores own a reference to the set of every
    frame they trace (coverage.py 7.0 on), so a set no tracer holds gets no
    more lines; one a tracer took meanwhile (another thread, between the
    count and the removal) is watched until it is let go (:meth:`_watch`).

    The pytrace core traces a call into the file of the frame that makes it
    only if that frame's set is not empty (coverage.py's same-file
    shortcut).  So under that core the sets of frames still running are
    never emptied: what was taken from them is remembered instead
    (``self.seen``), and only lines beyond it are taken.
    """

    def __init__(self, collector: Any, data: dict[str, set[Any]], *, pytrace: bool) -> None:
        self.collector = collector
        self.data = data
        self.pytrace = pytrace
        self.moved: dict[str, set[Any]] = {}  # Taken from coverage, given back on flush.
        self.retired: list[tuple[str, set[Any]]] = []  # Removed from data, maybe still held.
        # id(set) -> (that set, what was taken from it): sets left full (pytrace).
        self.seen: dict[int, tuple[set[Any], set[Any]]] = {}
        self.compacting = _counts_references()
        flush = collector.flush_data

        def flush_data() -> bool:
            self.give_back()
            return bool(flush())

        collector.flush_data = flush_data

    def take(self) -> dict[str, set[Any]]:
        """Move what coverage collected since the last call into a new dict."""
        taken: dict[str, set[Any]] = {}
        data = self.data
        running = self._running() if self.pytrace else {}
        # The files with new lines, found in C.  (No Python code runs while
        # it is built, so no other thread can add a file meanwhile.)
        for f in list(compress(data.keys(), data.values())):
            self._move(f, data[f], taken, running)
        if self.retired:
            self._watch(taken, running)
        if self.compacting:
            self._compact()
        return taken

    def _running(self) -> dict[int, set[Any]]:
        """The sets of the frames the pytrace tracers are in, by id."""
        found: dict[int, set[Any]] = {}
        for tracer in list(getattr(self.collector, "tracers", ())):
            current = getattr(tracer, "cur_file_data", None)
            for entry in [*list(getattr(tracer, "data_stack", ())), (current,)]:
                for item in entry:
                    if type(item) is set:
                        found[id(item)] = item
        return found

    def _move(
        self, f: str, s: set[Any], taken: dict[str, set[Any]], running: dict[int, set[Any]]
    ) -> None:
        # Copy first, then remove only what was copied: a line a thread
        # adds meanwhile stays for the next call, never lost.
        snap = set(s)
        known = self.seen.get(id(s))
        if id(s) in running:  # Left full; only what is new is taken.
            if known is None:
                self.seen[id(s)] = (s, set(snap))
            else:
                snap -= known[1]
                known[1].update(snap)
        else:
            s -= snap
            if known is not None:
                del self.seen[id(s)]
                snap -= known[1]
        if not snap:
            return
        kept = self.moved.get(f)
        if kept is None:
            kept = self.moved[f] = set()
        kept |= snap
        mine = taken.get(f)
        if mine is None:
            taken[f] = snap
        else:
            mine |= snap

    def _compact(self) -> None:
        data = self.data
        for f in [f for f, s in data.items() if not s]:
            s = data.get(f)
            if s is None or s or _references(s) > _UNHELD:
                continue  # A tracer holds it (a frame of that file is running).
            del data[f]
            self.retired.append((f, s))

    def _watch(self, taken: dict[str, set[Any]], running: dict[int, set[Any]]) -> None:
        """Lines a tracer added to a removed set; drop the sets none holds."""
        still = []
        for f, s in self.retired:
            if s:
                self._move(f, s, taken, running)
            if _references(s) > _UNHELD:
                still.append((f, s))
        self.retired = still

    def give_back(self) -> None:
        self.seen = {}  # coverage.py empties its sets once it has them.
        for f, s in self.moved.items():
            live = self.data.get(f)
            if live is None:
                self.data[f] = s
            else:
                live |= s
        self.moved = {}

    def stop(self) -> None:
        self.give_back()


def _references(s: set[Any]) -> int:
    return sys.getrefcount(s)


def _unheld() -> int:
    """What :func:`_references` says of a set held by one container and one name."""
    box: list[set[Any]] = [set()]
    s = box[0]
    return _references(s)


_UNHELD = _unheld()


def _counts_references() -> bool:
    """Whether one more holder shows in the count (else sets are never removed)."""
    box: list[set[Any]] = [set()]
    s = box[0]
    other = s
    held = _references(s)
    del other
    return held == _UNHELD + 1 and _references(s) == _UNHELD


class Monitor:
    """Lines from a ``sys.monitoring`` tool of our own (the sysmon core), for
    the files under ``prefix``: each line once per unit."""

    def __init__(self, prefix: str, decisions: dict[str, Any], rec: Recorder) -> None:
        mon = sys.monitoring  # type: ignore[attr-defined]
        self.mon = mon
        self.prefix = prefix
        # coverage.py's own decisions, file name -> disposition: only the
        # files it measures are kept, under the name it measures them by.
        self.decisions = decisions
        self.rec = rec
        self.lines: dict[str, set[Any]] = {}
        self.wanted: dict[Any, bool] = {}
        mon.use_tool_id(TOOL_ID, "coverage-ratchet")  # ValueError: taken.
        mon.register_callback(TOOL_ID, mon.events.PY_START, self._start)
        mon.register_callback(TOOL_ID, mon.events.LINE, self._line)
        mon.set_events(TOOL_ID, mon.events.PY_START)

    def _start(self, code: Any, offset: int) -> Any:
        wanted = self.wanted.get(code)
        if wanted is None:
            name = code.co_filename
            wanted = self.wanted[code] = (
                name.startswith(self.prefix) and "site-packages" not in name
            )
            if wanted:
                self.mon.set_local_events(TOOL_ID, code, self.mon.events.LINE)
        return self.mon.DISABLE

    def _line(self, code: Any, line: int) -> Any:
        lines = self.lines.get(code.co_filename)
        if lines is None:
            lines = self.lines[code.co_filename] = set()
        lines.add(line)
        return self.mon.DISABLE

    def take(self) -> dict[str, set[Any]]:
        seen, self.lines = self.lines, {}
        # Every location fires again, once, for the next unit (coverage.py's
        # own events too: it records a first hit again, which changes nothing).
        self.mon.restart_events()
        taken: dict[str, set[Any]] = {}
        for name, lines in seen.items():
            if name not in self.decisions:
                self.rec.reason = f"coverage.py made no decision about {name}"
                continue
            disposition = self.decisions[name]
            if disposition is None or not getattr(disposition, "trace", False):
                continue
            taken.setdefault(disposition.source_filename, set()).update(lines)
        return taken

    def give_back(self) -> None:
        pass

    def stop(self) -> None:
        self.mon.set_events(TOOL_ID, 0)
        self.mon.free_tool_id(TOOL_ID)


# -- the recorder ------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.root = os.path.realpath(os.environ.get(ROOT, os.getcwd()))
        self.prefix = self.root.rstrip(os.sep) + os.sep
        self.reason = ""
        self.quiet = False  # While the recorder itself reads files.
        self.core = ""
        self.branch = False
        self.packed = False
        # Of packed arcs: bits per line number, the flags of negative numbers.
        self.layout = (28, 56, 57)
        self.source: Any = None
        self.session = Unit()
        self.current = self.session
        self.stack: list[Unit] = []
        self.test: Unit | None = None
        self.tests: dict[str, Any] = {}
        self.fixtures: dict[str, Unit] = {}
        self.active: dict[int, str] = {}  # id(fixturedef) -> key of its live instance
        self.imports: dict[str, Unit] = {}  # Module file -> its import unit.
        self.modules: dict[str, Unit] = {}  # Test module -> its collection unit.
        self.import_order: list[list[str]] = []  # [module name, file], first imports.
        self.failed_imports: set[str] = set()  # Module files whose first import raised.
        self.preload_failures: dict[str, str] = {}  # Preloaded module name -> its error.
        self.preloading = False
        self.preloaded: set[str] = set()  # Module files first imported by the preload.
        self.collected: dict[str, list[str]] = {}  # Test module -> its test ids.
        self.own_data_dir = ""
        self.seen_data: set[str] = set()
        self.relcache: dict[str, str | None] = {}
        self.realdirs: dict[str, str] = {}  # Folder -> its real path (see _real).
        self.line_counts: dict[str, int] = {}
        # Decoded sets, by their raw content: see encode.
        self.encoded: dict[tuple[bool, frozenset[Any]], tuple[str, int]] = {}
        self.pool: set[str] = set()  # Files Hypothesis took constants from (pool.py).
        self.pool_hooked = False  # Its draws are seen (hook_pool).
        self._start()

    # -- coverage.py --------------------------------------------------------------

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
        tracers = getattr(collector, "tracers", None)
        if not tracers:
            self.reason = "this coverage.py keeps its data in an unknown way"
            return
        if getattr(cov.config, "dynamic_context", None):
            self.reason = "coverage.py's dynamic_context is set"
            return
        self.core = type(tracers[0]).__name__
        self.branch = bool(getattr(collector, "branch", False))
        if self.core == "SysMonitor":
            if self.branch:
                self.reason = "branch coverage under the sysmon core cannot be recorded per test"
                return
            decisions = getattr(collector, "should_trace_cache", None)
            if not isinstance(decisions, dict):
                self.reason = "this coverage.py keeps its data in an unknown way"
                return
            try:
                self.source = Monitor(self.prefix, decisions, self)
            except ValueError:
                self.reason = f"sys.monitoring tool id {TOOL_ID} is taken by another tool"
                return
        elif self.core in ("CTracer", "PyTracer"):
            data = getattr(collector, "data", None)
            if not isinstance(data, dict) or getattr(collector, "flush_data", None) is None:
                self.reason = "this coverage.py keeps its data in an unknown way"
                return
            core = getattr(collector, "core", None)
            packed = getattr(core, "packed_arcs", getattr(collector, "packed_arcs", False))
            self.packed = bool(packed) and self.branch
            if self.packed:
                layout = packed_layout(type(collector))
                if layout is None:
                    version = getattr(coverage, "__version__", "?")
                    self.reason = (
                        f"coverage.py {version} packs arcs in a way ratchet does not know"
                    )
                    return
                self.layout = layout
            self.source = Sets(collector, data, pytrace=self.core == "PyTracer")
        else:
            self.reason = f"coverage.py's {self.core} core cannot be recorded per test"
            return
        sys.addaudithook(self._audit)

    def flush(self) -> None:
        """Attribute everything executed since the last flush to the current unit."""
        if self.source is None:
            return
        self.current.add(self.source.take())
        unit = self.current
        if unit.spawned and unit is not self.session:
            self._child_data(unit)

    def enter(self, unit: Unit) -> None:
        self.flush()
        self.stack.append(self.current)
        self.current = unit

    def leave(self) -> None:
        self.flush()
        self.current = self.stack.pop()

    # -- paths ----------------------------------------------------------------------

    def rel(self, path: str) -> str | None:
        """``path`` relative to the repository, or None when outside it (or
        in an environment inside it)."""
        rel = self.relcache.get(path)
        if rel is None and path not in self.relcache:
            full = self._real(path)
            if (
                full.startswith(self.prefix)
                and "__pycache__" not in full
                and "site-packages" not in full
            ):
                rel = full[len(self.prefix) :].replace(os.sep, "/")
                if rel.startswith(".git/"):
                    rel = None
            self.relcache[path] = rel
        return rel

    def _real(self, path: str) -> str:
        """``os.path.realpath(path)``, its folder's part resolved once per
        folder: pytest asks about every file of a test folder, and resolving
        each file's whole path was most of a selected run's collection."""
        folder, name = os.path.split(path)
        # Normalised and absolute (no "." or ".." left), and not a link itself.
        if (
            not name
            or not os.path.isabs(path)
            or os.path.normpath(path) != path
            or os.path.islink(path)
        ):
            return os.path.realpath(path)
        real = self.realdirs.get(folder)
        if real is None:
            real = self.realdirs[folder] = os.path.realpath(folder)
        return os.path.join(real, name)

    # -- imports, files opened and processes started ------------------------------------

    def imported(self, module: Any) -> None:
        """The current unit imported ``module`` (already imported or not)."""
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            rel = self.rel(path)
            if rel is not None:
                self.current.imports.add(rel)

    def _audit(self, event: str, args: Any) -> None:
        if self.quiet:
            return
        if event == "open":
            path = args[0]
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            if isinstance(path, str):
                if not os.path.isabs(path):
                    path = os.path.join(os.getcwd(), path)
                rel = self.rel(path)
                if rel is not None and not self._pooled(rel):
                    self.current.opened.add(rel)
        elif event in ("subprocess.Popen", "os.posix_spawn", "os.exec"):
            program = args[0] if event != "subprocess.Popen" or args[0] else (args[1] or [""])[0]
            name = os.path.basename(os.fsdecode(program)) if program else ""
            if name.startswith("python") or program == sys.executable:
                self.current.spawned = True

    def _pooled(self, rel: str) -> bool:
        """Whether Hypothesis is reading ``rel`` for its pool of local
        constants (a module's source, or its cache of them): recorded as a
        pooled file, and the current unit as drawing from the pool, unless
        it is Hypothesis's own pytest plugin filling the pool early."""
        if "hypothesis" not in sys.modules:
            return False
        try:
            frame: Any = sys._getframe(2)  # What opened the file.
        except ValueError:  # Opened with no Python code above (from C).
            return False
        reading = early = False
        for _ in range(16):
            if frame is None:
                break
            name = frame.f_code.co_filename
            if not reading:
                if frame.f_code.co_name == "constants_from_module" and name.endswith(
                    _CONSTANTS_AST
                ):
                    reading = True
            elif name.endswith(_HYPOTHESIS_PLUGIN):
                early = True
                break
            frame = frame.f_back
        if not reading or not self.hook_pool():
            # Not Hypothesis, or one whose draws cannot be seen: an open.
            return False
        if rel.endswith(".py"):
            self.pool.add(rel)
        if not early:
            self.current.drew = True
        return True

    def hook_pool(self) -> bool:
        """See every draw from Hypothesis's pool (``_get_local_constants``,
        which each of its providers calls once): the unit current then drew
        from it.  False when Hypothesis has no such function."""
        if self.pool_hooked:
            return True
        providers = sys.modules.get("hypothesis.internal.conjecture.providers")
        get = getattr(providers, "_get_local_constants", None)
        if get is None or not callable(get):
            return False
        rec = self

        def _get_local_constants(*args: Any, **kwargs: Any) -> Any:
            if not sys._getframe(1).f_code.co_filename.endswith(_HYPOTHESIS_PLUGIN):
                rec.current.drew = True
            return get(*args, **kwargs)

        providers._get_local_constants = _get_local_constants  # type: ignore[union-attr]
        self.pool_hooked = True
        return True

    def _child_data(self, unit: Unit) -> None:
        """Attribute measured Python subprocesses to the unit that started them."""
        directory = self.own_data_dir
        if not directory or not os.path.isdir(directory):
            return
        for name in sorted(os.listdir(directory)):
            full = os.path.join(directory, name)
            if not name.startswith(".coverage") or full in self.seen_data:
                continue
            self.seen_data.add(full)
            unit.children = True
            try:
                from coverage import CoverageData

                cd = CoverageData(full)
                cd.read()
                for f in cd.measured_files():
                    arcs = cd.arcs(f) if cd.has_arcs() else None
                    values = set(arcs) if arcs is not None else set(cd.lines(f) or ())
                    unit.add({f: values})
            except Exception:  # A child's unreadable data: we cannot tell.
                unit.children = False
                return

    # -- output -----------------------------------------------------------------------

    def encode(self, unit: Unit) -> dict[str, Any]:
        lines: dict[str, Any] = {}
        known = self.encoded
        for f, values in unit.lines.items():
            rel = self.rel(f)
            if rel is None or not values:
                continue
            # Most units run a file's lines exactly as some other unit did:
            # each distinct set is decoded once (hashing it runs in C).
            key = (unit.spawned, frozenset(values))
            done = known.get(key)
            if done is None:
                flat, top = self._decode(values, unit.spawned)
                done = known[key] = (pack_lines(flat), top)
            lines[rel], top = done
            if top > self._line_count(f):
                # A line past the file's end: the data were not read right.
                self.reason = f"coverage.py's data for {rel} could not be read (line {top})"
        return {
            "lines": lines,
            "opened": sorted(unit.opened),
            "imports": sorted(unit.imports),
            "opaque": unit.opaque,
            "drew": unit.drew,
        }

    def _decode(self, values: set[Any], spawned: bool) -> tuple[list[int], int]:
        """Sorted lines, or sorted arcs flattened; and the highest line number."""
        if self.branch:
            arcs = sorted(_arcs(values, self.packed, self.layout, spawned))
            flat = [n for arc in arcs for n in arc]
            return flat, max(map(abs, flat), default=0)
        nums = sorted(v for v in values if type(v) is int and v > 0)
        return nums, nums[-1] if nums else 0

    def _line_count(self, path: str) -> int:
        count = self.line_counts.get(path)
        if count is None:
            self.quiet = True
            try:
                with open(path, "rb") as f:
                    count = f.read().count(b"\n") + 1
            except OSError:
                count = 1 << 62  # Gone: nothing to check against.
            finally:
                self.quiet = False
            self.line_counts[path] = count
        return count


def pack_lines(values: list[int]) -> str:
    """Sorted lines or flat arcs as ``ratchet.encoded.encode`` writes them,
    uncompressed, in base64: a few bytes a line where JSON numbers took five,
    so the output of a whole run is written and read in a fraction of the
    time.  (ratchet compresses the long ones as ``encode`` does, see
    ``recording.py``: this file runs in the project's environment, whose
    zlib may differ, and ratchet need not be installed there.)"""
    if not values:
        return "Yg=="  # b"b": no deltas.
    deltas = [values[0], *map(sub, values[1:], values[:-1])]
    low, high = min(deltas), max(deltas)
    code = "b" if -128 <= low <= high < 128 else "h" if -32768 <= low <= high < 32768 else "q"
    return b64encode(code.encode() + array(code, deltas).tobytes()).decode("ascii")


def _arcs(
    values: Any, packed: bool, layout: tuple[int, int, int], mixed: bool = False
) -> set[tuple[int, int]]:
    """Arcs as pairs; ``mixed``: some are pairs already (a child's data)."""
    if not packed:
        return {v for v in values if isinstance(v, tuple)}
    bits, first_negative, second_negative = layout
    mask = (1 << bits) - 1
    neg1, neg2 = 1 << first_negative, 1 << second_negative
    tuples = {v for v in values if type(v) is tuple} if mixed else set()
    ints = values - tuples if tuples else values
    return tuples | {
        (
            -(v & mask) if v & neg1 else v & mask,
            -((v >> bits) & mask) if v & neg2 else (v >> bits) & mask,
        )
        for v in ints
    }


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


# -- imports as units ---------------------------------------------------------------------


class _ImportWatch:
    """A meta path finder that finds nothing itself: it asks the finders after
    it, as the import system would, and wraps the loader of a repository
    module so that executing its body is a unit of its own."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        found = None
        seen_self = False
        for finder in list(sys.meta_path):
            if finder is self:
                seen_self = True
                continue
            if not seen_self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            found = find(name, path, target)
            if found is not None:
                break
        if found is None:
            return None
        origin = getattr(found, "origin", None)
        loader = getattr(found, "loader", None)
        if (
            isinstance(origin, str)
            and os.path.isabs(origin)
            and loader is not None
            and hasattr(loader, "exec_module")
            and self.rec.rel(origin) is not None
        ):
            found.loader = _Loader(loader, self.rec, origin, name)
        return found


class _Loader:
    def __init__(self, loader: Any, rec: Recorder, origin: str, name: str) -> None:
        self._loader = loader
        self._rec = rec
        self._origin = origin
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._loader, attr)

    def create_module(self, spec: Any) -> Any:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: Any) -> None:
        rec = self._rec
        rel = rec.rel(self._origin)
        if rel is None or rel in rec.imports:  # Re-executed (reload, a failed import tried
            if rel is not None:  # again): the current unit's own lines, and it depends on it.
                rec.current.imports.add(rel)
            self._loader.exec_module(module)
            return
        unit = rec.imports[rel] = Unit()
        rec.current.imports.add(rel)
        if rec.preloading:
            rec.preloaded.add(rel)
        rec.import_order.append([self._name, rel])
        rec.enter(unit)
        try:
            self._loader.exec_module(module)
        except BaseException:
            rec.failed_imports.add(rel)
            raise
        finally:
            rec.leave()


def _watch_imports(rec: Recorder) -> None:
    """Import units for repository modules, and import records: every import
    statement (and ``importlib.import_module``) a unit runs, already imported
    or not, names a module it depends on."""
    import builtins
    import importlib

    sys.meta_path.insert(0, _ImportWatch(rec))
    real_import = builtins.__import__

    def recording_import(
        name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        module = real_import(name, globals, locals, fromlist, level)
        try:
            if fromlist:
                rec.imported(module)
                for item in fromlist:
                    sub = getattr(module, item, None) if isinstance(item, str) else None
                    if sub is not None and type(sub).__name__ == "module":
                        rec.imported(sub)
            else:
                # `import a.b.c` binds `a`; it depends on `a.b.c`.
                full = name
                if level and globals:
                    package = globals.get("__package__") or ""
                    parts = package.split(".")[: len(package.split(".")) - level + 1]
                    full = ".".join([p for p in parts if p] + [name])
                rec.imported(sys.modules.get(full, module))
        except Exception:  # Recording must never change what the import does.
            pass
        return module

    builtins.__import__ = recording_import
    real_import_module = importlib.import_module

    def recording_import_module(name: str, package: Any = None) -> Any:
        module = real_import_module(name, package)
        rec.imported(module)
        return module

    importlib.import_module = recording_import_module


# -- pytest --------------------------------------------------------------------------------


def _fixture_key(fixturedef: Any, request: Any) -> str:
    node = getattr(request, "node", None)
    where = getattr(node, "nodeid", "")
    index = getattr(request, "param_index", 0)
    return f"{fixturedef.baseid}::{fixturedef.argname}@{where}[{index}]"


class Plugin:
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.out = os.environ[OUT]
        self.collect: set[str] | None = None
        self.import_only: set[str] = set()
        self.select: set[str] = set()
        self.known: set[str] = set()
        self.preload: list[str] = []
        self.reimport: list[str] = []
        self.keep_data = True  # Whether the run's coverage data file is read after it.
        self.not_needed = False  # Started early, and then told not to run.
        # Taken out of the environment: it is this process's descriptor, and
        # the processes it starts (pytest-xdist workers) read the spec itself.
        go = os.environ.pop(GO, None)
        self.go = int(go) if go else None
        done = os.environ.pop(DONE, None)
        self.done = int(done) if done else None
        self.waited = 0.0  # Seconds spent waiting for that go: ratchet's time, not the tests'.
        if self.go is None:
            self._read_spec()
        data_dir = os.environ.get(DATA_DIR)
        if data_dir and rec.source is not None:
            # Python subprocesses this process starts write coverage data here,
            # so each test can tell what its own children measured.
            own = os.path.join(data_dir, f"p{os.getpid()}")
            os.makedirs(own, exist_ok=True)
            target = os.path.join(own, ".coverage")
            os.environ["COVERAGE_FILE"] = target
            _redirect_process_config(target)
            rec.own_data_dir = own

    def _read_spec(self) -> None:
        path = os.environ.get(SELECT)
        if not path:
            return
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        if spec is None:  # The whole suite.
            return
        self.collect = set(spec["collect"])
        self.import_only = set(spec.get("import_only", ()))
        self.select = set(spec["select"])
        self.known = set(spec["known"])
        self.preload = list(spec["import"])
        self.reimport = list(spec.get("reimport", ()))
        self.keep_data = bool(spec.get("data", True))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: Any) -> None:
        """Started early: wait here, start-up done, until ratchet says go."""
        if self.go is None:
            return
        fd, self.go = self.go, None
        said = b""
        since = time.monotonic()
        try:
            while len(said) < 3:
                chunk = os.read(fd, 3 - len(said))
                if not chunk:
                    break
                said += chunk
        except OSError:
            said = b""
        finally:
            os.close(fd)
            self.waited = time.monotonic() - since
        if said != b"go\n":  # Closed without go: ratchet needs no run, or is gone.
            self.not_needed = True
            pytest.exit("ratchet: this test run is not needed", returncode=0)
        self._read_spec()

    # Collection: only the test modules the spec names.
    def pytest_ignore_collect(self, collection_path: Any) -> Any:
        if self.collect is None:
            return None
        name = os.fspath(collection_path)
        if not name.endswith(".py") or os.path.isdir(name):
            return None  # Folders are walked, so that every conftest.py loads.
        base = os.path.basename(name)
        if base in ("conftest.py", "__init__.py"):
            return None
        rel = self.rec.rel(name)
        if rel is None or rel in self.collect or rel in self.import_only:
            return None
        return True

    def import_only_report(self, collector: Any) -> Any:
        """A test module that is only imported: imported as collecting it
        imports it, in the same order, and no test made.  Its collection
        and tests are the map's; the import is a unit of its own, as ever,
        entered from a unit of no one's (as preloads are)."""
        if not self.import_only or not isinstance(collector, pytest.Module):
            return None
        if self.rec.rel(os.fspath(collector.path)) not in self.import_only:
            return None
        self.rec.enter(Unit())
        try:
            _ = collector.obj  # pytest imports the module when asked for it.
        except Exception:
            return None  # Collected as a full run collects it: it reports the error.
        finally:
            self.rec.leave()
        return pytest.CollectReport(collector.nodeid, "passed", None, [])

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: Any) -> Any:
        """Collecting a test module (importing it, unless an import unit took
        that, and generating its tests) is a unit of its own."""
        rec = self.rec
        rel = (
            rec.rel(os.fspath(getattr(collector, "path", "")))
            if isinstance(collector, pytest.Module)
            else None
        )
        if rel is None or rel in self.import_only:
            yield
            return
        unit = rec.modules.get(rel)
        if unit is None:
            unit = rec.modules[rel] = Unit()
        # Collected, even if it yields no test: its old tests are gone.
        rec.collected.setdefault(collector.nodeid, [])
        rec.enter(unit)
        try:
            yield
        finally:
            rec.leave()

    def pytest_collection(self, session: Any) -> None:
        # Modules whose import changes what other code does, imported as a
        # full run imports them while collecting (see session.py).
        import importlib

        # In a unit of no one's: the session did not import these in a full
        # run (a test module did); session.py checks one still does.
        rec = self.rec
        rec.enter(Unit())
        rec.preloading = True
        try:
            for name in self.preload:
                try:
                    importlib.import_module(name)
                except Exception as e:
                    # Fine only if a full run's import failed alike (session.py).
                    rec.preload_failures[name] = f"{type(e).__name__}: {e}"
        finally:
            rec.preloading = False
            rec.leave()
        # Modules whose import-time lines moved (a function added): their
        # import is recorded again, owned by no test (session.py checks it ran
        # as before).  Already imported at start-up: recorded then.
        for name in self.reimport:
            if name in sys.modules:
                continue
            self.rec.enter(Unit())
            try:
                importlib.import_module(name)
            except Exception as e:
                self.rec.reason = f"could not import {name} again ({e})"
            finally:
                self.rec.leave()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        for item in items:
            module = item.nodeid.split("::", 1)[0]
            self.rec.collected.setdefault(module, []).append(item.nodeid)
        if self.collect is None:
            return

        # The tests named, and every test the map does not know (new ones).
        def wanted(nodeid: str) -> bool:
            return nodeid in self.select or nodeid not in self.known

        keep = [item for item in items if wanted(item.nodeid)]
        drop = [item for item in items if not wanted(item.nodeid)]
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_collectreport(self, report: Any) -> None:
        self.rec.hook_pool()  # Before Hypothesis's plugin fills its pool (modifyitems).

    def pytest_collection_finish(self, session: Any) -> None:
        self.rec.flush()

    # A test is one unit from the start of its setup to the end of its
    # teardown: what pytest runs between its phases (reports, hooks) counts
    # for it too.  Each boundary scans every measured file's set, so a
    # boundary at each end of each phase made recording cost twice a plain
    # run at 20,000 files and 100,000 tests.

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: Any) -> Any:
        rec = self.rec
        if rec.test is None:
            rec.test = Unit()
            rec.enter(rec.test)
        rec.hook_pool()
        yield

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: Any) -> Any:
        rec = self.rec
        if rec.test is not None:
            # A broader fixture's finalizer may run in this teardown: what
            # ran before it (the test's call) is the test's alone.
            rec.flush()
        yield
        if rec.test is not None:
            rec.leave()
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
        unit = rec.fixtures.get(key)
        if unit is None:
            unit = rec.fixtures[key] = Unit()
        rec.enter(unit)
        try:
            yield
        finally:
            rec.leave()

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_post_finalizer(self, fixturedef: Any, request: Any) -> None:
        rec = self.rec
        key = rec.active.get(id(fixturedef))
        unit = rec.fixtures.get(key) if key is not None else None
        if fixturedef.scope == "function" or unit is None or rec.source is None:
            return
        # Its finalizer has just run, in the current unit: those lines (and
        # what else ran since the last boundary) count for the fixture too.
        taken = rec.source.take()
        rec.current.add(taken)
        unit.add(taken)

    def _finish_test(self, item: Any) -> None:
        rec = self.rec
        unit, rec.test = rec.test, None
        if unit is None:
            return
        info = getattr(item, "_fixtureinfo", None)
        defs = getattr(info, "name2fixturedefs", {}) if info is not None else {}
        used = set()
        for name in getattr(item, "fixturenames", ()):
            for fixturedef in defs.get(name, ()):
                key = rec.active.get(id(fixturedef))
                if key is not None:
                    used.add(key)
        record = rec.encode(unit)
        record["fixtures"] = sorted(used)
        rec.tests[item.nodeid] = record

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: Any) -> None:
        rec = self.rec
        if self.not_needed:
            _no_data_file()
            return
        rec.flush()
        source, rec.source = rec.source, None  # Nothing more is taken.
        if source is not None:
            source.stop()
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        result = {
            "ok": not rec.reason,
            "core": rec.core,
            "waited": self.waited,
            "branch": rec.branch,
            "worker": worker,
            "collected": rec.collected,
            "tests": rec.tests,
            "fixtures": {key: rec.encode(u) for key, u in rec.fixtures.items()},
            "imports": {rel: rec.encode(u) for rel, u in rec.imports.items()},
            "modules": {rel: rec.encode(u) for rel, u in rec.modules.items()},
            "import_order": rec.import_order,
            "failed_imports": sorted(rec.failed_imports),
            "preload_failures": rec.preload_failures,
            "preloaded": sorted(rec.preloaded),
            "session": rec.encode(rec.session),
            "pool": sorted(rec.pool),
            "foreign": _foreign_modules(rec.root),
        }
        result["ok"] = not rec.reason  # Encoding can find a problem too.
        result["reason"] = rec.reason
        path = os.path.join(self.out, f"map-{worker or 'main'}-{os.getpid()}.json")
        # dumps, not dump: only the one-shot encoder is json's C one (dump
        # walks a map of megabytes in Python, a second of a full run).
        text = json.dumps(result)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        if not self.keep_data:
            _no_data_file()
        _save_worker()
        done, self.done = self.done, None
        tell_done(done, worker=worker, keep_data=self.keep_data)


def tell_done(fd: int | None, *, worker: str | None, keep_data: bool) -> None:
    """Say ``done`` on ratchet's descriptor ``fd`` (and close it) when all
    ratchet reads of this run is written: its map, and no data file to
    save at the exit.  pytest-xdist's workers wrote theirs before they said
    they were finished; a worker itself says nothing."""
    if fd is None:
        return
    try:
        if worker is None and not keep_data:
            with contextlib.suppress(OSError):  # ratchet gone: it reads nothing.
                os.write(fd, b"done\n")
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def _no_data_file() -> None:
    """A selected run's numbers come from the map and what this plugin
    wrote: its coverage data file is not read.  Saving it walks every
    source folder for files nothing executed (``[run] source``), which at
    20,000 files was most of a selected run's time."""
    global _WORKER_COVERAGE
    import coverage

    cov = coverage.Coverage.current()
    if cov is not None:
        cov.save = lambda: None  # type: ignore[method-assign]  # `coverage run` saves at exit.
    _WORKER_COVERAGE = None  # Stopped with the process; nothing to save.


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


# -- this process: measured, and pytest-cov kept out --------------------------------------


def _measure_worker() -> Any:
    """In a pytest-xdist worker that coverage.py does not measure, measure it.

    ``coverage run`` measures the main process only; xdist's workers run the
    tests.  Started here, when pytest imports this plugin (``-p``, before any
    conftest or test module), a worker is measured as the main process
    would have been: the same configuration file, data beside the run's.
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


# Only as ratchet loads it (a copy, ``-p _ratchet_testmap``) does it measure and
# record; imported as ``ratchet.selection.plugin`` (a library, in ratchet's own
# tests) it must not start a second recorder inside the run that tests it.
LOADED_AS = "_ratchet_testmap"
_ACTIVE = __name__ == LOADED_AS
if _ACTIVE:
    _share_configuration()
_WORKER_COVERAGE = _measure_worker() if _ACTIVE else None
_RECORDER: Recorder | None = None
if _ACTIVE and os.environ.get(OUT):
    # Started now, before any conftest or test module is imported, so that
    # their imports are units too.
    _RECORDER = Recorder()
    if _RECORDER.source is not None:
        _watch_imports(_RECORDER)


def _save_worker() -> None:
    """Save a worker's measurement, once.  Called when the session finishes,
    before pytest-xdist tells the main process that the worker is done (the
    main process may stop it right after)."""
    global _WORKER_COVERAGE
    cov, _WORKER_COVERAGE = _WORKER_COVERAGE, None
    if cov is not None:
        cov.stop()
        cov.save()


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


class _ImportOnly:
    """Answers for the test modules a selected run only imports, before
    pytest's own collection would make their tests (one hook implementation
    per plugin: Plugin wraps the same hook)."""

    def __init__(self, plugin: Plugin) -> None:
        self.plugin = plugin

    @pytest.hookimpl(tryfirst=True)
    def pytest_make_collect_report(self, collector: Any) -> Any:
        return self.plugin.import_only_report(collector)


def pytest_configure(config: Any) -> None:
    if _RECORDER is not None:
        plugin = Plugin(_RECORDER)
        config.pluginmanager.register(plugin, "ratchet-testmap")
        config.pluginmanager.register(_ImportOnly(plugin), "ratchet-testmap-import-only")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: Any) -> None:
    _save_worker()
