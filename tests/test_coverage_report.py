"""The report script's numbers equal ``coverage json``'s, whether a file's
parser is kept from an earlier run or not (:mod:`ratchet.coverage_report`)."""

from __future__ import annotations

import json
import pickle
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from ratchet import runner
from ratchet.coverage_report import FUNCTIONS, NAME, cache_path
from testing.project import Project

# Multi-line statements, `with` jumps, exclusions, partial branches, lambdas,
# decorators, comprehensions: what the parser works out and a kept one must too.
SHAPES = '''\
import contextlib


def decorate(f):
    return f


@decorate
def walk(items, stop=None):
    """Walk."""
    total = (
        0
    )
    with contextlib.suppress(KeyError):
        for item in items:
            if item == stop:
                break
            total += item
        else:
            total = total * 2
    while total > 100:  # pragma: no branch
        total //= 2
    return total


def unused():  # pragma: no cover
    return [x for x in range(3) if x]


def skipped():
    raise SystemExit  # nope


def spare(x):
    return (
        x
    )


def chosen(flag):
    f = lambda v: v + 1
    if flag: return f(1)
    try:
        return {k: k for k in "ab"}
    finally:
        flag = None
'''
TESTS = """\
from pkg.shapes import chosen, walk


def test_walk():
    assert walk([1, 2, 3], stop=2) == 1
    assert walk([200]) == 100


def test_chosen():
    assert chosen(False)
"""
CONFIG = """\
[tool.coverage.run]
branch = {branch}
source = ["pkg"]

[tool.coverage.report]
exclude_lines = ["pragma: no cover", "{exclude}"]
"""


def _setup(project: Project, branch: bool, exclude: str = "# nope") -> None:
    project.write("pkg/shapes.py", SHAPES)
    project.write("tests/test_shapes.py", TESTS)
    config = CONFIG.format(branch=str(branch).lower(), exclude=exclude)
    project.write("pyproject.toml", config)
    _run(project)


def _run(project: Project) -> None:
    """``coverage run -m pytest`` of the project's tests."""
    proc = subprocess.run(
        [sys.executable, "-m", "coverage", "run", "-m", "pytest", "-q", "-p", "no:randomly"],
        cwd=project.root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _coverage_json(project: Project) -> dict[str, Any]:
    out = project.root / "reference.json"
    subprocess.run(
        [sys.executable, "-m", "coverage", "json", "-q", "-o", str(out)],
        cwd=project.root,
        check=True,
    )
    return {
        path: (entry["summary"], entry["missing_lines"])
        for path, entry in json.loads(out.read_text())["files"].items()
    }


def _ours(project: Project, cache: Path, script: str | None = None) -> tuple[dict[str, Any], str]:
    """The report script's files (summaries cut to the fields it writes) and its log."""
    out = project.root / "ours.json"
    omit = project.root / "omit.txt"
    omit.write_text("")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            script or runner._JSON_REPORT,
            ".coverage",
            str(out),
            str(omit),
            "True",
            str(cache),
        ],
        cwd=project.root,
        check=True,
        capture_output=True,
        text=True,
    )
    files = json.loads(out.read_text())["files"]
    return {path: (entry["summary"], entry["missing_lines"]) for path, entry in files.items()}, (
        proc.stdout + proc.stderr
    )


def _cut(reference: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    return {
        path: ({k: summary[k] for k in ours[path][0]}, missing)
        for path, (summary, missing) in reference.items()
        if path in ours
    }


@pytest.mark.parametrize("branch", [False, True])
def test_numbers_equal_coverage_json_parsed_or_kept(
    project: Project, tmp_path: Path, branch: bool
) -> None:
    _setup(project, branch)
    reference = _coverage_json(project)
    cache = tmp_path / "parsed.db"
    first, log = _ours(project, cache)
    assert ", 0 parsers kept" in log
    second, log = _ours(project, cache)
    assert "parsers kept from earlier runs" in log
    assert ", 0 parsers kept" not in log
    assert "pkg/shapes.py" in first
    assert set(first) == set(reference)
    assert first == second == _cut(reference, first)
    # The fields ratchet reads are all there.
    summary = first["pkg/shapes.py"][0]
    assert set(summary) >= {"num_statements", "covered_lines"}
    assert ("num_branches" in summary) == branch
    assert summary["covered_lines"] < summary["num_statements"]


def test_a_kept_parser_is_not_used_under_other_exclusions(
    project: Project, tmp_path: Path
) -> None:
    cache = tmp_path / "parsed.db"
    _setup(project, True)
    _ours(project, cache)
    # The same file, now with "raise SystemExit" excluded: parsed again.
    _setup(project, True, exclude="raise SystemExit")
    reference = _coverage_json(project)
    ours, log = _ours(project, cache)
    assert ", 0 parsers kept" in log
    assert ours == _cut(reference, ours)


def test_a_changed_file_is_parsed_again(project: Project, tmp_path: Path) -> None:
    cache = tmp_path / "parsed.db"
    _setup(project, True)
    _ours(project, cache)
    # Every line moves: a parser kept for the old text would misplace them all.
    project.write(
        "pkg/shapes.py", SHAPES.replace("import contextlib", "import contextlib\nMOVED = 1")
    )
    _run(project)
    reference = _coverage_json(project)
    ours, _ = _ours(project, cache)
    assert ours == _cut(reference, ours)


def test_a_damaged_or_foreign_kept_parser_is_not_used(project: Project, tmp_path: Path) -> None:
    """Every kept parser replaced: by bytes that do not unpickle, and by the
    parser of another file: the numbers are still coverage.py's."""
    cache = tmp_path / "parsed.db"
    _setup(project, True)
    reference = _coverage_json(project)
    _ours(project, cache)
    db = sqlite3.connect(cache)
    rows = db.execute("SELECT space, digest, parser FROM parsed").fetchall()
    assert rows
    parsers = [pickle.loads(zlib.decompress(blob)) for _, _, blob in rows]
    other = next(p for p in parsers if "def walk" not in p.text)  # pkg/__init__.py's
    with db:
        db.execute("UPDATE parsed SET parser = ?", (zlib.compress(pickle.dumps(other)),))
    ours, log = _ours(project, cache)
    assert ours == _cut(reference, ours)
    with db:
        db.execute("UPDATE parsed SET parser = ?", (b"not a pickle",))
    ours, _ = _ours(project, cache)
    assert ours == _cut(reference, ours)
    # A cache that is not a database at all is not used either.
    db.close()
    cache.write_bytes(b"garbage" * 100)
    ours, log = _ours(project, cache)
    assert ours == _cut(reference, ours)
    assert "no kept parsers" in log
    # Nor one that cannot be made.
    ours, log = _ours(project, tmp_path / "no such folder" / "parsed.db")
    assert ours == _cut(reference, ours)
    assert "no kept parsers" in log


def test_unknown_internals_fall_back_to_coverage_json(project: Project, tmp_path: Path) -> None:
    """A coverage.py whose reporting loop is not where we look: its own
    ``json_report`` reports, and the log says why."""
    _setup(project, True)
    reference = _coverage_json(project)
    hide = (
        "import importlib\n"
        "for _name in ('coverage.report_core', 'coverage.report'):\n"
        "    try:\n"
        "        _module = importlib.import_module(_name)\n"
        "    except ImportError:  # coverage.py before 7.4 has no report_core\n"
        "        continue\n"
        "    if hasattr(_module, 'get_analysis_to_report'):\n"
        "        del _module.get_analysis_to_report\n"
    )
    script = runner._JSON_REPORT.replace(FUNCTIONS, FUNCTIONS + hide, 1)
    ours, log = _ours(project, tmp_path / "parsed.db", script)
    assert "reporting loop not found" in log
    assert ours == _cut(reference, ours)


def test_parsers_are_kept_in_the_clones_git_directory(project: Project, tmp_path: Path) -> None:
    git_dir = project.root / ".git"
    assert cache_path(git_dir) == str(git_dir / "ratchet" / NAME)
    assert (git_dir / "ratchet").is_dir()
    # Where the state folder cannot be made there is no such place: reports
    # run without one.
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "ratchet").write_text("a file, not a folder")
    assert cache_path(blocked) == ""
