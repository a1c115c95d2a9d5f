"""Run the project's pytest suite under coverage: the whole of it, or only what
a change needs.

Every pytest run loads the test-map plugin (:mod:`ratchet.selection.plugin`).
A full run records the map; a selected run (``check``) plans from it
(:mod:`ratchet.selection.plan`), runs in one or two rounds, each collecting
the whole suite and deselecting the rest, and refreshes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Collection, Mapping
from dataclasses import astuple
from pathlib import Path
from typing import Any

from ratchet import git, runner
from ratchet.errors import TestRunFailed
from ratchet.measurement import (
    CoverageReport,
    FileResult,
    Measurement,
    TestRun,
    load_json_report,
)
from ratchet.numbers import Numbers
from ratchet.relevance import CONFIG_FILES
from ratchet.report import RunMode
from ratchet.selection import testmap
from ratchet.selection.plan import (
    judged_after_first_round,
    plan,
    tracked_kind,
    updated,
)
from ratchet.selection.shapes import shape
from ratchet.selection.testmap import MapError, TestMap
from ratchet.state import StateError
from ratchet.workspace import Workspace, refuse_worktree_imports

PLUGIN = "_ratchet_testmap"
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
        "map format": str(testmap.FORMAT),
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


def _plugin_env(
    workdir: Path, root: Path, outdir: Path, base: Mapping[str, str]
) -> dict[str, str]:
    plugin_dir = workdir / "plugin"
    plugin_dir.mkdir(exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("plugin.py"), plugin_dir / f"{PLUGIN}.py")
    outdir.mkdir(parents=True, exist_ok=True)
    path = base.get("PYTHONPATH")
    return {
        "PYTHONPATH": str(plugin_dir) + (os.pathsep + path if path else ""),
        "RATCHET_TESTMAP_OUT": str(outdir),
        "RATCHET_TESTMAP_ROOT": os.path.realpath(root),
        "RATCHET_TESTMAP_DATA": str(outdir.parent),
    }


def _outputs(outdir: Path) -> list[dict[str, Any]]:
    outputs = []
    for path in sorted(outdir.glob("map-*.json")):
        with path.open(encoding="utf-8") as f:
            outputs.append(json.load(f))
    return outputs


class Session:
    """One check's test runs: what the map was, and what the working tree is."""

    def __init__(self, ws: Workspace, workdir: Path) -> None:
        self.ws = ws
        self.root = ws.root
        self.config = ws.config
        self.workdir = workdir
        self.git_dir = git.git_dir(ws.repo)
        self.rounds = 0
        self.seconds = 0.0
        self.warnings: tuple[str, ...] = ()
        self.fingerprint = fingerprint(ws)
        # What the tests see: the index's files in a snapshot, else the working tree's.
        self.content = (
            git.index_content_ids(ws.repo) if ws.snapshot else git.worktree_content_ids(ws.root)
        )
        self.old: TestMap | None = None
        self.map_error = ""
        self.notes: list[str] = []  # What the user should hear about this run.
        try:
            self.old = testmap.load(self.git_dir)
        except MapError as e:
            self.map_error = str(e)

    @property
    def how(self) -> str:
        return f"`{' '.join(self.config.test_command)}` ({self.seconds:.1f} s)"

    def run(self, spec: dict[str, list[str]] | None) -> tuple[TestRun, list[dict[str, Any]]]:
        """One pytest run with the plugin; its data file and the plugin's outputs."""
        self.rounds += 1
        here = self.workdir / f"round{self.rounds}"
        outdir = here / "map"
        env = _plugin_env(self.workdir, self.root, outdir, self.ws.env)
        if spec is not None:
            spec_path = here / "select.json"
            spec_path.write_text(json.dumps(spec), "utf-8")
            env["RATCHET_TESTMAP_SELECT"] = str(spec_path)
        if self.ws.snapshot:
            env["RATCHET_TESTMAP_FORBID"] = os.path.realpath(self.ws.repo)
        run = runner.run_tests(
            self.ws, here, ["-p", PLUGIN], env, may_select_none=spec is not None
        )
        self.seconds += run.seconds
        self.warnings = tuple(dict.fromkeys([*self.warnings, *run.warnings]))
        outputs = _outputs(outdir)
        if self.ws.snapshot:
            foreign = {p for out in outputs for p in out.get("foreign", [])}
            refuse_worktree_imports(self.ws.repo, foreign)
        return run, outputs

    def report(self, runs: list[TestRun], skip: Collection[str] = ()) -> CoverageReport:
        """The runs' numbers; ``skip``: files whose numbers are not needed."""
        data = runs[0].data_file
        if len(runs) > 1:
            combined = self.workdir / "combined"
            combined.mkdir(exist_ok=True)
            data = runner.combine(self.ws, [r.data_file for r in runs], combined)
        report = runner.json_report(self.ws, data, self.workdir, TestRunFailed, skip)
        return load_json_report(report, self.root)

    def save(
        self,
        tmap: TestMap,
        fresh: Mapping[str, FileResult],
        kept: Mapping[str, tuple[int, int, int, int]],
        m: CoverageReport,
    ) -> None:
        """Complete the map with what it depends on and its numbers, and store it.

        ``fresh`` numbers were just measured as a full run gives them; ``kept``
        ones still hold from the previous map.
        """
        tmap.numbers = {**kept, **{p: astuple(r.numbers) for p, r in fresh.items()}}
        tmap.coverage_version, tmap.branch = m.coverage_version, m.branch
        mentioned = set(tmap.imported) | tmap.measured | tmap.test_modules
        for record in [*tmap.tests.values(), *tmap.fixtures.values()]:
            mentioned.update(record.files)
        content = self.content
        tmap.content = {p: oid for p, oid in content.items() if tracked_kind(p) or p in mentioned}
        tmap.fingerprint = json.dumps(self.fingerprint, sort_keys=True)
        old = self.old
        shapes = {}
        for path in sorted(tmap.measured | tmap.test_modules):
            oid = content.get(path)
            if oid is None or not path.endswith(".py"):
                continue
            if old is not None and old.content.get(path) == oid and path in old.shapes:
                shapes[path] = old.shapes[path]
            else:
                try:
                    shapes[path] = shape((self.root / path).read_bytes())
                except OSError:
                    shapes[path] = None
        tmap.shapes = shapes
        try:
            testmap.save(self.git_dir, tmap)
        except StateError as e:
            # A cache: the verdict stands; the next check runs everything.
            self.notes.append(f"the test map was not saved: {e}")


def run_pytest(ws: Workspace, workdir: Path, *, select: bool, full_reason: str) -> Measurement:
    """Run the suite (all, or a selection when ``select``) and keep the map current."""
    session = Session(ws, workdir)
    why = full_reason if full_reason or not select else _why_not_select(session)
    if why or not select:
        return _full(session, why)
    return _selected(session)


def repeat_pytest(
    ws: Workspace, workdir: Path, files: Collection[str], tests: Collection[str] | None
) -> Measurement:
    """The run that measured ``files`` once more: their numbers only.

    For ``check --confirm``: the same ``tests`` (None: the whole suite),
    collected and run the same way, so that numbers that differ can only be
    chance.  The test map is left as the first run recorded it.
    """
    session = Session(ws, workdir)
    known = list(session.old.tests) if session.old else []
    spec = None if tests is None else {"select": sorted(tests), "known": known}
    run, _ = session.run(spec)
    measured = session.old.numbers.keys() if session.old else set()
    report = session.report([run], skip=measured - set(files))
    mode = RunMode.FULL if tests is None else RunMode.SELECTED
    return Measurement(report, mode, session.how, warnings=session.warnings)


def _why_not_select(session: Session) -> str:
    """Why the map cannot pick tests for this run ('' when it can)."""
    if session.old is None:
        return session.map_error
    changed = _fingerprint_change(session.old.fingerprint, session.fingerprint)
    return f"the environment changed ({changed})" if changed else ""


def _selected(session: Session) -> Measurement:
    old = session.old
    assert old is not None
    root = session.root

    def read(path: str) -> bytes | None:
        try:
            return (root / path).read_bytes()
        except OSError:
            return None

    def mentions(word: str, path: str) -> bool:
        ws = session.ws
        return git.mentioned_elsewhere(ws.repo, word, path, cached=ws.snapshot)

    share = session.config.select_max_share
    planned = plan(old, session.content, read, mentions, share)
    if planned.full:
        return _full(session, planned.full)
    if not planned.changed:
        return _from_map(session, old, {}, frozenset(), "nothing changed since the last run", ())
    fallback = ""
    try:
        run1, out1 = session.run({"select": sorted(planned.select), "known": list(old.tests)})
        ran, collected = testmap.from_plugin(out1)
        judged, second = judged_after_first_round(old, ran, collected, planned.changed_measured)
        total = len(collected)
        runs = [run1]
        if len(ran.tests) + len(second) > share * max(total, 1):
            fallback = (
                f"{len(ran.tests) + len(second)} of {total} tests needed, more than "
                f"select-max-share ({share:g}) allows"
            )
        elif second:
            run2, out2 = session.run({"select": second, "known": collected})
            ran = testmap.merged(ran, testmap.from_plugin(out2)[0])
            runs.append(run2)
    except MapError as e:
        fallback = f"the selected run could not record ({e})"
    if fallback:
        return _full(session, fallback)
    # The other files' numbers still hold: report only judged and new ones.
    m = session.report(runs, skip=old.numbers.keys() - judged)
    judged |= {p for p in m.files if p not in old.numbers}
    # Judged files have their full-run numbers now; every other file
    # kept its coverage, so the map's numbers for it still hold.
    fresh = {p: r for p, r in m.files.items() if p in judged}
    content = session.content
    kept = {p: n for p, n in old.numbers.items() if p in content and p not in judged}
    new_map = updated(old, ran, collected, planned.changed)
    session.save(new_map, fresh, kept, m)
    why = (
        f"ran {len(ran.tests)} of {total} tests: {len(planned.changed)} file(s) changed "
        f"since the last run, {len(judged)} measured again"
    )
    return _from_map(session, new_map, fresh, frozenset(judged), why, tuple(ran.tests))


def _full(session: Session, reason: str) -> Measurement:
    run, outputs = session.run(None)
    report = session.report([run])
    try:
        recorded, _ = testmap.from_plugin(outputs)
        session.save(recorded, report.files, {}, report)
    except MapError as e:
        testmap.remove(session.git_dir)
        session.notes.append(f"no test map recorded: {e}; every check runs the whole suite")
    why = "; ".join(w for w in [reason, *session.notes] if w)
    return Measurement(report, RunMode.FULL, session.how, why, warnings=session.warnings)


def _from_map(
    session: Session,
    tmap: TestMap,
    fresh: Mapping[str, FileResult],
    judged: frozenset[str],
    why: str,
    tests_run: tuple[str, ...],
) -> Measurement:
    """Numbers for every file: ``fresh`` ones just measured, the rest from the map."""
    files = {
        p: fresh.get(p) or FileResult(Numbers(*n), lines_known=False)
        for p, n in tmap.numbers.items()
    }
    files.update(fresh)
    report = CoverageReport(files, tmap.coverage_version, tmap.branch)
    how = session.how if tests_run else "the test map"
    return Measurement(
        report,
        RunMode.SELECTED,
        how,
        "; ".join([why, *session.notes]),
        tests_run,
        session.warnings,
        judged,
    )
