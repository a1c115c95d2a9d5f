"""The report script's numbers equal ``coverage json``'s, whether a file's
parser is kept from an earlier run or not (:mod:`ratchet.coverage_report`)."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet import runner
from ratchet.config import load_config
from ratchet.coverage_report import FUNCTIONS, NAME, cache_path
from ratchet.errors import RatchetError
from ratchet.selection.store import ran_digest
from ratchet.workspace import in_place
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
    assert ", 0 parsers kept from earlier runs, 0 results kept" in log
    # Then every file's numbers are kept: nothing is analysed or parsed.
    second, log = _ours(project, cache)
    assert ", 0 parsers kept from earlier runs, 3 results kept" in log
    # Without them, the kept parsers are used.
    _forget_results(cache)
    third, log = _ours(project, cache)
    assert ", 0 parsers kept" not in log
    assert "parsers kept from earlier runs, 0 results kept" in log
    assert "pkg/shapes.py" in first
    assert set(first) == set(reference)
    assert first == second == third == _cut(reference, first)
    # The fields ratchet reads are all there.
    summary = first["pkg/shapes.py"][0]
    assert set(summary) >= {"num_statements", "covered_lines"}
    assert ("num_branches" in summary) == branch
    assert summary["covered_lines"] < summary["num_statements"]


def _forget_results(cache: Path) -> None:
    with sqlite3.connect(cache) as db:
        db.execute("DELETE FROM results")


def test_entries_unused_for_weeks_are_dropped_and_their_space_given_back(
    project: Project, tmp_path: Path
) -> None:
    cache = tmp_path / "parsed.db"
    _setup(project, True)
    reference = _coverage_json(project)
    _ours(project, cache)
    with sqlite3.connect(cache) as db:
        # Entries of files no run has reported for a month: most of the file.
        rows = db.execute("SELECT space FROM parsed").fetchall()
        db.executemany(
            "INSERT INTO parsed VALUES (?, ?, ?, 0)",
            [(rows[0][0], f"gone-{n}", os.urandom(4000)) for n in range(300)],
        )
    big = cache.stat().st_size
    ours, log = _ours(project, cache)
    assert "results kept" in log
    assert ours == _cut(reference, ours)
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT count(*) FROM parsed WHERE digest LIKE 'gone-%'").fetchone() == (
            0,
        )
        assert db.execute("SELECT count(*) FROM parsed").fetchone() == (len(rows),)
    assert cache.stat().st_size * 4 < big
    # Kept entries are still used.
    _, log = _ours(project, cache)
    assert ", 0 parsers kept from earlier runs, 3 results kept" in log


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
    _forget_results(cache)  # Else the parsers are not needed.
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
        db.execute("DELETE FROM results")
    ours, log = _ours(project, cache)
    assert ", 0 parsers kept" in log
    assert ours == _cut(reference, ours)
    # Kept numbers that cannot be read are not used either, nor JSON that is
    # not a file's entry (kept results are written out as they were read).
    for damaged in ("not JSON", "[1, 2]", '{"summary": 3}'):
        with db:
            db.execute("UPDATE results SET entry = ?", (damaged,))
        ours, log = _ours(project, cache)
        assert ", 0 results kept" in log
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


def test_kept_numbers_follow_what_ran_the_text_and_the_patterns(
    project: Project, tmp_path: Path
) -> None:
    cache = tmp_path / "parsed.db"
    _setup(project, True)
    _ours(project, cache)
    # The same texts, but only one test ran: shapes.py executed other lines.
    proc = subprocess.run(
        [sys.executable, "-m", "coverage", "run", "-m", "pytest", "-q", "-p", "no:randomly",
         "tests/test_shapes.py::test_walk"],
        cwd=project.root, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout
    reference = _coverage_json(project)
    ours, log = _ours(project, cache)
    assert ours == _cut(reference, ours)
    # Only pkg/__init__.py's, which ran nothing either time.
    assert "2 parsers kept from earlier runs, 1 results kept" in log
    # Another exclusion pattern: none is kept for it yet.
    _setup(project, True, exclude="raise SystemExit")
    reference = _coverage_json(project)
    ours, log = _ours(project, cache)
    assert ", 0 results kept" in log
    assert ours == _cut(reference, ours)
    # A changed text, the same lines run.
    project.write("pkg/shapes.py", SHAPES.replace('"""Walk."""', '"""Walk!"""'))
    _run(project)
    reference = _coverage_json(project)
    ours, log = _ours(project, cache)
    assert ", 2 results kept" in log
    assert ours == _cut(reference, ours)


def test_numbers_are_kept_only_from_the_data_their_key_was_made_of(
    project: Project, tmp_path: Path
) -> None:
    """A coverage.py whose analysis reads another name's data than the one
    the key was made from keeps nothing: its numbers would be keyed wrong."""
    _setup(project, True)
    reference = _coverage_json(project)
    script = runner._JSON_REPORT.replace(
        'getattr(cov, "_file_mapper", None)', 'lambda name: name + ".elsewhere"', 1
    )
    assert script != runner._JSON_REPORT
    cache = tmp_path / "parsed.db"
    for _ in range(2):
        ours, log = _ours(project, cache, script)
        assert ", 0 results kept" in log
        assert ours == _cut(reference, ours)
    assert sqlite3.connect(cache).execute("SELECT count(*) FROM results").fetchone() == (0,)


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


# -- several report processes at once ---------------------------------------------------

MODULE = "def f{i}(flag):\n    if flag:\n        return {i}\n    return -{i}\n"


def _many(project: Project, modules: int) -> None:
    """``_setup``'s project with ``modules`` more files, half their branches run."""
    for i in range(modules):
        project.write(f"pkg/m{i}.py", MODULE.format(i=i))
    calls = "".join(f"    from pkg.m{i} import f{i}\n    f{i}({i % 2})\n" for i in range(modules))
    project.write("tests/test_many.py", f"def test_many():\n{calls}")
    _setup(project, True)


def _report(project: Project, workdir: Path) -> tuple[dict[str, Any], ...]:
    """runner.json_report's report and side files, as read back."""
    workdir.mkdir()
    config = project.read("pyproject.toml")
    if "[tool.ratchet]" not in config:
        project.write("pyproject.toml", f"{config}\n[tool.ratchet]\npython = {sys.executable!r}\n")
    ws = in_place(project.root, load_config(project.root), tests=False)
    report, path = runner.json_report(
        ws,
        project.root / ".coverage",
        workdir,
        RatchetError,
        git_dir=project.root / ".git",
        root=project.root,
        digests=True,
    )
    files = {}
    for name, result in report.files.items():
        n = result.numbers
        summary = {"num_statements": n.statements, "covered_lines": n.covered}
        if report.branch:
            summary |= {"num_branches": n.branches, "covered_branches": n.covered_branches}
        files[name] = {"summary": summary, "missing_lines": list(result.missing_lines)}
    return (
        {"files": files},
        *(
            json.loads((path.parent / (path.name + side)).read_text())
            for side in (".tracers", ".ran")
        ),
    )


def test_shares_together_report_what_one_process_reports(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _many(project, 7)
    reference = _coverage_json(project)
    monkeypatch.setattr(runner, "report_shares", lambda data_file: 1)
    one = _report(project, tmp_path / "one")
    monkeypatch.setattr(runner, "report_shares", lambda data_file: 3)
    three = _report(project, tmp_path / "three")
    assert three == one
    files = {
        path: (entry["summary"], entry["missing_lines"])
        for path, entry in three[0]["files"].items()
    }
    assert set(files) == set(reference)
    assert len(files) == 10  # With the project's own pkg/mod.py.
    assert files == _cut(reference, files)
    assert len(three[2]) == 10  # What each file executed, from every share.
    # Three processes each analysed a third, every file once.
    logs = [(tmp_path / "three" / f"report-{i}.log").read_text() for i in range(3)]
    assert [log.split("ratchet: ")[-1].split(" files")[0] for log in logs] == ["4", "3", "3"]
    assert not (tmp_path / "three" / "report.log").exists()


@pytest.mark.parametrize("branch", [True, False])
def test_ran_digests_are_the_maps_whether_analysed_or_kept(
    project: Project, tmp_path: Path, branch: bool
) -> None:
    """The digests written beside a report are what the test map computes of
    the same data, also when the report kept every file's numbers."""
    import coverage

    _setup(project, branch)
    data = coverage.CoverageData(str(project.root / ".coverage"))
    data.read()
    expected = {}
    for name in data.measured_files():
        if branch:
            values = [n for pair in sorted(data.arcs(name) or ()) for n in pair]
        else:
            values = sorted(data.lines(name) or ())
        expected[name] = ran_digest(values).hex()
    assert len(expected) == 3
    first = _report(project, tmp_path / "first")
    kept = _report(project, tmp_path / "kept")
    assert (
        "3 results kept; what they ran read at once"
        in (tmp_path / "kept" / "report.log").read_text()
    )
    assert first[2] == kept[2] == expected


@pytest.mark.parametrize("branch", [True, False])
def test_data_of_several_contexts_are_read_file_by_file_to_the_same_numbers(
    project: Project, tmp_path: Path, branch: bool
) -> None:
    """With a context per test, a file's rows repeat per context: reading them
    at once would not give its sorted set, so each file is asked for as
    coverage.py asks.  Numbers, digests and kept results are the same."""
    _setup(project, branch)
    plain_report, _, plain_ran = _report(project, tmp_path / "plain")
    assert "read at once" in (tmp_path / "plain" / "report.log").read_text()
    config = project.read("pyproject.toml")
    project.write(
        "pyproject.toml",
        config.replace(
            "[tool.coverage.run]\n", "[tool.coverage.run]\ndynamic_context = 'test_function'\n"
        ),
    )
    _run(project)
    reference = _coverage_json(project)
    first = _report(project, tmp_path / "first")
    kept = _report(project, tmp_path / "kept")
    for name, (report, _, ran) in (("first", first), ("kept", kept)):
        log = (tmp_path / name / "report.log").read_text()
        assert "what they ran read file by file" in log
        files = {p: (e["summary"], e["missing_lines"]) for p, e in report["files"].items()}
        assert files == _cut(reference, files)
        assert report == plain_report
        assert ran == plain_ran
    assert "3 results kept" in (tmp_path / "kept" / "report.log").read_text()


def test_more_shares_than_files_leave_some_empty(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(project, True)
    reference = _coverage_json(project)
    monkeypatch.setattr(runner, "report_shares", lambda data_file: 4)
    report, _, ran = _report(project, tmp_path / "four")
    files = {
        path: (entry["summary"], entry["missing_lines"]) for path, entry in report["files"].items()
    }
    assert files == _cut(reference, files)
    assert len(files) == len(reference) == 3
    assert len(ran) == 3
    logs = [(tmp_path / "four" / f"report-{i}.log").read_text() for i in range(4)]
    assert sum("0 files in this share" in log for log in logs) == 1


def test_shares_that_cannot_be_merged_are_reported_by_one_process(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _many(project, 3)
    monkeypatch.setattr(runner, "report_shares", lambda data_file: 1)
    one = _report(project, tmp_path / "one")
    monkeypatch.setattr(runner, "report_shares", lambda data_file: 2)
    monkeypatch.setattr(runner, "merge_shares", lambda outs, report: None)
    again = _report(project, tmp_path / "again")
    assert again == one
    assert (tmp_path / "again" / "report-1.log").exists()  # The shares ran, then one process.
    assert "6 files" in (tmp_path / "again" / "report.log").read_text()


def _share(folder: Path, name: str, files: dict[str, Any], branch: bool = True) -> Path:
    out = folder / name
    meta = {"version": "7.0", "branch_coverage": branch}
    out.write_text(json.dumps({"meta": meta, "files": files}))
    (folder / f"{name}.ran").write_text(json.dumps({f"/r/{p}": "00" for p in files}))
    return out


def test_merge_joins_shares_and_refuses_what_they_disagree_on(tmp_path: Path) -> None:
    a = _share(tmp_path, "a.json", {"x.py": {"summary": {"num_statements": 1}}})
    b = _share(tmp_path, "b.json", {"y.py": {"summary": {"num_statements": 2}}})
    report = tmp_path / "coverage.json"
    merged = runner.merge_shares([a, b], report)
    assert merged is not None
    assert merged["files"] == {
        "x.py": {"summary": {"num_statements": 1}},
        "y.py": {"summary": {"num_statements": 2}},
    }
    assert json.loads((tmp_path / "coverage.json.ran").read_text()) == {
        "/r/x.py": "00",
        "/r/y.py": "00",
    }
    assert json.loads((tmp_path / "coverage.json.tracers").read_text()) == {}
    for side in tmp_path.glob("coverage.json.*"):
        side.unlink()
    # The same file in two shares: which one a single report keeps depends on its order.
    twice = _share(tmp_path, "c.json", {"x.py": {"summary": {"num_statements": 3}}})
    assert runner.merge_shares([a, twice], report) is None
    # Shares that measured differently, a share that is not JSON, or none at all.
    lines_only = _share(tmp_path, "d.json", {"z.py": {}}, branch=False)
    assert runner.merge_shares([a, lines_only], report) is None
    broken = tmp_path / "e.json"
    broken.write_text("{not json")
    assert runner.merge_shares([a, broken], report) is None
    assert runner.merge_shares([a, tmp_path / "missing.json"], report) is None
    assert not list(tmp_path.glob("coverage.json*"))


def test_report_shares_follow_files_and_processors(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _many(project, 7)
    data = project.root / ".coverage"
    monkeypatch.setattr(runner, "SHARE_FILES", 2)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert runner.report_shares(data) == 4  # 10 files, 2 a share, but 4 processors.
    monkeypatch.setattr(runner, "SHARE_FILES", 4)
    assert runner.report_shares(data) == 2  # 10 // 4
    monkeypatch.setattr(runner, "SHARE_FILES", 1_000)
    assert runner.report_shares(data) == 1
    monkeypatch.setattr(runner, "SHARE_FILES", 1)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert runner.report_shares(data) == 1  # One processor: one process.
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert runner.report_shares(data) == runner.MAX_SHARES
    # A data file that is not one: one process, whose coverage.py will say so.
    (project.root / "junk").write_bytes(b"not a database" * 100)
    assert runner.report_shares(project.root / "junk") == 1
    assert runner.report_shares(project.root / "missing") == 1


# -- resolving paths once per folder ----------------------------------------------------

PARTS = ["a", "b", "link", "loop", "f.py", "s.py", "gone.py", "missing", ".", "..", ""]


def _tree(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f.py").write_text("")
    (root / "x.py").write_text("")
    (root / "link").symlink_to(root / "a" / "b")
    (root / "a" / "b" / "s.py").symlink_to("../../x.py")
    (root / "a" / "b" / "gone.py").symlink_to("nowhere.py")
    (root / "a" / "loop").symlink_to("loop")


@given(st.lists(st.sampled_from(PARTS), min_size=1, max_size=6))
@settings(max_examples=300, deadline=None)
def test_realpath_per_folder_answers_as_realpath(tmp_path_factory: Any, parts: list[str]) -> None:
    """Through folder links, file links, broken and looping links, missing
    files, ``.``, ``..`` and doubled slashes, asked once and again."""
    import coverage.files

    root = tmp_path_factory.getbasetemp() / "realpaths"
    if not root.exists():
        _tree(root)
    namespace: dict[str, Any] = {}
    exec(FUNCTIONS, namespace)
    paths = vars(coverage.files)["os"].path  # coverage.py's own copy of os.path
    real = paths.realpath
    path = str(root) + "/" + "/".join(parts)
    expected = real(path)
    with namespace["ratchet_realpaths"]():
        assert paths.realpath is not real
        assert paths.realpath(path) == expected
        assert paths.realpath(path) == expected  # From what it kept, too.
        relative = "/".join(parts)
        assert paths.realpath(relative) == real(relative)
        assert coverage.files.abs_file(path) == os.path.realpath(path)
    assert paths.realpath is real


def test_report_shares_without_affinity_count_processors(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _many(project, 3)
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(runner, "SHARE_FILES", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert runner.report_shares(project.root / ".coverage") == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # Unknown: one.
    assert runner.report_shares(project.root / ".coverage") == 1


def test_scripts_run_together_leave_none_running_when_one_cannot_start(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(project, False)
    config = project.read("pyproject.toml")
    project.write("pyproject.toml", f"{config}\n[tool.ratchet]\npython = {sys.executable!r}\n")
    ws = in_place(project.root, load_config(project.root), tests=False)
    started: list[subprocess.Popen[bytes]] = []
    real = subprocess.Popen

    def second_fails(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        if started:
            raise OSError("no more processes")
        started.append(real(*args, **kwargs))
        return started[0]

    monkeypatch.setattr(subprocess, "Popen", second_fails)
    sleeper = ["-c", "import time; time.sleep(120)"]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with pytest.raises(OSError, match="no more processes"):
        runner.python_all(ws, [sleeper, sleeper], "sleep", logs=logs, error=RatchetError)
    assert started[0].returncode is not None  # Stopped, not left sleeping.
    # A script that fails is the error, with its output.
    monkeypatch.setattr(subprocess, "Popen", real)
    failing = ["-c", "import sys; print('broken here'); sys.exit(3)"]
    with pytest.raises(RatchetError) as info:
        runner.python_all(ws, [["-c", "pass"], failing], "try", logs=logs, error=RatchetError)
    assert "`try` failed (exit 3)" in info.value.message
    assert "broken here" in (info.value.detail or "")
