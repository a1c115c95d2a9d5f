"""Run the project's pytest suite under coverage: the whole of it, or only what
a change needs, with exact numbers either way.

Every pytest run loads the recording plugin (:mod:`ratchet.selection.plugin`).
A full run records the test map; a selected run (``check``) plans from it
(:mod:`ratchet.selection.plan`), collects only the test modules it needs,
runs only the tests that can behave differently, composes every measured
file's lines from what ran and what the map kept
(:mod:`ratchet.selection.compose`), and refreshes the map.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ratchet import git, runner, state
from ratchet.errors import TestRunFailed
from ratchet.measurement import CoverageReport, FileResult, Measurement, TestRun
from ratchet.numbers import Numbers
from ratchet.relevance import CONFIG_FILES
from ratchet.report import RunMode
from ratchet.selection import compose, early
from ratchet.selection.blocks import (
    Shape,
    attribute_probe_lines,
    from_json,
    probes_of,
    shape,
    to_json,
)
from ratchet.selection.plan import (
    Plan,
    Planner,
    import_closure,
    installed_checker,
    line_numbers,
    tracked_kind,
)
from ratchet.selection.recording import Recording, RecordingError, from_outputs, union
from ratchet.selection.store import (
    FIXTURE,
    FORMAT,
    IMPORT,
    MODULE,
    NAME,
    SESSION,
    TEST,
    FileNumbers,
    Store,
    StoreError,
    UnitData,
    new_store,
    open_store,
    ran_digest,
)
from ratchet.state import StateError
from ratchet.workspace import Workspace, refuse_worktree_imports

# What made the recorded shapes: the map's format, and the Python whose
# ``ast`` they come from (its trees differ between versions).
SHAPES = f"{FORMAT}/{sys.version_info[0]}.{sys.version_info[1]}"
# Variables that change what the tests import or how pytest runs them.
_PYTEST_VARIABLES = frozenset(
    {"PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTHONPATH"}
)


def fingerprint(ws: Workspace) -> dict[str, str]:
    """What, besides the repository's files, decides what tests execute."""
    probed = ws.probe
    config_bytes = hashlib.sha256()
    for name in sorted(CONFIG_FILES - {"conftest.py"}):
        path = ws.root / name
        if path.is_file():
            config_bytes.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    env = sorted(
        f"{k}={v}"
        for k, v in ws.env.items()
        if (k.startswith("COVERAGE_") and k != "COVERAGE_FILE") or k in _PYTEST_VARIABLES
    )
    return {
        "map format": str(FORMAT),
        "Python": probed.python_version,
        "installed packages": probed.distributions,
        "coverage.py": probed.coverage_version or "",
        "test command": " ".join(ws.config.test_command),
        "configuration": config_bytes.hexdigest()[:16],
        "environment variables": hashlib.sha256("\n".join(env).encode()).hexdigest()[:16],
    }


def _fingerprint_change(stored: str, now: Mapping[str, str]) -> str:
    try:
        before = json.loads(stored)
    except ValueError:
        before = {}
    changed = [k for k in now if before.get(k) != now[k]] if isinstance(before, dict) else []
    return ", ".join(changed) if changed else ""


def _listed(outdir: Path) -> list[tuple[str, int, int]]:
    """The plugin's outputs as files: name, size, time."""
    found = []
    for path in sorted(outdir.glob("map-*.json")):
        info = path.stat()
        found.append((path.name, info.st_size, info.st_mtime_ns))
    return found


def _outputs(outdir: Path) -> list[dict[str, Any]]:
    outputs = []
    for path in sorted(outdir.glob("map-*.json")):
        with path.open(encoding="utf-8") as f:
            outputs.append(json.load(f))
    return outputs


class Session:
    """One check's test runs: what the map was, and what the files are."""

    def __init__(
        self,
        ws: Workspace,
        workdir: Path,
        *,
        start: bool = False,
        started: early.Pending | None = None,
    ) -> None:
        """``start``: start the first round's test process (:meth:`start`)
        first, so that what is read here overlaps its start-up too;
        ``started``: that process, started already (:func:`early.start`)."""
        self.ws = ws
        self.root = ws.root
        self.config = ws.config
        self.workdir = workdir
        self.git_dir = git.git_dir(ws.repo) if started is None else started.git_dir
        self.rounds = 0 if started is None else 1
        self.seconds = 0.0
        self.warnings: tuple[str, ...] = ()
        self.notes: list[str] = []  # What the user should hear about this run.
        self.old: Store | None = None
        self.pending = started
        # The caller's work to do while the first test process runs.
        self.meanwhile: Callable[[], None] | None = None
        self.on_kept: Callable[[Mapping[str, FileResult]], None] | None = None
        self.map_error = ""
        self.off_known = ""  # The remembered reason no map can be recorded.
        self.shaped: dict[str, Shape | None] = {}  # Files the plan shaped, as they are now.
        if start and started is None:
            self.start()
        try:
            self.fingerprint = fingerprint(ws)
            # What the tests see: the index's files in a snapshot, else the working tree's.
            self.content = (
                git.index_content_ids(ws.repo)
                if ws.snapshot
                else git.worktree_content_ids(ws.root, ws.differences)
            )
            try:
                self.old = open_store(self.git_dir)
            except StoreError as e:
                self.map_error = str(e)
        except BaseException:
            self.close()
            raise

    def no_run(self) -> None:
        """No test run is needed: stop the one started early, if any."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.abandon()

    def close(self) -> None:
        try:
            self.no_run()
        finally:
            if self.old is not None:
                self.old.close()

    @property
    def how(self) -> str:
        return f"`{' '.join(self.config.test_command)}` ({self.seconds:.1f} s)"

    def read(self, path: str) -> bytes | None:
        try:
            return (self.root / path).read_bytes()
        except OSError:
            return None

    def _round(self) -> tuple[Path, Path, dict[str, str]]:
        """The next round's folder, its plugin output folder and its variables."""
        self.rounds += 1
        return early.round_folder(self.ws, self.workdir, self.git_dir, self.rounds)

    def start(self) -> None:
        """Start the first round's test process before the plan is made
        (:func:`early.start`); :meth:`close` stops it if no run took it."""
        self.pending = early.start(self.ws, self.workdir, self.git_dir)
        if self.pending is not None:
            self.rounds = 1

    def run(
        self,
        spec: Mapping[str, object] | None,
        meanwhile: Callable[[], None] | None = None,
        when_ready: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> tuple[TestRun, list[dict[str, Any]]]:
        """One pytest run with the plugin; its data file and the plugin's outputs.
        ``meanwhile``: work to do while the tests run; ``when_ready``: work on
        the outputs once they are written, while the test process ends.  The
        outputs returned are the very list it was given only when they are
        still all there is after the end; else they are read again."""
        if self.pending is not None:  # Left to close() to stop if go fails.
            started = self.pending.go(spec)
            outdir = self.pending.outdir
            self.pending = None
        else:
            here, outdir, env = self._round()
            if spec is not None:
                spec_path = here / "select.json"
                spec_path.write_text(json.dumps(spec), "utf-8")
                env["RATCHET_TESTMAP_SELECT"] = str(spec_path)
            started = runner.start_tests(self.ws, here, ["-p", early.PLUGIN], env)
        early_outputs: list[tuple[list[tuple[str, int, int]], list[dict[str, Any]]]] = []

        def ready() -> None:
            assert when_ready is not None
            listed = _listed(outdir)
            outputs = _outputs(outdir)
            early_outputs.append((listed, outputs))
            when_ready(outputs)

        run = started.finish(
            may_select_none=spec is not None,
            data=spec is None or bool(spec.get("data", True)),
            meanwhile=self.work_meanwhile(meanwhile),
            when_ready=None if when_ready is None else ready,
        )
        if early_outputs and early_outputs[0][0] == _listed(outdir):
            outputs = early_outputs[0][1]
        else:
            outputs = _outputs(outdir)
        # A process started early counts from its start, less the time it
        # waited for its spec: that was ratchet's (its start-up, done
        # meanwhile, was the run's).
        waited = max((float(out.get("waited") or 0) for out in outputs), default=0.0)
        run = replace(run, seconds=max(run.seconds - waited, 0.0))
        self.seconds += run.seconds
        self.warnings = tuple(dict.fromkeys([*self.warnings, *run.warnings]))
        if self.ws.snapshot:
            # ratchet's own plugin is kept in the git directory: not the project's.
            foreign = {
                p for out in outputs for p in out.get("foreign", []) if not p.startswith(".git/")
            }
            refuse_worktree_imports(self.ws.repo, foreign)
        return run, outputs

    def work_meanwhile(self, ours: Callable[[], None] | None) -> Callable[[], None]:
        """``ours``, then the caller's meanwhile work (taken: it is done once),
        as one call: while a test process runs, or at once when none does."""
        theirs, self.meanwhile = self.meanwhile, None

        def both() -> None:
            if ours is not None:
                ours()
            if theirs is not None:
                theirs()

        return both

    def report(
        self, runs: list[TestRun], skip: Collection[str] = ()
    ) -> tuple[CoverageReport, dict[str, str], dict[str, bytes]]:
        """The runs' numbers (``skip``: files not needed), files' tracers, and
        digests of what each file executed."""
        data = runs[0].data_file
        if len(runs) > 1:
            combined = self.workdir / "combined"
            combined.mkdir(exist_ok=True)
            data = runner.combine(self.ws, [r.data_file for r in runs], combined)
        report, path = runner.json_report(
            self.ws,
            data,
            self.workdir,
            TestRunFailed,
            skip,
            git_dir=self.git_dir,
            root=self.root,
            digests=True,
        )
        return (
            report,
            runner.tracers(path, self.root),
            runner.ran_digests(path, self.root),
        )

    def shapes(self, paths: Iterable[str]) -> dict[str, str | None]:
        """The blocks of ``paths`` (JSON).  A file whose content the old map
        described, shaped by this same code, keeps its recorded shape:
        shaping every file again was most of a full run's own time."""
        old = self.old
        kept: dict[str, str] = {}
        if old is not None and old.meta("shapes") == SHAPES:
            kept = old.content()
        out = {}
        for path in paths:
            if not path.endswith(".py"):
                continue
            recorded = None
            if old is not None and path in kept and kept[path] == self.content.get(path):
                recorded = old.shape(path)
            if recorded is None:
                if path in self.shaped:
                    found = self.shaped[path]
                else:
                    raw = self.read(path)
                    found = shape(raw) if raw is not None else None
                recorded = to_json(found) if found is not None else None
            out[path] = recorded
        return out


# -- entry points ------------------------------------------------------------------------


def run_pytest(
    ws: Workspace,
    workdir: Path,
    *,
    select: bool,
    full_reason: str,
    meanwhile: Callable[[], None] | None = None,
    on_kept: Callable[[Mapping[str, FileResult]], None] | None = None,
    started: early.Pending | None = None,
) -> Measurement:
    """Run the suite (all, or a selection when ``select``) and keep the map
    current.  ``meanwhile``: work to do while the first test process runs;
    ``on_kept``: see :func:`ratchet.measure.run`; ``started``: the first
    test process, started already (:func:`early.start`)."""
    # With a selection, its test process starts while the map is read and the plan made.
    session = Session(ws, workdir, start=select, started=started)
    session.meanwhile = meanwhile
    session.on_kept = on_kept
    try:
        why = full_reason if full_reason or not select else _why_not_select(session)
        if why or not select:
            return _full(session, why)
        return _selected(session)
    finally:
        session.close()


def repeat_pytest(
    ws: Workspace, workdir: Path, files: Collection[str], tests: Collection[str] | None
) -> Measurement:
    """The run that measured ``files`` once more: their numbers only.

    For ``check --confirm``: the same ``tests`` (None: the whole suite), run
    the same way, so that numbers that differ can only be chance.  The map
    is left as the first run recorded it.
    """
    session = Session(ws, workdir)
    try:
        spec = None
        if tests is not None:
            modules = sorted({t.split("::", 1)[0] for t in tests})
            spec = {"collect": modules, "select": sorted(tests), "known": [], "import": []}
        run, _ = session.run(spec)
        report, _, _ = session.report([run])
        mode = RunMode.FULL if tests is None else RunMode.SELECTED
        return Measurement(report, mode, session.how, warnings=session.warnings)
    finally:
        session.close()


# Why the last full run could record no map, and in which environment: so a
# check says that reason, not "no test map yet", and says it without a note.
OFF = "selection-off.json"


def _why_not_select(session: Session) -> str:
    """Why the map cannot pick tests for this run ('' when it can)."""
    if session.old is None:
        off = _remembered_off(session)
        if off:
            session.off_known = off
            return f"test selection cannot record here: {off}"
        return session.map_error
    changed = _fingerprint_change(session.old.meta("fingerprint"), session.fingerprint)
    return f"the environment changed ({changed})" if changed else ""


# -- the whole suite -----------------------------------------------------------------------


def _full(session: Session, reason: str) -> Measurement:
    run, outputs = session.run(None)
    report, tracers, ran = session.report([run])
    try:
        recording = from_outputs(outputs)
        _save_full(session, recording, _numbers(report, tracers, ran))
    except RecordingError as e:
        _forget(session)
        off = str(e)
        if off != session.off_known:
            session.notes.append(f"no test map recorded: {off}; every check runs the whole suite")
        _remember_off(session, off)
    else:
        off = ""
        state.remove(session.git_dir, OFF)
    why = "; ".join(w for w in [reason, *session.notes] if w)
    return Measurement(
        report,
        RunMode.FULL,
        session.how,
        why,
        warnings=session.warnings,
        selection_off=off,
        content=session.content,
    )


def _remembered_off(session: Session) -> str:
    try:
        doc = json.loads(state.read(session.git_dir, OFF) or b"null")
    except (StateError, ValueError, RecursionError):
        return ""
    if not isinstance(doc, dict) or doc.get("fingerprint") != session.fingerprint:
        return ""
    reason = doc.get("reason")
    return reason if isinstance(reason, str) else ""


def _remember_off(session: Session, reason: str) -> None:
    doc = {"reason": reason, "fingerprint": session.fingerprint}
    # A cache: if it cannot be written, the next check says "no test map yet".
    with contextlib.suppress(StateError):
        state.write(session.git_dir, OFF, json.dumps(doc).encode())


def _forget(session: Session) -> None:
    if session.old is not None:
        session.old.close()
        session.old = None
    state.remove(session.git_dir, NAME)


def _numbers(
    report: CoverageReport, tracers: Mapping[str, str], ran: Mapping[str, bytes]
) -> dict[str, FileNumbers]:
    return {
        path: FileNumbers(
            *_counts(r.numbers), tuple(r.missing_lines), tracers.get(path, ""), ran.get(path)
        )
        for path, r in report.files.items()
    }


def _counts(n: Numbers) -> tuple[int, int, int, int]:
    return n.statements, n.covered, n.branches, n.covered_branches


def _save_full(
    session: Session,
    recording: Recording,
    numbers: Mapping[str, FileNumbers],
) -> None:
    """A new map from a whole run, written aside and renamed into place."""
    try:
        folder = state.folder(session.git_dir)
    except StateError as e:
        session.notes.append(f"the test map was not saved: {e}")
        return
    tmp = folder / f".{NAME}.{os.getpid()}.tmp"
    store = new_store(tmp)
    try:
        with store.transaction():
            uses: dict[int, list[str]] = {}
            for key, data in recording.fixtures.items():
                store.put_unit(FIXTURE, key, data)
            for seq, (key, data) in enumerate(recording.tests.items()):
                uses[store.put_unit(TEST, key, data, seq)] = data.fixtures
            for key, data in recording.imports.items():
                store.put_unit(IMPORT, key, data)
            for key, data in recording.modules.items():
                store.put_unit(MODULE, key, data)
            store.put_unit(SESSION, "", recording.session)
            store.link_fixtures(uses)
            store.set_module_names(recording.import_order)
            store.set_failed_imports(recording.failed_imports)
            store.set_meta(_CLOSED, "1" if _imports_closed(store) else "0")
            _describe(session, store, recording, numbers, replace_all=True)
        store.pack()
        store.close()
        os.replace(tmp, state.path(session.git_dir, NAME))
    except BaseException as e:
        store.close()
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            session.notes.append(f"the test map was not saved: {e}")
            return
        raise


def _describe(
    session: Session,
    store: Store,
    recording: Recording,
    numbers: Mapping[str, FileNumbers],
    *,
    replace_all: bool,
    shaped: Iterable[str] | None = None,
) -> None:
    """What the map describes: content, blocks, numbers, the environment."""
    mentioned = set(numbers)
    for units in (recording.tests, recording.fixtures, recording.imports, recording.modules):
        for key, data in units.items():
            mentioned |= data.lines.keys() | data.opened | data.imports
            mentioned.add(key if units is not recording.tests else data.module)
    whole = recording.session  # What it opened is an input too (a data file).
    mentioned |= whole.lines.keys() | whole.opened | whole.imports
    if not replace_all:
        mentioned |= store.content().keys()
    watch = session.config.watch
    # Asked in this order: after a selected run most files are mentioned
    # (kept from the map), and a set lookup is cheaper than the file's kind.
    content = {
        p: oid for p, oid in session.content.items() if p in mentioned or tracked_kind(p, watch)
    }
    if shaped is None:
        wanted = {p for p in content if p.endswith(".py")}
    else:
        wanted = {p for p in shaped if p in content and p.endswith(".py")}
    # Shaped before the new content is set: the old map's content says
    # which recorded shapes still describe their file (``store`` may be it).
    shapes = session.shapes(sorted(wanted))
    store.set_content(content)
    for path, found in shapes.items():
        store.set_shape(path, found)
    store.set_numbers(numbers, replace_all=replace_all)
    store.add_pool(recording.pool, replace_all=replace_all)
    reaching, collecting = _reaching_out(store, session.read)
    store.set_active(store.mutating() | reaching)
    store.set_collecting(collecting)
    store.set_meta("fingerprint", json.dumps(session.fingerprint, sort_keys=True))
    store.set_meta("shapes", SHAPES)
    store.set_meta("branch", "1" if recording.branch else "0")
    store.set_meta("coverage", session.ws.probe.coverage_version or "")


def _reaching_out(store: Store, read: Callable[[str], bytes | None]) -> tuple[set[str], set[str]]:
    """Modules whose import, and test modules whose collection, executed
    lines of other files (a registration, a setting changed elsewhere); and
    the test modules among them whose collection unit did, past their
    import (a selected run that needs only the import's state imports the
    others without making their tests: plan.Plan.import_only).

    Lines that only answered a lookup of a name a package's ``__getattr__``
    does not have change nothing, and do not count
    (:func:`blocks.attribute_probe_lines`): pytest looks up attributes on
    every object of a test module it collects, and ``from pkg import mod``
    asks ``pkg`` for ``mod`` before importing it.
    """
    rows = store.ran_elsewhere()
    probes: dict[str, frozenset[int]] = {}
    for path in {path for _, _, path in rows}:
        # The file's recorded shape holds them (its content's, as just set).
        recorded = store.shape(path)
        found = probes_of(recorded) if recorded is not None else None
        if found is None:  # No shape, or one recorded before shapes held them.
            raw = read(path) if path.endswith(".py") else None
            found = attribute_probe_lines(raw) if raw is not None else frozenset()
            # Kept with them, for the next check (no shape, or a damaged
            # one, raises here: nothing is kept).
            with contextlib.suppress(ValueError, KeyError, TypeError):
                store.set_shape(path, to_json(replace(from_json(recorded or ""), probes=found)))
        probes[path] = found
    candidates = {uid for uid, _, path in rows if probes[path]}
    executed = store.lines(candidates, [p for p, lines in probes.items() if lines])
    collections = {uid for uid, _, _ in store.units(MODULE).values()}
    out: set[str] = set()
    collecting: set[str] = set()
    for uid, key, path in rows:
        lines = {abs(v) for v in executed.get((uid, path), ()) if v}
        if not lines or not lines <= probes[path]:
            out.add(key)
            if uid in collections:
                collecting.add(key)
    return out, collecting


# -- only what the change needs ----------------------------------------------------------


def _selected(session: Session) -> Measurement:
    store = session.old
    assert store is not None
    roots = [str(session.root), str(session.root / "src")]
    planner = Planner(
        store,
        session.content,
        session.read,
        watch=session.config.watch,
        max_share=session.config.select_max_share,
        installed=installed_checker(roots),
        # A blob by its id; None where git does not have it (a file
        # measured as it was in the working tree, never staged).
        read_blob=lambda oid: git.read_blob(session.ws.repo, oid),
    )
    plan = planner.decide()
    session.shaped = plan.shapes
    if plan.full:
        return _full(session, plan.full)
    if not plan.changed:
        session.no_run()
        return _from_map(session, store, {}, "nothing changed since the last run", ())
    known = list(store.tests_in(plan.collect))
    spec = {
        "collect": sorted(plan.collect),
        "import_only": sorted(plan.import_only),
        "select": sorted(plan.tests),
        "known": known,
        "import": plan.preload,
        "reimport": sorted(plan.reimport.values()),
        "data": False,  # Numbers come from the map and the recording.
    }
    # Nothing to run (an edit no unit executed, a comment): no test process.
    # It would only record the session again, and the map's session unit
    # stands, since no code it ran changed (else the plan runs everything).
    idle = not (plan.tests or plan.collect or plan.preload or plan.reimport)
    if idle:
        session.no_run()
    with compose.Composer(session.ws, session.workdir / "compose", session.git_dir) as composer:
        ahead = _Ahead(session, store, tables=not idle)
        if idle:  # No tests to overlap: the work done meanwhile overlaps the composer's start.
            session.work_meanwhile(ahead)()
        branch = store.meta("branch") == "1"

        def prepared(outputs: list[dict[str, Any]] | None) -> tuple[Recording, _Write]:
            fresh = Recording("", branch) if outputs is None else from_outputs(outputs)
            if fresh.branch != branch:
                raise RecordingError("the branch mode changed")
            return fresh, _merge(session, store, plan, fresh, composer)

        # Prepared while the test process ends, from its outputs as written:
        # used, or its error raised, if they are still all it wrote (the very
        # list comes back).  Prepared again otherwise, which a composer that
        # reported already refuses (compose.Spent).
        ready: list[tuple[list[dict[str, Any]], tuple[Recording, _Write] | Exception]] = []

        def when_ready(outputs: list[dict[str, Any]]) -> None:
            try:
                ready.append((outputs, prepared(outputs)))
            except Exception as e:
                ready.append((outputs, e))

        outputs = None if idle else session.run(spec, ahead, when_ready)[1]
        try:
            if ready and ready[0][0] is outputs:
                done = ready[0][1]
                if isinstance(done, Exception):
                    raise done
                fresh, write = done
            else:
                fresh, write = prepared(outputs)
            merged = write()
        except (RecordingError, _CannotCarry) as e:
            failed = str(e)
        except compose.Spent:  # Prepared early, and the run wrote more after.
            failed = "its outputs changed after it said they were written"
        else:
            failed = ""
    if failed:
        return _full(session, f"the selected run could not record ({failed})")
    why = (
        f"ran {len(fresh.tests)} of {merged.total} tests: {len(plan.changed)} file(s) changed "
        f"since the last run, {len(merged.analysed)} measured again"
    )
    return _from_map(
        session,
        store,
        merged.report.files,
        why,
        tuple(fresh.tests),
        kept=ahead.results,
        analysed=merged.analysed,
    )


class _Ahead:
    """What a selected check can work out while its tests run: the map's
    results before the merge (:func:`_from_map`), HEAD's content key for
    the record of uncovered lines, the map's tables the merge reads whole
    (kept by the store until written), and the modules the verdicts need.
    At 100,000 tests these were a third of the hook's own time."""

    def __init__(self, session: Session, store: Store, *, tables: bool = True) -> None:
        self.session = session
        self.store = store
        self.tables = tables  # False: the merge will read few of them (nothing ran).
        self.results: dict[str, FileResult] | None = None

    def __call__(self) -> None:
        import importlib

        from ratchet import lastrun

        self.results = _results(self.store)
        if self.session.on_kept is not None:
            self.session.on_kept(self.results)
        lastrun.prepare(self.session.ws.repo, self.session.config, self.session.content)
        if self.tables:
            for kind in (FIXTURE, IMPORT, MODULE, SESSION):
                self.store.units(kind)
            self.store.count(TEST)
            self.store.ran_elsewhere()
            self.store.import_edges((IMPORT,))  # For a merge that finds an import gone.
            self.store.imported_by_others((TEST, FIXTURE, MODULE), ())  # Counted, kept.
            self.store.mutating()
        for name in ("ratchet.verdicts", "ratchet.guard", "ratchet.output", "ratchet.nodata"):
            importlib.import_module(name)


# Meta key: "1" when every import unit of the map is reached from its tests,
# fixtures, collections and session through the recorded imports.
_CLOSED = "imports_closed"


class _Units(dict[str, Mapping[str, tuple[int, str, bool]]]):
    """The map's units by kind, as they were before the merge writes, each
    kind read when first asked for: a merge where nothing ran need not read
    the 20,000 imports of a large map."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def __missing__(self, kind: str) -> Mapping[str, tuple[int, str, bool]]:
        found = self[kind] = self.store.units(kind)
        return found


def _imports_lost(
    store: Store,
    old: Mapping[str, Mapping[str, tuple[int, str, bool]]],
    again: Mapping[int, UnitData],
    gone: set[int],
    preloaded: set[str],
) -> bool:
    """Whether an import edge of the map is gone: a unit removed that
    imported anything, or a unit run again (``again``: by its id in the map)
    that no longer made an import.  Also true when a module the run
    imported first is new to the map."""
    if preloaded and not preloaded <= old[IMPORT].keys():
        return True
    for uid, modules in store.imports_of_units(gone).items():
        if uid not in again or not again[uid].imports.issuperset(modules):
            return True
    return False


def _drop_unreached(
    store: Store,
    old: Mapping[str, Mapping[str, tuple[int, str, bool]]],
    fresh_units: Mapping[tuple[str, str], UnitData],
    fresh: Recording,
    excluded: set[int],
    session_imports: set[str],
    removed: set[int],
) -> None:
    """Add to ``removed`` the imports nothing that remains reaches."""
    frontier = list(store.imported_by_others((TEST, FIXTURE, MODULE), excluded))
    edges = store.import_edges((IMPORT,))
    for (kind, _), data in fresh_units.items():
        if kind != IMPORT:
            frontier += data.imports
    frontier += session_imports
    import_data = {key: data for (kind, key), data in fresh_units.items() if kind == IMPORT}

    def imports_of(module: str) -> Iterable[str]:
        if module in import_data:
            return import_data[module].imports
        if module in old[IMPORT]:
            return edges.get(old[IMPORT][module][0], ())
        return ()

    reach = import_closure(frontier, imports_of)
    for key, (uid, _, _) in old[IMPORT].items():
        if key not in reach and (IMPORT, key) not in fresh_units:
            removed.add(uid)
    # A module imported first, as a full run imported it, must still be
    # imported by something a full run runs: else that run differed from it.
    for path in sorted(fresh.preloaded - reach):
        raise _CannotCarry(f"{path} was imported first, but nothing a full run runs imports it")


def _imports_closed(store: Store) -> bool:
    """Whether every import unit is reached from the units that are not imports."""
    imports = store.units(IMPORT)
    edges = store.import_edges((IMPORT,))
    roots = store.imported_by_others((TEST, FIXTURE, MODULE, SESSION), ())
    reach = import_closure(roots, lambda m: edges.get(imports[m][0], ()) if m in imports else ())
    return imports.keys() <= reach


class _CannotCarry(Exception):
    """A kept unit's line has no place in the new text, or coverage.py's
    report on the composed lines disagrees with them: selection cannot be exact."""


def _agrees(report: CoverageReport, lines: Mapping[str, list[int]]) -> None:
    """Check the composed report: a line some unit ran is never missing."""
    for path, values in lines.items():
        result = report.files.get(path)
        ran = {v for v in values if v > 0}
        if result is None:
            if ran:
                raise _CannotCarry(f"coverage.py did not report {path}")
            continue
        wrong = ran & set(result.missing_lines)
        if wrong:
            raise _CannotCarry(
                f"coverage.py reports line {min(wrong)} of {path} missing, which a test ran"
            )


def _imported_as_before(
    store: Store,
    plan: Plan,
    fresh: Recording,
    units: Mapping[str, Mapping[str, tuple[int, str, bool]]],
) -> None:
    """A module imported again (a function added) ran the lines it ran
    before, at their new numbers, and the added statements' own: else its
    import depends on more than this run can see."""
    old = units[IMPORT] if plan.reimport else {}
    for path in plan.reimport:
        again = fresh.imports.get(path)
        if again is None or path not in old:
            raise _CannotCarry(f"{path} was not imported again")
        mapping = plan.maps.get(path, {})
        before = {abs(v) for vs in store.lines([old[path][0]], [path]).values() for v in vs if v}
        moved = {mapping.get(n) for n in before}
        now = {abs(v) for v in again.lines.get(path, ()) if v}
        if None in moved or not moved <= now or any(n in mapping.values() for n in now - moved):
            raise _CannotCarry(f"importing {path} again ran other lines")


def _preloaded_as_before(
    store: Store,
    plan: Plan,
    fresh: Recording,
    units: Mapping[str, Mapping[str, tuple[int, str, bool]]],
) -> None:
    """A preloaded module whose import raised is as a full run had it only if
    a full run's first import of it raised too (a Windows-only module behind
    ``try: ... except ImportError``), running the very same lines."""
    if not fresh.preload_failures:
        return
    old = units[IMPORT]
    failed = store.failed_imports()
    files = dict(store.module_names())
    for name, error in sorted(fresh.preload_failures.items()):
        path = files.get(name)
        why = f"could not import {name} as a full run does ({error})"
        again = fresh.imports.get(path) if path is not None else None
        if path is None or path not in failed or path not in old or again is None:
            raise _CannotCarry(why)
        uid = old[path][0]
        before = {p: set(values) for p, values in store.run_by([uid]).get(uid, {}).items()}
        now = {p: set(values) for p, values in again.lines.items() if values}
        if before != now or (before.keys() | now.keys()) & set(plan.changed):
            raise _CannotCarry(why)


def _state_divergent(
    store: Store, plan: Plan, fresh: Recording, old_tests: Mapping[str, tuple[int, str, bool]]
) -> dict[str, tuple[str, bool]]:
    """Tests of this run that did not change state outside their calls
    (filled a module's cache, registered something;
    :func:`blocks.state_lines`) as they did in the full run the map holds:
    why, by test id, and whether it was in a function the change edited.

    What such a test found there came from tests that ran before it then
    and not now, so its lines now need not be what a full run would see
    (:func:`_divergence_covered` decides whether that can matter).  A new
    test that changes such state cannot be compared: a full run decides."""
    divergent: dict[str, tuple[str, bool]] = {}
    Known = tuple[Shape | None, Shape | None, dict[int, str], dict[int, str]]
    known: dict[str, Known] = {}

    def shapes_of(path: str) -> Known:
        """The file's shape in the map and now, and their state lines."""
        if path not in known:
            raw = store.shape(path)
            try:
                before = from_json(raw) if raw is not None else None
            except (ValueError, KeyError, TypeError):
                before = None
            now = plan.shapes.get(path) if path in plan.changed else before
            known[path] = (before, now, _state_by_line(before), _state_by_line(now))
        return known[path]

    rerun = {key: old_tests[key][0] for key in fresh.tests if key in old_tests}
    earlier = store.run_by(rerun.values(), lambda p: bool(shapes_of(p)[2] or shapes_of(p)[3]))
    for key, data in fresh.tests.items():
        then = earlier.get(rerun[key], {}) if key in rerun else {}
        for path in sorted(set(data.lines) | set(then)):
            before, now, state_then, state_now = shapes_of(path)
            hits_now = {n for n in line_numbers(data.lines.get(path, [])) if n in state_now}
            if key not in rerun:
                if hits_now:
                    raise _CannotCarry(
                        f"{key} is new and changes state other tests can find "
                        f"({path}:{min(hits_now)})"
                    )
                continue
            hits_then = {n for n in line_numbers(then.get(path, [])) if n in state_then}
            mapping = plan.maps.get(path) if path in plan.changed else None
            for name in {state_then[n] for n in hits_then} | {state_now[n] for n in hits_now}:
                a = sorted(n for n in hits_then if state_then[n] == name)
                b = sorted(n for n in hits_now if state_now[n] == name)
                same = _same_body(before, now, name)
                if same and mapping is not None:
                    a = sorted(mapping.get(n, -n) for n in a)
                if (a != b) if same else (len(a) != len(b)):
                    why = (
                        f"{key} changed state in {path} ({name}) other than in the full run: "
                        "what earlier tests left there differs"
                    )
                    if not same or key not in divergent:
                        divergent[key] = (why, not same)
    return divergent


def _flat(item: int | tuple[int, int]) -> tuple[int, ...]:
    return item if isinstance(item, tuple) else (item,)


def _items(values: Sequence[int], branch: bool) -> set[Any]:
    """Lines, or arcs as pairs."""
    if branch:
        flat = list(values)  # Indexed twice an item: a list, not a lazy Lines.
        return {(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)}
    return set(values)


def _divergence_covered(
    store: Store,
    plan: Plan,
    fresh: Recording,
    old_tests: Mapping[str, tuple[int, str, bool]],
    divergent: Mapping[str, tuple[str, bool]],
    others: Mapping[str, list[int]],
) -> dict[str, dict[str, list[int]]]:
    """A test whose lines may depend on what earlier tests left behind
    changes no number if whatever it ran differently from the full run (now
    against then, at the new line numbers) is run by other units too:
    ``others``, per file, the union of every unit but the divergent tests.
    What it ran in blocks the change edited cannot be compared with then;
    where the state it changed differently is in such a block, all it ran
    there must be run by others too.  Else a full run decides.

    Returns what the map keeps for each such test: what it ran then where
    that can be compared, what it ran now in edited blocks; its best
    account of a full run, so that the next run compares with that, not
    with a run alone."""
    branch = fresh.branch
    kept: dict[str, dict[str, list[int]]] = {}
    for key, (why, in_edited) in sorted(divergent.items()):
        data = fresh.tests[key]
        uid = old_tests[key][0]
        then = store.run_by([uid]).get(uid, {})
        account: dict[str, list[int]] = {}
        for path in sorted(set(data.lines) | set(then)):
            now = _items(data.lines.get(path, []), branch)
            edited: set[Any] = set()  # What it ran now in blocks the change edited.
            mapping = plan.maps.get(path) if path in plan.changed else None
            if mapping is not None:
                moved = set(mapping.values())
                edited = {i for i in now if not all(n == -1 or abs(n) in moved for n in _flat(i))}
            before: set[Any] = set()
            for item in _items(then.get(path, []), branch):
                flat = list(_flat(item))
                if mapping is not None:
                    try:
                        flat = _carry(flat, mapping, branch, path in plan.def_at_one)
                    except _CannotCarry:
                        continue  # Its block was edited: what runs there now stands for it.
                before.add(tuple(flat) if branch else flat[0])
            differs = (now - edited) ^ before
            if in_edited:
                differs |= edited
            if differs and not differs <= _items(others.get(path, []), branch):
                raise _CannotCarry(why)
            values = sorted(before | edited)
            if values:
                account[path] = [n for v in values for n in _flat(v)]
        kept[key] = account
    return kept


def _state_by_line(s: Shape | None) -> dict[int, str]:
    """Each state-changing line of a file: the function it is in."""
    if s is None:
        return {}
    return {n: name for name, f in s.functions.items() for n in f.state}


def _same_body(before: Shape | None, now: Shape | None, name: str) -> bool:
    if before is None or now is None:
        return False
    a, b = before.functions.get(name), now.functions.get(name)
    return a is not None and b is not None and a.digest == b.digest


class _Merged:
    def __init__(self, report: CoverageReport, analysed: Collection[str], total: int) -> None:
        self.report = report
        self.analysed = analysed
        self.total = total


def _carry(
    values: list[int], mapping: Mapping[int, int], branch: bool, def_at_one: bool = False
) -> list[int]:
    """Lines (or flat arcs) at their new numbers.

    A negative number is the start of a code object (an arc entering or
    leaving it): -1 is the module's, which starts at line 1 whatever moves,
    unless a def or class on line 1 (``def_at_one``, the old text) makes it
    ambiguous."""
    out = []
    for v in values:
        if v == 0:
            out.append(0)
            continue
        if v == -1 and (not def_at_one or mapping.get(1) == 1):
            out.append(-1)
            continue
        moved = mapping.get(abs(v))
        if moved is None:
            raise _CannotCarry(f"line {abs(v)}")
        out.append(moved if v > 0 else -moved)
    if branch:
        pairs = sorted({(out[i], out[i + 1]) for i in range(0, len(out), 2)})
        return [n for pair in pairs for n in pair]
    return sorted(set(out))


_Write = Callable[[], "_Merged"]


def _merge(
    session: Session, store: Store, plan: Plan, fresh: Recording, composer: compose.Composer
) -> _Write:
    """The new full run, composed: fresh units where they ran, the map's
    elsewhere; numbers of every file that can have changed.  Only reads the
    map; what it returns updates the map and gives the merge's result."""
    branch = fresh.branch
    content = session.content
    # The map's tests this run concerns: those of the test modules it
    # collected or ran, and of test modules that are gone (not all of them).
    concerned = {m for m in store.test_modules() if m not in content}
    concerned |= fresh.collected.keys() | {data.module for data in fresh.tests.values()}
    old_tests = store.tests_in(concerned)
    old = _Units(store)
    old[TEST] = old_tests
    fresh_units: dict[tuple[str, str], UnitData] = {}
    for key, data in fresh.tests.items():
        fresh_units[(TEST, key)] = data
    for key, data in fresh.fixtures.items():
        fresh_units[(FIXTURE, key)] = data
    for key, data in fresh.imports.items():
        fresh_units[(IMPORT, key)] = data
    for key, data in fresh.modules.items():
        fresh_units[(MODULE, key)] = data
    # The session: what ran for the whole session then, and now.
    session_old = old[SESSION].get("")
    session_unit = fresh.session
    # Tests that are gone: their module deleted, or collected without them.
    removed: set[int] = set()
    for key, (uid, module, _) in old_tests.items():
        if module not in content or (
            module in fresh.collected and key not in fresh.collected[module]
        ):
            removed.add(uid)
    for key, (uid, _, _) in old[MODULE].items():
        if key not in content:
            removed.add(uid)
    _imported_as_before(store, plan, fresh, old)
    _preloaded_as_before(store, plan, fresh, old)
    divergent = _state_divergent(store, plan, fresh, old_tests)
    divergent_units = {id(fresh.tests[key]) for key in divergent}
    others: dict[str, list[int]] = {}
    # Units that ran again, by their id in the map.
    fresh_by_old_id = {
        old[kind][key][0]: data for (kind, key), data in fresh_units.items() if key in old[kind]
    }
    replaced = set(fresh_by_old_id)
    replaced_session = set() if session_old is None else {session_old[0]}
    replaced |= replaced_session
    # Imports a full run would still make: reachable from what remains.
    excluded = removed | replaced
    # The session's imports are kept as its lines are: what it imported then
    # and now (it is not run again whole).
    # So are the files it opened, and whether it drew from Hypothesis's pool.
    session_imports = set(session_unit.imports)
    session_opened = set(session_unit.opened)
    session_drew = session_unit.drew
    if session_old is not None:
        session_imports.update(*store.imports_of_units([session_old[0]]).values())
        session_opened.update(*store.opened_of_units([session_old[0]]).values())
        session_drew = session_drew or session_old[0] in store.drew()
    if store.meta(_CLOSED) != "1" or _imports_lost(
        store, old, fresh_by_old_id, excluded - replaced_session, fresh.preloaded
    ):
        _drop_unreached(store, old, fresh_units, fresh, excluded, session_imports, removed)
    # Else the map reached every module it has an import of, and no import
    # is gone: it still does, and reading the whole import graph is not needed.
    # Fixture instances no remaining test uses.
    users = {t: fs for t, fs in store.fixtures_of().items() if t not in excluded}
    still_used = {f for fs in users.values() for f in fs}
    # A fixture instance set up again (a test that ran uses it) is put anew;
    # the tests that did not run keep using it: linked again by its key.
    fixture_keys = {uid: key for key, (uid, _, _) in old[FIXTURE].items()}
    kept_links = {
        tid: [fixture_keys[f] for f in fids if f in fixture_keys]
        for tid, fids in users.items()
        if tid not in replaced and not fids.isdisjoint(replaced)
    }
    fresh_fixture_keys = {k for t in fresh.tests.values() for k in t.fixtures}
    unused = {
        uid
        for key, (uid, _, _) in old[FIXTURE].items()
        if uid not in still_used
        and key not in fresh_fixture_keys
        and (FIXTURE, key) not in fresh_units
    }
    removed |= unused
    # Their imports were counted as reached above: if they imported anything,
    # the map may now hold an import nothing reaches, until the next merge
    # reads the whole graph.
    closed = not store.imports_of_units(unused - excluded)
    # Failed imports of units that go, read before they go (``old`` reads a
    # kind when first asked for).
    failed_gone = (
        {key for key, (uid, _, _) in old[IMPORT].items() if uid in removed} if removed else set()
    )
    # Files whose lines can differ from the map's.
    gone = removed | replaced
    analyse = {p for p in plan.changed if p.endswith(".py") or p in store.numbers()}
    old_lines = {}
    if gone:
        rows = store.db.execute(
            "SELECT unit_id, path.path, lineset_id FROM executed"
            " JOIN path ON path.id = executed.path_id"
            f" WHERE unit_id IN ({','.join('?' * len(gone))})",
            sorted(gone),
        )
        by_unit: dict[int, dict[str, int]] = {}
        for uid, path, lid in rows:
            by_unit.setdefault(uid, {})[path] = lid
        old_lines = by_unit
    from ratchet.encoded import encode

    for uid, files in old_lines.items():
        again = fresh_by_old_id.get(uid)
        if again is None or uid in removed:
            analyse |= files.keys()
            continue
        for path, lid in files.items():
            now = again.lines.get(path)
            if now is None:
                analyse.add(path)
                continue
            digest = hashlib.blake2b(encode(now), digest_size=16).digest()
            (then,) = store.db.execute(
                "SELECT digest FROM lineset WHERE id = ?", (lid,)
            ).fetchone()
            if then != digest:
                analyse.add(path)
    for (kind, key), data in fresh_units.items():
        if key not in old[kind]:
            analyse |= data.lines.keys()
        else:
            had = old_lines.get(old[kind][key][0], {})
            analyse |= {p for p in data.lines if p not in had}
    analyse |= {p for p in session_unit.lines if session_old is None}
    # The lines of each file to analyse: kept units carried, fresh as they ran.
    keep_by_path = store.executed_by(analyse)
    # The session's lines as the map keeps them, at the new numbers where
    # their file changed (the session is not run again, or not whole).
    session_lines: dict[str, list[int]] = {}
    if session_old is not None:
        known = store.content()
        for path, values in store.lines_of(session_old[0]).items():
            if path in known:
                if path in plan.changed and path in plan.maps:
                    values = _carry(values, plan.maps[path], branch, path in plan.def_at_one)
                session_lines[path] = values
    lines: dict[str, list[int]] = {}
    # Kept units' lines in changed files, at their new numbers (the map keeps them so).
    carried: dict[tuple[int, str], list[int]] = {}
    for path in sorted(analyse):
        kept = keep_by_path.get(path, set()) - gone
        sets: list[Sequence[int]] = []
        mapping = plan.maps.get(path) if path in plan.changed else None
        for (uid, _), values in store.lines(kept, [path]).items():
            if mapping is not None:
                moved = _carry(values, mapping, branch, path in plan.def_at_one)
                if moved != values:  # Rewritten in the map only when the lines moved.
                    carried[(uid, path)] = moved
                values = moved
            sets.append(values)
        untrusted: list[Sequence[int]] = []  # The divergent tests: see _divergence_covered.
        for unit in [*fresh_units.values(), session_unit]:
            ran = unit.lines.get(path)
            if ran:
                (untrusted if id(unit) in divergent_units else sets).append(ran)
        if path in session_lines:
            sets.append(session_lines[path])
        if divergent:
            others[path] = union(sets, branch)
        if sets or untrusted:
            lines[path] = union(sets + untrusted, branch)
    if divergent:
        accounts = _divergence_covered(store, plan, fresh, old_tests, divergent, others)
        for key, account in accounts.items():
            kept_lines: dict[str, Sequence[int]] = dict(account)
            fresh.tests[key].lines = kept_lines  # What the map keeps for it.
    numbers_before = store.numbers()
    # The files' coverage plugins, of the files reported on (not every file's).
    tracers = {p: numbers_before[p].tracer for p in analyse if p in numbers_before}
    digests = {p: ran_digest(values) for p, values in lines.items()}
    # An unchanged file whose lines come to what its numbers were computed
    # from still has those numbers: coverage.py need not analyse it again.
    measure = sorted(
        p
        for p in analyse
        if p in plan.changed
        or p not in numbers_before
        or numbers_before[p].ran is None
        or numbers_before[p].ran != digests.get(p)
    )
    composed = {p: lines[p] for p in measure if p in lines}
    report = composer.report(composed, measure, branch=branch, tracers=tracers)
    _agrees(report, composed)

    def write() -> _Merged:
        """Update the map: in one transaction, or not at all."""
        recorded = store.count(TEST)  # New tests are ordered after every recorded one.
        try:
            with store.transaction():
                store.remove_units(gone)
                for (uid, path), values in carried.items():
                    store.set_lines(uid, path, values)
                uses: dict[int, list[str]] = {}
                seq = recorded
                for (kind, key), data in fresh_units.items():
                    if kind == TEST:
                        seq += 1
                        uses[store.put_unit(kind, key, data, seq)] = data.fixtures
                    else:
                        store.put_unit(kind, key, data)
                merged_session = UnitData(
                    opened=session_opened, imports=session_imports, drew=session_drew
                )
                merged_session.lines.update(session_lines)
                from ratchet.selection.recording import merge

                merge(merged_session, session_unit, branch)
                store.put_unit(SESSION, "", merged_session)
                store.link_fixtures(uses)
                store.link_fixtures(kept_links)
                if fresh.import_order:  # Else nothing is new (20,000 names not read).
                    names = list(store.module_names())
                    known_names = {p for _, p in names}
                    names += [(n, p) for n, p in fresh.import_order if p not in known_names]
                    store.set_module_names(names)
                failed = store.failed_imports()
                failed -= {key for (kind, key) in fresh_units if kind == IMPORT}
                failed -= failed_gone
                store.set_failed_imports(failed | fresh.failed_imports)
                numbers = _numbers(report, tracers, digests)
                store.drop_numbers(set(measure) - numbers.keys())
                _describe(
                    session,
                    store,
                    fresh,
                    numbers,
                    replace_all=False,
                    shaped=plan.changed,
                )
                store.set_meta(_CLOSED, "1" if closed else "0")
                store.collect_garbage()
        except Exception as e:
            session.notes.append(f"the test map was not updated: {e}")
        total = store.count(TEST)
        return _Merged(report, measure, total)

    return write


def _results(store: Store) -> dict[str, FileResult]:
    """The map's numbers of every file, as results."""
    return {
        p: FileResult(Numbers(n.statements, n.covered, n.branches, n.covered_branches), n.missing)
        for p, n in store.numbers().items()
    }


def _from_map(
    session: Session,
    store: Store,
    fresh: Mapping[str, FileResult],
    why: str,
    tests_run: tuple[str, ...],
    *,
    kept: Mapping[str, FileResult] | None = None,
    analysed: Collection[str] = (),
) -> Measurement:
    """Numbers for every file: ``fresh`` ones just analysed, the rest from the map.

    ``kept``: the map's results read before the merge, of which those of the
    ``analysed`` files are replaced by ``fresh`` (the merge changed no other).
    """
    if kept is not None and fresh.keys() <= set(analysed):
        files = dict(kept)
        for path in analysed:
            files.pop(path, None)
    else:
        files = _results(store)
    files.update(fresh)
    version = store.meta("coverage")
    report = CoverageReport(files, version, store.meta("branch") == "1")
    how = session.how if tests_run else "the test map"
    return Measurement(
        report,
        RunMode.SELECTED,
        how,
        "; ".join([why, *session.notes]),
        tests_run,
        session.warnings,
        content=session.content,
    )
