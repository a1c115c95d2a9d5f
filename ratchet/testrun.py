"""Run the project's tests under coverage: the whole suite, or only what a change needs.

Every pytest run loads the test-map plugin (:mod:`ratchet.testmap_plugin`).
A full run records the map; a selected run (``check``) plans from it
(:mod:`ratchet.selection`), runs in one or two rounds, each collecting the
whole suite and deselecting the rest, and refreshes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Collection, Mapping
from dataclasses import astuple, replace
from pathlib import Path
from typing import Any

from ratchet import git, scratch, testmap
from ratchet.errors import TestRunFailed
from ratchet.measure import (
    FileResult,
    Measurement,
    Runner,
    TestRun,
    load_json_report,
)
from ratchet.numbers import Numbers
from ratchet.relevance import CONFIG_FILES
from ratchet.selection import (
    judged_after_first_round,
    plan,
    tracked_kind,
    updated,
)
from ratchet.shapes import shape
from ratchet.snapshot import refuse_worktree_imports
from ratchet.state import StateError
from ratchet.testmap import MapError, TestMap

PLUGIN = "_ratchet_testmap"
# Variables that change what the tests import or how pytest runs them.
_PYTEST_VARIABLES = frozenset(
    {"PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTHONPATH"}
)


def fingerprint(runner: Runner) -> dict[str, str]:
    """What, besides the repository's files, decides what tests execute."""
    probed = runner.probed
    assert probed is not None, "runner.require() probes the environment first"
    config_bytes = hashlib.sha256()
    for name in sorted(CONFIG_FILES - {"conftest.py"}):
        path = runner.root / name
        if path.is_file():
            config_bytes.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    env = sorted(
        f"{k}={v}"
        for k, v in runner.env.items()
        if (k.startswith("COVERAGE_") and k != "COVERAGE_FILE") or k in _PYTEST_VARIABLES
    )
    return {
        "map format": str(testmap.FORMAT),
        "Python": probed.python_version,
        "installed packages": probed.distributions,
        "coverage.py": probed.coverage_version or "",
        "test command": " ".join(runner.config.test_command),
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
    shutil.copyfile(Path(__file__).with_name("testmap_plugin.py"), plugin_dir / f"{PLUGIN}.py")
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

    def __init__(self, runner: Runner, workdir: Path) -> None:
        self.runner = runner
        self.root = runner.root
        self.config = runner.config
        self.workdir = workdir
        self.git_dir = git.git_dir(runner.repo)
        self.rounds = 0
        self.seconds = 0.0
        self.fingerprint = fingerprint(runner)
        # What the tests see: the index's files in a snapshot, else the working tree's.
        self.content = (
            git.index_content_ids(runner.repo)
            if runner.snapshot
            else git.worktree_content_ids(self.root)
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
        env = _plugin_env(self.workdir, self.root, outdir, self.runner.env)
        if spec is not None:
            spec_path = here / "select.json"
            spec_path.write_text(json.dumps(spec), "utf-8")
            env["RATCHET_TESTMAP_SELECT"] = str(spec_path)
        if self.runner.snapshot:
            env["RATCHET_TESTMAP_FORBID"] = os.path.realpath(self.runner.repo)
        run = self.runner.run_tests(here, ["-p", PLUGIN], env, may_select_none=spec is not None)
        self.seconds += run.seconds
        outputs = _outputs(outdir)
        if self.runner.snapshot:
            foreign = {p for out in outputs for p in out.get("foreign", [])}
            refuse_worktree_imports(self.runner.repo, foreign)
        return run, outputs

    def report(self, runs: list[TestRun], skip: Collection[str] = ()) -> Measurement:
        """The runs' numbers; ``skip``: files whose numbers are not needed."""
        data = runs[0].data_file
        if len(runs) > 1:
            combined = self.workdir / "combined"
            combined.mkdir(exist_ok=True)
            data = self.runner.combine([r.data_file for r in runs], combined)
        report = self.runner.json_report(data, self.workdir, TestRunFailed, skip)
        warnings = tuple(dict.fromkeys(w for r in runs for w in r.warnings))
        return replace(load_json_report(report, self.root), warnings=warnings)

    def save(
        self,
        tmap: TestMap,
        fresh: Mapping[str, FileResult],
        kept: Mapping[str, tuple[int, int, int, int]],
        m: Measurement,
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


def _whole_run(runner: Runner, workdir: Path) -> Measurement:
    """The test command run as it is, without the test-map plugin (not pytest)."""
    run = runner.run_tests(workdir)
    report = runner.json_report(run.data_file, workdir, TestRunFailed)
    m = load_json_report(report, runner.root)
    how = f"`{' '.join(runner.config.test_command)}` ({run.seconds:.1f} s)"
    return replace(m, how=how, warnings=run.warnings)


def run_and_record(runner: Runner, *, select: bool, full_reason: str = "") -> Measurement:
    """Run the tests (all, or a selection when ``select``) and keep the map current."""
    with scratch.folder() as workdir:
        if runner.module != "pytest":
            why = "test selection needs pytest" if select else ""
            return replace(_whole_run(runner, workdir), ran_tests=True, mode="full", why=why)
        runner.require(["pytest"])
        session = Session(runner, workdir)
        why = full_reason if full_reason or not select else _why_not_select(session)
        if why or not select:
            return _full(session, why)
        return _selected(session)


def rerun(runner: Runner, files: Collection[str], tests: Collection[str] | None) -> Measurement:
    """The run that measured ``files`` once more: their numbers only.

    For ``check --confirm``: the same ``tests`` (None: the whole suite),
    collected and run the same way, so that numbers that differ can only be
    chance.  The test map is left as the first run recorded it.
    """
    with scratch.folder() as workdir:
        if runner.module != "pytest":
            return _whole_run(runner, workdir)
        runner.require(["pytest"])
        session = Session(runner, workdir)
        known = list(session.old.tests) if session.old else []
        spec = None if tests is None else {"select": sorted(tests), "known": known}
        data, _ = session.run(spec)
        measured = session.old.numbers.keys() if session.old else set()
        m = session.report([data], skip=measured - set(files))
        return replace(m, how=session.how)


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
        runner = session.runner
        return git.mentioned_elsewhere(runner.repo, word, path, cached=runner.snapshot)

    share = session.config.select_max_share
    planned = plan(old, session.content, read, mentions, share)
    if planned.full:
        return _full(session, planned.full)
    if not planned.changed:
        m = _from_map(old, {}, frozenset(), "nothing changed since the last run")
        return replace(m, tests_run=())
    fallback = ""
    try:
        data1, out1 = session.run({"select": sorted(planned.select), "known": list(old.tests)})
        ran, collected = testmap.from_plugin(out1)
        judged, second = judged_after_first_round(old, ran, collected, planned.changed_measured)
        total = len(collected)
        data_files = [data1]
        if len(ran.tests) + len(second) > share * max(total, 1):
            fallback = (
                f"{len(ran.tests) + len(second)} of {total} tests needed, more than "
                f"select-max-share ({share:g}) allows"
            )
        elif second:
            data2, out2 = session.run({"select": second, "known": collected})
            ran = testmap.merged(ran, testmap.from_plugin(out2)[0])
            data_files.append(data2)
    except MapError as e:
        fallback = f"the selected run could not record ({e})"
    if not fallback:
        # The other files' numbers still hold: report only judged and new ones.
        m = session.report(data_files, skip=old.numbers.keys() - judged)
        judged |= {p for p in m.files if p not in old.numbers}
        # Judged files have their full-run numbers now; every other file
        # kept its coverage, so the map's numbers for it still hold.
        fresh = {p: r for p, r in m.files.items() if p in judged}
        content = session.content
        kept = {p: n for p, n in old.numbers.items() if p in content and p not in judged}
        new_map = updated(old, ran, collected, planned.changed)
        session.save(new_map, fresh, kept, m)
    if fallback:
        return _full(session, fallback)
    why = "; ".join(
        [
            f"ran {len(ran.tests)} of {total} tests: {len(planned.changed)} file(s) changed "
            f"since the last run, {len(judged)} measured again",
            *session.notes,
        ]
    )
    m = _from_map(new_map, fresh, frozenset(judged), why)
    return replace(m, how=session.how, tests_run=tuple(ran.tests))


def _full(session: Session, reason: str) -> Measurement:
    run, outputs = session.run(None)
    m = session.report([run])
    try:
        recorded, _ = testmap.from_plugin(outputs)
        session.save(recorded, m.files, {}, m)
    except MapError as e:
        testmap.remove(session.git_dir)
        session.notes.append(f"no test map recorded: {e}; every check runs the whole suite")
    why = "; ".join(w for w in [reason, *session.notes] if w)
    return replace(m, how=session.how, ran_tests=True, mode="full", why=why)


def _from_map(
    tmap: TestMap, fresh: Mapping[str, FileResult], judged: frozenset[str], why: str
) -> Measurement:
    """Numbers for every file: ``fresh`` ones just measured, the rest from the map."""
    files = {
        p: fresh.get(p) or FileResult(Numbers(*n), lines_known=False)
        for p, n in tmap.numbers.items()
    }
    files.update(fresh)
    return Measurement(
        files,
        tmap.coverage_version,
        tmap.branch,
        how="the test map",
        ran_tests=True,
        judged=judged,
        mode="selected",
        why=why,
    )
