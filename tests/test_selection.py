"""Selected checks: only affected tests run, and the numbers are a full run's."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import coverage
import pytest

from ratchet import errors, measure
from ratchet.config import load_config
from ratchet.report import RunMode
from ratchet.selection import store
from ratchet.selection.blocks import attribute_probe_lines, probes_of
from ratchet.workspace import in_place
from testing.project import Project, pyproject

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from soak_selection import full_numbers, numbers, soak

A = """\
LIMIT = 3


def small(x):
    if x > LIMIT:
        return "big"
    return "small"


def double(x):
    return x * 2
"""

B = """\
from pkg import c


def shout(x):
    return c.word(x).upper() + "!"
"""

C = """\
def word(x):
    if x:
        return "yes"
    return "no"


def cli():
    import sys

    print(word(int(sys.argv[1])))


if __name__ == "__main__":
    cli()
"""

SAME_B = B.replace(
    '    return c.word(x).upper() + "!"', '    r = c.word(x).upper()\n    return r + "!"'
)


def neutral(n: int) -> str:
    """b.py with its behaviour kept and its bytes changed."""
    return B.replace("def shout(x):\n", "def shout(x):\n" + "    # note\n" * n)


CONFTEST = """\
import pytest

from pkg import a


@pytest.fixture(scope="session")
def session_value():
    return a.double(21)
"""

TEST_A = """\
import pytest

from pkg import a


@pytest.mark.parametrize("x", [1, 2])
def test_small(x):
    assert a.small(x) == "small"


def test_double(session_value):
    assert session_value == 42
"""

TEST_B = """\
from pkg import b


def test_shout():
    assert b.shout(1) == "YES!"


def test_shout_no():
    assert b.shout(0) == "NO!"
"""

TEST_CLI = """\
import subprocess
import sys


def test_cli():
    out = subprocess.run([sys.executable, "-m", "pkg.c", "0"], capture_output=True, text=True)
    assert out.stdout.strip() == "no"
"""

TEST_D = """\
def test_nothing():
    assert True


def test_nothing_again():
    assert True


def test_nothing_more():
    assert True
"""


# Before coverage.py 7.10 (no `patch = subprocess`) test_cli's child is not
# measured: a test that starts Python coverage.py does not see always runs.
COVERAGE = tuple(int(n) for n in coverage.__version__.split(".")[:2])
UNSEEN_CHILD = [] if COVERAGE >= (7, 10) else ["tests/test_cli.py::test_cli"]


def _suite(project: Project, *, conftest: str = CONFTEST, cli: bool = True) -> Project:
    """Four modules' tests (three without ``cli``), a session fixture, a
    subprocess test; baselined."""
    patch = "patch = ['subprocess']\n" if cli else ""
    project.write("pyproject.toml", pyproject(branch=True) + patch)
    project.write("pkg/a.py", A)
    project.write("pkg/b.py", B)
    project.write("pkg/c.py", C)
    project.write("tests/conftest.py", conftest)
    project.write("tests/test_a.py", TEST_A)
    project.write("tests/test_b.py", TEST_B)
    if cli:
        project.write("tests/test_cli.py", TEST_CLI)
    project.write("tests/test_d.py", TEST_D)
    project.git("rm", "-q", "tests/test_mod.py")
    project.commit("suite")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    return project


@pytest.fixture
def suite(project: Project) -> Project:
    """Four modules' tests, a session fixture, a subprocess test; baselined."""
    return _suite(project)


def check_json(p: Project, *args: str) -> dict[str, object]:
    result = p.ratchet("check", "--format", "json", *args)
    assert result.code in (errors.PASSED, errors.BLOCKED), result.err
    doc: dict[str, object] = json.loads(result.out)
    return doc


def test_a_body_change_runs_only_the_tests_that_executed_the_file(suite: Project) -> None:
    suite.stage("pkg/b.py", B.replace('+ "!"', '+ "!" if x else "NO!"'))
    doc = check_json(suite)
    assert doc["mode"] == "selected", doc["why"]
    # test_b's two tests ran shout()'s body.  shout(0) no longer runs c.py,
    # but test_cli's child runs those lines (the map has them): c.py's
    # executed lines come to the same, so its numbers stand without a new
    # analysis.  Where the child is not measured, c.py is analysed again.
    assert sorted(doc["tests_run"]) == [  # type: ignore[call-overload]
        "tests/test_b.py::test_shout",
        "tests/test_b.py::test_shout_no",
        *UNSEEN_CHILD,
    ]
    assert doc["why"] == (
        f"ran {2 + len(UNSEEN_CHILD)} of 9 tests: 1 file(s) changed since the last run, "
        f"{1 + len(UNSEEN_CHILD)} measured again"
    )
    m = measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    assert m.mode is RunMode.SELECTED
    assert m.why == "nothing changed since the last run"
    assert m.tests_run == ()
    assert numbers(m) == full_numbers(suite.root)


@pytest.mark.skipif(
    tuple(int(n) for n in coverage.__version__.split(".")[:2]) < (7, 10),
    reason="measuring test_cli's subprocess (patch = subprocess) needs coverage.py 7.10",
)
def test_a_renamed_test_runs_alone_and_the_others_keep_their_lines(suite: Project) -> None:
    suite.stage("tests/test_b.py", TEST_B.replace("def test_shout()", "def test_shout_yes()"))
    doc = check_json(suite)
    assert doc["mode"] == "selected", doc["why"]
    # The new test runs; test_shout's lines leave the map; test_cli's stay.
    assert doc["tests_run"] == ["tests/test_b.py::test_shout_yes"]
    assert numbers(
        measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    ) == full_numbers(suite.root)


def test_a_renamed_test_that_runs_other_lines_is_measured_again(suite: Project) -> None:
    other = TEST_B.replace("def test_shout():", "def test_other():")
    suite.stage("tests/test_b.py", other.replace('shout(1) == "YES!"', 'shout(0) == "NO!"'))
    doc = check_json(suite)
    assert doc["mode"] == "selected", doc["why"]
    assert sorted(doc["tests_run"]) == [  # type: ignore[call-overload]
        "tests/test_b.py::test_other",
        *UNSEEN_CHILD,
    ]
    assert numbers(
        measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    ) == full_numbers(suite.root)


def test_a_refused_commit_tried_again_unchanged_is_refused_again(suite: Project) -> None:
    suite.stage("tests/test_a.py", TEST_A.replace("def test_small", "def _off"))
    first = suite.ratchet("check")
    assert first.code == errors.BLOCKED, first.out
    assert "selected run" in first.out
    assert "pkg/a.py" in first.out
    again = suite.ratchet("check")
    assert again.code == errors.BLOCKED, again.out
    assert "nothing changed since the last run" in again.out
    assert "pkg/a.py" in again.out


def test_a_subprocess_is_attributed_to_the_test_that_started_it(suite: Project) -> None:
    # cli() runs only in the child process that test_cli starts.
    suite.stage("pkg/c.py", C.replace("print(word(", "print(word(0 * "))
    doc = check_json(suite)
    assert doc["mode"] == "selected"
    # Only test_cli: its child ran cli(); test_b's tests call c.word only.
    assert doc["tests_run"] == ["tests/test_cli.py::test_cli"], doc["why"]
    assert numbers(
        measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    ) == full_numbers(suite.root)


@pytest.mark.parametrize(
    ("path", "text", "reason"),
    [
        ("tests/conftest.py", CONFTEST.replace("21", "20 + 1"), "a conftest.py changed"),
        (
            "pkg/a.py",
            A.replace("LIMIT = 3", "LIMIT = 4"),
            "pkg/a.py: its import-time code changed, and tests/conftest.py imports it",
        ),
        ("pyproject.toml", None, "the environment changed (configuration)"),
    ],
)
def test_import_time_and_configuration_changes_run_the_whole_suite(
    suite: Project, path: str, text: str | None, reason: str
) -> None:
    if text is None:
        text = suite.read(path) + "\n# a comment\n"
    suite.stage(path, text)
    doc = check_json(suite)
    assert doc["mode"] == "full"
    assert reason in str(doc["why"])
    assert doc["tests_run"] is None  # The whole suite.


def test_full_flag_no_map_and_environment_changes_run_everything(
    suite: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.stage("pkg/b.py", SAME_B)
    assert check_json(suite, "--full")["why"] == "--full was given"
    git_dir = suite.root / ".git"
    (git_dir / "ratchet" / store.NAME).unlink()
    suite.stage("pkg/b.py", neutral(2))
    assert check_json(suite)["why"] == "no test map yet"
    monkeypatch.setenv("COVERAGE_CORE", "pytrace")
    suite.stage("pkg/b.py", neutral(3))
    assert check_json(suite)["why"] == "the environment changed (environment variables)"
    # Recorded again under the new environment: selection resumes.
    suite.stage("pkg/b.py", neutral(4))
    assert check_json(suite)["mode"] == "selected"


RUNS_ON = """\
def run(get):
    return helper(get("m"))


def helper(v):
    a = v + 1
    return a
"""

RUNS_ON_TEST = """\
import pytest

from pkg import runs_on


@pytest.fixture(scope="module")
def m():
    return 1


def test_runs_on(request):
    assert runs_on.run(request.getfixturevalue) == 2
"""


@pytest.mark.parametrize("core", ["pytrace", "ctrace"])
def test_a_frame_running_across_a_boundary_still_has_its_calls_traced(
    project: Project, monkeypatch: pytest.MonkeyPatch, core: str
) -> None:
    """run() asks for a module fixture in the middle of its line: a unit
    boundary while its frame runs.  The pytrace core then traces a call into
    run()'s own file only if that file's set of lines is not empty
    (coverage.py's same-file shortcut): the boundary must not leave it empty,
    or helper()'s lines go unseen, in the data file too."""
    monkeypatch.setenv("COVERAGE_CORE", core)
    project.write("pkg/runs_on.py", RUNS_ON)
    project.write("tests/test_runs_on.py", RUNS_ON_TEST)
    project.commit("a frame that runs on")
    m = measure.run(in_place(project.root, load_config(project.root)), select=False)
    assert numbers(m)["pkg/runs_on.py"] == (5, 5, 0, 0)
    assert numbers(m) == full_numbers(project.root)
    project.write("pkg/runs_on.py", RUNS_ON.replace("a = v + 1", "a = 1 + v"))
    project.commit("helper edited")
    m = measure.run(in_place(project.root, load_config(project.root)), select=True)
    assert m.mode is RunMode.SELECTED, m.why
    assert m.tests_run == ("tests/test_runs_on.py::test_runs_on",)
    assert numbers(m) == full_numbers(project.root)


def test_a_changed_function_that_ran_at_import_time_runs_everything(suite: Project) -> None:
    suite.write("pkg/a.py", A + "\n\nDOUBLED = double(2)\n")
    suite.commit("compute at import")
    assert check_json(suite, "--full")["mode"] == "full"
    suite.stage("pkg/a.py", (A + "\n\nDOUBLED = double(2)\n").replace("x * 2", "x + x"))
    assert str(check_json(suite)["why"]) == (
        "pkg/a.py: its import-time code changed, and tests/conftest.py imports it"
    )


def test_too_large_a_selection_runs_everything(suite: Project) -> None:
    suite.write("pyproject.toml", suite.read("pyproject.toml").replace(
        "[tool.ratchet]\n", "[tool.ratchet]\nselect-max-share = 0.2\n"))  # fmt: skip
    suite.commit("share")
    check_json(suite, "--full")
    suite.stage("pkg/b.py", SAME_B)
    assert "more than select-max-share (0.2)" in str(check_json(suite)["why"])


def test_selection_works_with_pytest_xdist(suite: Project) -> None:
    command = "[tool.ratchet]\ntest-command = 'pytest -p xdist -n 2'\n"
    suite.write(
        "pyproject.toml", suite.read("pyproject.toml").replace("[tool.ratchet]\n", command)
    )
    suite.commit("xdist")
    first = check_json(suite, "--full")
    assert first["why"] == "--full was given"
    suite.stage("pkg/b.py", B.replace('+ "!"', '+ "!" if x else "NO!"'))
    doc = check_json(suite)
    assert doc["mode"] == "selected", doc["why"]
    assert str(doc["why"]).startswith(f"ran {2 + len(UNSEEN_CHILD)} of 9 tests")
    m = measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    assert numbers(m) == full_numbers(suite.root)


def test_differential_short_soak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CI's short version of benchmarks/soak_selection.py: no mismatch allowed."""
    root = tmp_path / "soak"
    root.mkdir()
    monkeypatch.chdir(root)
    result = soak(root, 8, seed=5, verbose=False)
    assert result["mismatches"] == []
    modes = result["modes"]
    assert isinstance(modes, dict)
    assert modes.get("selected", 0) > 0


class PackedLikeCoverage_7_10:
    """``flush_data`` as coverage.py 7.0 to 7.13.1 unpacks arcs: 20-bit fields."""

    def flush_data(self) -> None:
        packeds: set[int] = set()
        for packed in packeds:
            l1 = packed & 0xFFFFF
            l2 = (packed & (0xFFFFF << 20)) >> 20
            if packed & (1 << 40):
                l1 *= -1
            if packed & (1 << 41):
                l2 *= -1


class PackedUnknown:
    def flush_data(self) -> None:
        packeds: set[int] = set()
        for packed in packeds:
            _first, _second = divmod(packed, 1 << 30)


def test_the_packed_arc_layout_is_read_from_coverages_own_code() -> None:
    """coverage.py changed how its C tracer packs arcs in 7.13.2; the plugin
    reads the layout from coverage.py's unpacking code, and records nothing
    (every check then runs the whole suite, saying why) when it cannot."""
    from coverage.collector import Collector

    from ratchet.selection.plugin import packed_layout

    assert packed_layout(Collector) in ((28, 56, 57), (20, 40, 41))
    assert packed_layout(PackedLikeCoverage_7_10) == (20, 40, 41)
    assert packed_layout(PackedUnknown) is None
    assert packed_layout(object) is None


def test_a_process_started_early_waits_for_its_go_and_counts_the_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plugin, in this process: it reads its spec once told to go, and
    how long it waited is what ratchet takes off the run's time."""
    import threading

    from ratchet.selection import plugin

    monkeypatch.setenv("RATCHET_TESTMAP_ROOT", str(tmp_path))
    monkeypatch.setenv(plugin.OUT, str(tmp_path / "out"))
    monkeypatch.delenv(plugin.DATA_DIR, raising=False)
    spec = {"collect": ["tests/test_a.py"], "select": ["tests/test_a.py::t"], "known": []}
    (tmp_path / "spec.json").write_text(json.dumps({**spec, "import": ["pkg.a"]}))
    monkeypatch.setenv(plugin.SELECT, str(tmp_path / "spec.json"))

    def started(say: bytes) -> plugin.Plugin:
        read, write = os.pipe()
        monkeypatch.setenv(plugin.GO, str(read))
        early = plugin.Plugin(plugin.Recorder())
        assert plugin.GO not in os.environ  # Not passed on to its own processes.

        def ratchet() -> None:
            time.sleep(0.3)  # The plan takes its time.
            os.write(write, say)
            os.close(write)

        threading.Thread(target=ratchet).start()
        return early

    early = started(b"go\n")
    early.pytest_sessionstart(None)
    assert early.waited >= 0.25
    assert (early.collect, early.select, early.preload) == (
        {"tests/test_a.py"},
        set(spec["select"]),
        ["pkg.a"],
    )
    # Closed without a go: no run is needed, and the process ends at once.
    idle = started(b"")
    with pytest.raises(pytest.exit.Exception):
        idle.pytest_sessionstart(None)
    assert idle.not_needed
    assert idle.collect is None


def test_the_recorder_resolves_paths_as_realpath_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files are resolved by their folder's real path, once per folder: the
    same answers as ``os.path.realpath`` for links to folders and to files."""
    from ratchet.selection.plugin import Recorder

    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "tests" / "test_a.py").write_text("")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "test_b.py").write_text("")
    (repo / "linked").symlink_to(tmp_path / "elsewhere")
    (repo / "tests" / "test_c.py").symlink_to(tmp_path / "elsewhere" / "test_b.py")
    (repo / "tests" / "test_d.py").symlink_to(repo / "tests" / "test_a.py")
    monkeypatch.setenv("RATCHET_TESTMAP_ROOT", str(repo))
    rec = Recorder()
    paths = [
        str(repo / "tests" / "test_a.py"),
        str(repo / "tests" / "test_c.py"),
        str(repo / "tests" / "test_d.py"),
        str(repo / "linked" / "test_b.py"),
        str(repo / "tests" / "missing.py"),
        str(repo / "tests") + "/../tests/test_a.py",
        str(repo / "tests") + "/..",
        "tests/test_a.py",
        "/",
    ]
    for _ in range(2):  # Again, from what is kept.
        for path in paths:
            assert rec._real(path) == os.path.realpath(path), path
    assert rec.rel(str(repo / "tests" / "test_a.py")) == "tests/test_a.py"
    assert rec.rel(str(repo / "tests" / "test_d.py")) == "tests/test_a.py"
    assert rec.rel(str(repo / "linked" / "test_b.py")) is None  # Outside the repository.


def test_after_a_selected_commit_a_refusal_names_the_newly_uncovered_lines(
    suite: Project,
) -> None:
    suite.stage("pkg/b.py", SAME_B)
    first = suite.ratchet("check")
    assert first.code == errors.PASSED, first.out
    assert "selected run" in first.out
    suite.commit("same behaviour")
    suite.stage(
        "tests/test_a.py",
        TEST_A.replace("@pytest.mark.parametrize", "@pytest.mark.skip\n@pytest.mark.parametrize"),
    )
    refused = suite.ratchet("check")
    assert refused.code == errors.BLOCKED, refused.out
    assert "selected run" in refused.out
    assert "newly uncovered lines: 5, 7\n" in refused.out, refused.out


def test_verify_compares_the_selection_with_a_full_run(suite: Project) -> None:
    suite.stage("pkg/b.py", SAME_B)
    agreed = suite.ratchet("check", "--verify")
    assert agreed.code == errors.PASSED, agreed.err
    assert "the full run agree on every file" in agreed.out
    # A map that lies about a file the change does not touch: the selection
    # takes its numbers from there, and --verify catches it.
    import sqlite3

    db = sqlite3.connect(suite.root / ".git" / "ratchet" / store.NAME)
    with db:
        db.execute(
            "UPDATE numbers SET covered = covered - 1"
            " WHERE path_id = (SELECT id FROM path WHERE path = 'pkg/a.py')"
        )
    db.close()
    suite.stage("pkg/b.py", neutral(2))
    caught = suite.ratchet("check", "--verify")
    assert caught.code == errors.TEST_RUN_FAILED
    assert "ratchet: pkg/a.py: selected 5/7 statements, 1/2 branches, full 6/7" in caught.err
    assert "a bug in ratchet" in caught.err


def test_where_no_map_can_be_recorded_init_says_so_once(project: Project) -> None:
    project.write(
        "pyproject.toml",
        pyproject() + "dynamic_context = 'test_function'\n",  # Contexts: not recordable.
    )
    project.commit("contexts")
    init = project.ratchet("init")
    assert init.code == errors.PASSED, init.err
    assert (
        "ratchet: note: test selection is off here (coverage.py's dynamic_context is set): "
        "every check runs the whole suite" in init.out
    )
    project.commit("baseline")
    project.stage("tests/test_mod.py", project.read("tests/test_mod.py") + "\n# more\n")
    check = project.ratchet("check")
    assert check.code == errors.PASSED, check.out
    assert check.out.startswith(
        "ratchet: full run (test selection cannot record here: coverage.py's dynamic_context "
        "is set), "
    ), check.out
    assert "no test map" not in check.out


@pytest.mark.parametrize(
    "kept",
    [b"{not json", b'{"reason": "old", "fingerprint": {}}', b'["a list"]', b'{"reason": 3}'],
)
def test_a_damaged_or_stale_record_of_why_no_map_is_only_a_cache(
    project: Project, kept: bytes
) -> None:
    project.write("pyproject.toml", pyproject() + "dynamic_context = 'test_function'\n")
    project.commit("contexts")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    (project.root / ".git" / "ratchet" / "selection-off.json").write_bytes(kept)
    project.stage("tests/test_mod.py", project.read("tests/test_mod.py") + "\n# more\n")
    check = project.ratchet("check")
    assert check.code == errors.PASSED, check.out
    # Not trusted: the plain reason, and the note that no map was recorded.
    assert check.out.startswith("ratchet: full run (no test map yet; no test map recorded: ")


def test_the_plugin_imported_as_a_library_records_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only ratchet's copy, loaded under its own name, measures and records:
    a test importing ``ratchet.selection.plugin`` inside a recorded run must
    not start a second recorder there."""
    import importlib

    from ratchet.selection import early, plugin

    assert plugin.LOADED_AS == early.PLUGIN
    monkeypatch.setenv("RATCHET_TESTMAP_OUT", "/nonexistent")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw9")
    again = importlib.reload(plugin)
    assert again._RECORDER is None
    assert again._WORKER_COVERAGE is None


def _shapes(p: Project) -> tuple[str, dict[str, str | None]]:
    s = store.open_store(p.root / ".git")
    try:
        return s.meta("shapes"), {path: s.shape(path) for path in ("pkg/a.py", "pkg/b.py")}
    finally:
        s.close()


def test_a_full_run_keeps_recorded_shapes_only_of_unchanged_files(suite: Project) -> None:
    from ratchet.selection import blocks, session

    made_by, before = _shapes(suite)
    assert made_by == session.SHAPES
    # A recorded shape is kept when its file is unchanged: poison a's, which
    # the next full run must keep, and change b, whose shape must be new.
    s = store.open_store(suite.root / ".git")
    with s.transaction():
        s.set_shape("pkg/a.py", '{"poisoned": true}')
    s.close()
    suite.stage("pkg/b.py", neutral(2))
    assert check_json(suite, "--full")["mode"] == "full"
    _, after = _shapes(suite)
    assert after["pkg/a.py"] == '{"poisoned": true}'
    fresh_b = blocks.shape(neutral(2).encode())
    assert fresh_b is not None
    assert after["pkg/b.py"] == blocks.to_json(fresh_b)
    assert after["pkg/b.py"] != before["pkg/b.py"]
    # Shapes another version of this code (or another Python) made are not kept.
    s = store.open_store(suite.root / ".git")
    with s.transaction():
        s.set_meta("shapes", "0/2.7")
    s.close()
    assert check_json(suite, "--full")["mode"] == "full"
    made_by, again = _shapes(suite)
    assert made_by == session.SHAPES
    assert again["pkg/a.py"] == before["pkg/a.py"]


def test_the_plugin_is_kept_in_the_git_directory_and_restored_if_changed(
    suite: Project,
) -> None:
    """Kept under a checksum of its text (so its bytecode is cached); a copy
    someone changed is written again; a folder that cannot be made there
    falls back to the run's temporary folder."""
    import zlib

    from ratchet.selection import early

    source = (Path(early.__file__).parent / "plugin.py").read_bytes()
    name = f"plugin-{zlib.crc32(source):08x}{len(source):x}"
    folder = suite.root / ".git" / "ratchet" / name
    assert [p.name for p in folder.parent.glob("plugin-*")] == [name]
    copy = folder / f"{early.PLUGIN}.py"
    assert copy.read_bytes() == source
    copy.write_text("raise SystemExit('a changed copy ran')\n")
    suite.stage("pkg/b.py", neutral(2))
    assert check_json(suite, "--full")["mode"] == "full"
    assert copy.read_bytes() == source
    shutil.rmtree(folder)
    folder.write_text("not a folder\n")
    suite.stage("pkg/b.py", neutral(3))
    doc = check_json(suite, "--full")
    assert doc["mode"] == "full"
    assert not doc["notes"], doc["notes"]
    suite.stage("pkg/b.py", neutral(4))
    assert check_json(suite)["mode"] == "selected"  # The map was recorded all the same.


GETATTR = """\
def __getattr__(name):
    import warnings

    if name == "old":
        from pkg.a import double

        warnings.warn("old is deprecated", DeprecationWarning)
        return double
    raise AttributeError(name)
"""


def test_a_collection_that_only_probed_a_packages_getattr_is_not_collected_again(
    project: Project,
) -> None:
    """pytest looks up attributes on every object of a test module; a
    package's ``__getattr__`` that only says "no such attribute" then runs.
    That collection changes nothing, so a selected run need not collect
    that module; one whose ``__getattr__`` keeps a record does."""
    project.write("pyproject.toml", pyproject(branch=True))
    project.write("pkg/__init__.py", GETATTR)
    project.write("pkg/a.py", A)
    project.write("pkg/reg.py", "SEEN = []\n\n\ndef __getattr__(name):\n"
                  "    SEEN.append(name)\n    raise AttributeError(name)\n")  # fmt: skip
    project.write("tests/test_a.py", "import pkg\nfrom pkg import a\n\n\n"
                  "def test_small():\n    assert a.small(5) == 'big'\n")  # fmt: skip
    project.write("tests/test_b.py", "import pkg\nfrom pkg import a\n\n\n"
                  "def test_double():\n    assert a.double(2) == 4\n")  # fmt: skip
    project.write("tests/test_reg.py", "from pkg import reg\n\n\ndef test_reg():\n"
                  "    assert reg.SEEN\n")  # fmt: skip
    project.git("rm", "-q", "tests/test_mod.py")
    project.commit("probed")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    s = store.open_store(project.root / ".git")
    try:
        uid = s.unit_id(store.MODULE, "tests/test_a.py")
        probed = len(s.lines([uid] if uid else [], ["pkg/__init__.py"]))
        active = s.active()
    finally:
        s.close()
    assert probed == 1  # pytest did look up attributes on pkg while collecting.
    assert "tests/test_a.py" not in active
    assert "tests/test_b.py" not in active
    assert "tests/test_reg.py" in active
    # Each file's shape holds its probe lines: a check reads them there.
    s = store.open_store(project.root / ".git")
    try:
        for path in ("pkg/__init__.py", "pkg/reg.py"):
            expected = attribute_probe_lines((project.root / path).read_bytes())
            assert probes_of(s.shape(path) or "") == expected
        assert probes_of(s.shape("pkg/__init__.py") or "")  # Not empty: it has a probe.
        # A shape recorded before shapes held them is read as before, and kept with them.
        old = json.loads(s.shape("pkg/__init__.py") or "")
        del old["p"]
        with s.transaction():
            s.set_shape("pkg/__init__.py", json.dumps(old))
    finally:
        s.close()
    project.stage("pkg/a.py", A.replace("return x * 2", "return x + x"))
    doc = check_json(project)
    assert doc["mode"] == "selected", doc["why"]
    assert doc["tests_run"] == ["tests/test_b.py::test_double"]
    s = store.open_store(project.root / ".git")
    try:
        assert s.active() == active
        kept = probes_of(s.shape("pkg/__init__.py") or "")
        assert kept == attribute_probe_lines((project.root / "pkg/__init__.py").read_bytes())
    finally:
        s.close()
    assert numbers(
        measure.run(in_place(project.root, load_config(project.root)), select=True)
    ) == full_numbers(project.root)


LICENSED = """\
# Copyright: a licence header, so no statement is on line 1.


def f(x):
    if x:
        return 1
    return 0


def g(x):
    return x * 2
"""


LIB = """\
class Thing:
    def __init__(self, n):
        self.n = n


def make(n):
    return Thing(n)


def label(n):
    return f"n{n}"
"""

# Its import makes objects of pkg/lib.py (so it is active) and is noted
# outside the repository; making its tests runs nothing else.
MADE = """\
from pathlib import Path

import pytest

from pkg import lib

LOG = Path(__file__).resolve().parents[2]
assert not (LOG / "broken").exists(), "cannot import"
with open(LOG / "imported.log", "a") as f:
    f.write("x")
THINGS = [lib.make(1), lib.make(2)]


@pytest.mark.parametrize("thing", THINGS, ids=["one", "two"])
def test_thing(thing):
    assert thing.n in (1, 2)
"""
# The same, but its ids are made by a function of its own when collected:
# code the map does not see (test files are not measured here).
NAMED_BY_ITSELF = """\
import pytest

from pkg import lib

THINGS = [lib.make(3)]


def _named(thing):
    return f"thing{thing.n}"


@pytest.mark.parametrize("thing", THINGS, ids=_named)
def test_own(thing):
    assert thing.n == 3
"""


def test_an_active_module_whose_import_alone_reached_out_is_only_imported(
    project: Project,
) -> None:
    """A test module whose import changed state elsewhere (it made objects
    of another file) is imported by every selected run, as a full run
    imports it; when making its tests ran no code of another file, and its
    source has no code of its own that collecting it runs, its tests are
    not made again.  Collected whole: one whose collection ran another
    file's code (ids made by the package), and one with an ids function of
    its own.  No selected test: none of them."""
    project.write("pyproject.toml", pyproject(branch=True))
    project.write("pkg/a.py", A)
    project.write("pkg/lib.py", LIB)
    project.write("tests/test_made.py", MADE)
    project.write("tests/test_own.py", NAMED_BY_ITSELF)
    project.write("tests/test_named.py", "import pytest\n\nfrom pkg import lib\n\n\n"
                  "@pytest.mark.parametrize('n', [1, 2], ids=lib.label)\n"
                  "def test_n(n):\n    assert n\n")  # fmt: skip
    project.write("tests/test_b.py", "from pkg import a\n\n\n"
                  "def test_double():\n    assert a.double(2) == 4\n")  # fmt: skip
    project.git("rm", "-q", "tests/test_mod.py")
    project.commit("made at import")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    imported = project.root.parent / "imported.log"
    modules = ("tests/test_made.py", "tests/test_own.py", "tests/test_named.py")

    def collections() -> tuple[int | None, ...]:
        """The collection units' ids: a unit recorded again gets a new one."""
        s = store.open_store(project.root / ".git")
        try:
            return tuple(s.unit_id(store.MODULE, m) for m in modules)
        finally:
            s.close()

    s = store.open_store(project.root / ".git")
    try:
        assert set(modules) <= s.active()
        assert s.collecting() == {"tests/test_named.py"}
    finally:
        s.close()
    made, own, named = before = collections()
    logged = imported.read_text()
    project.stage("pkg/a.py", A.replace("return x * 2", "return x + x"))
    doc = check_json(project)
    assert doc["mode"] == "selected", doc["why"]
    assert doc["tests_run"] == ["tests/test_b.py::test_double"]
    assert imported.read_text() == logged + "x"  # Imported once, as a full run does.
    after = collections()
    assert after[0] == made  # Not collected: its collection is the map's.
    assert after[1] != own  # Collected again: an ids function of its own,
    assert after[2] != named  # and ids of the package.
    verified = project.ratchet("check", "--verify")
    assert verified.code == errors.PASSED, verified.err
    assert "the full run agree on every file" in verified.out
    # A map that does not say which collections reached out (older code
    # wrote it), or says it of other collections than it holds (older code
    # recorded them since): every active test module is collected whole.
    s = store.open_store(project.root / ".git")
    try:
        said = s.meta("collecting")
        # As if older code recorded test_made's collection running lib.py.
        row = (s.unit_id(store.MODULE, "tests/test_made.py"), s.path_id("pkg/lib.py"))
        lines = s.db.execute("SELECT MIN(id) FROM lineset").fetchone()[0]
        with s.transaction():
            s.db.execute("INSERT INTO executed VALUES (?, ?, ?)", (*row, lines))
        assert s.collecting() is None
        with s.transaction():
            s.db.execute("DELETE FROM executed WHERE unit_id = ? AND path_id = ?", row)
        assert s.collecting() == {"tests/test_named.py"}
        for damaged in ("", "[]", '{"modules": [1], "collections": ""}'):
            s.set_meta("collecting", damaged)
            assert s.collecting() is None
        s.set_meta("collecting", said)
        with s.transaction():
            s.db.execute("DELETE FROM meta WHERE key = 'collecting'")
        assert s.collecting() is None
    finally:
        s.close()
    project.stage("pkg/a.py", A.replace("return x * 2", "return 2 * x"))
    before = collections()
    doc = check_json(project)
    assert doc["tests_run"] == ["tests/test_b.py::test_double"]
    assert all(a != b for a, b in zip(collections(), before, strict=True))
    # An edit no test runs: no test process, nothing imported or collected.
    project.stage("pkg/lib.py", LIB + "\n\ndef unused():\n    return 1\n")
    project.commit("unused")
    check_json(project)
    project.stage("pkg/lib.py", LIB + "\n\ndef unused():\n    return 2\n")
    before, logged = collections(), imported.read_text()
    doc = check_json(project)
    assert doc["mode"] == "selected", doc["why"]
    assert doc["tests_run"] == []
    assert (collections(), imported.read_text()) == (before, logged)
    assert numbers(
        measure.run(in_place(project.root, load_config(project.root)), select=True)
    ) == full_numbers(project.root)
    # Its import fails now: the run says so, as a full run's collection would.
    (project.root.parent / "broken").write_text("")
    project.stage("pkg/a.py", A.replace("return x * 2", "return x * 2 + 0"))
    failed = project.ratchet("check")
    assert failed.code == errors.TEST_RUN_FAILED, failed.out
    assert "cannot import" in failed.err, failed.err


def test_a_body_edit_in_a_module_starting_with_a_comment_is_selected(project: Project) -> None:
    """Branch data name the module's entry by line 1 whatever is there; that
    is not a changed line, so the module's import need not run again."""
    project.write("pyproject.toml", pyproject(branch=True))
    project.write("pkg/lic.py", LICENSED)
    project.write("tests/conftest.py", "from pkg import lic  # imported for the session\n")
    project.write("tests/test_f.py", "from pkg import lic\n\n\ndef test_f():\n"
                  "    assert lic.f(1) == 1\n")  # fmt: skip
    project.write("tests/test_g.py", "from pkg import lic\n\n\ndef test_g():\n"
                  "    assert lic.g(2) == 4\n")  # fmt: skip
    project.commit("licensed")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    edited = LICENSED.replace("    return x * 2\n", "    y = x\n    return y * 2\n")
    project.stage("pkg/lic.py", edited)
    doc = check_json(project)
    assert doc["mode"] == "selected", doc["why"]
    assert doc["tests_run"] == ["tests/test_g.py::test_g"]
    assert numbers(
        measure.run(in_place(project.root, load_config(project.root)), select=True)
    ) == full_numbers(project.root)


def test_a_session_fixture_set_up_again_keeps_its_other_users(suite: Project) -> None:
    """A selected run that sets a session fixture up again records it anew;
    the tests that did not run still use it.  Deleting the module of the
    test that ran must not drop the fixture's lines: another sets it up."""
    suite.write("tests/test_e.py", "from pkg import a\n\n\ndef test_e(session_value):\n"
                "    assert a.small(5) == 'big'\n")  # fmt: skip
    suite.commit("test_e uses the session fixture")
    check_json(suite, "--full")
    # small() changes: test_small and test_e run (the fixture is set up
    # again for test_e); test_double, its other user, does not.
    suite.stage("pkg/a.py", A.replace('        return "big"', '        return "b" + "ig"'))
    doc = check_json(suite)
    assert doc["mode"] == "selected", doc["why"]
    assert "tests/test_e.py::test_e" in doc["tests_run"]  # type: ignore[operator]
    assert "tests/test_a.py::test_double" not in doc["tests_run"]  # type: ignore[operator]
    suite.commit("small")
    suite.git("rm", "-q", "tests/test_e.py")
    doc = check_json(suite)
    assert doc["mode"] == "selected", doc["why"]
    assert numbers(
        measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    ) == full_numbers(suite.root)


MODES = """\
def setup(mode):
    if mode == "a":
        one = 1
        return one
    return 2
"""
HOOK = """\
def pytest_collection_modifyitems(items):
    if any(item.name == "test_slow" for item in items):
        from pkg import modes

        with open("data/mode.txt") as f:
            modes.setup(f.read().strip())
"""


def test_what_the_session_opened_is_kept_when_a_selected_run_does_not_open_it(
    project: Project,
) -> None:
    """The session is not run again whole in a selected run: a file it read
    in the full run (here only when test_slow is collected) is still its
    input, as its lines and imports are."""
    project.write("pyproject.toml", pyproject(branch=True))
    project.write("pkg/modes.py", MODES)
    project.write("data/mode.txt", "a\n")
    project.write("tests/conftest.py", HOOK)
    project.write("tests/test_slow.py", "def test_slow():\n    assert True\n")
    project.write("tests/test_fast.py", "def test_fast():\n    assert 1 + 1 == 2\n")
    project.commit("a session hook reads a file")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    project.stage("tests/test_fast.py", "def test_fast():\n    assert 2 + 2 == 4\n")
    doc = check_json(project)
    assert doc["tests_run"] == ["tests/test_fast.py::test_fast"], doc["why"]
    project.commit("fast")
    project.stage("data/mode.txt", "b\n")
    assert numbers(
        measure.run(in_place(project.root, load_config(project.root)), select=True)
    ) == full_numbers(project.root)


@pytest.mark.skipif(COVERAGE < (7, 10), reason="the scenario needs test_cli's child measured")
def test_deleting_the_only_importer_of_an_active_module(suite: Project) -> None:
    """pkg/c.py's import is active (it runs cli() under __main__), so a
    selected run imports it first, as a full run would.  Once test_b.py, its
    only importer, is deleted, a full run no longer imports it: nor may a
    selected run, or c.py's import-time arcs stay counted."""
    suite.git("rm", "-q", "tests/test_b.py")
    doc = check_json(suite)
    assert doc["mode"] == "selected", doc["why"]
    assert numbers(
        measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    ) == full_numbers(suite.root)


def test_a_module_whose_import_fails_in_every_run_does_not_stop_selection(
    project: Project,
) -> None:
    """A Windows-only module behind ``try: ... except ImportError`` fails to
    import in a full run too; a module importing it again is "active" (it
    runs the other module's lines).  Preloaded, its import fails alike: the
    run stays selected and exact."""
    project.write("pyproject.toml", pyproject(branch=True))
    project.write("pkg/__init__.py", "")
    project.write("pkg/a.py", A)
    project.write("pkg/win.py", "import os\nSEP = os.sep\nimport winreg_not_here\n")
    project.write("pkg/tz.py", "try:\n    from pkg import win\nexcept ImportError:\n"
                  "    win = None\n\n\ndef zone():\n    return 'UTC'\n")  # fmt: skip
    project.write("pkg/alias.py", "from pkg.win import *  # noqa\n")
    project.write("tests/conftest.py", "from pkg import tz  # noqa\n")
    project.write("tests/test_a.py", "from pkg import a\n\n\ndef test_small():\n"
                  "    assert a.small(5) == 'big'\n\n\ndef test_double():\n"
                  "    assert a.double(2) == 4\n")  # fmt: skip
    project.write("tests/test_alias.py", "from pkg import a\n\n\ndef test_alias():\n"
                  "    try:\n        import pkg.alias  # noqa\n    except ImportError:\n"
                  "        pass\n    assert a.double(1) == 2\n")  # fmt: skip
    project.write("tests/test_zz.py", "def test_zone():\n    from pkg import tz\n"
                  "    assert tz.zone() == 'UTC'\n")  # fmt: skip
    project.git("rm", "-q", "tests/test_mod.py")
    project.commit("windows only")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    s = store.open_store(project.root / ".git")
    try:
        active = s.active()
    finally:
        s.close()
    assert "pkg/alias.py" in active  # Its import ran win.py's lines again.
    project.stage("pkg/a.py", A.replace("return x * 2", "return x + x"))
    doc = check_json(project)
    assert doc["mode"] == "selected", doc["why"]
    # test_alias runs again, and tries the import again: still its importer.
    assert doc["tests_run"] == ["tests/test_a.py::test_double", "tests/test_alias.py::test_alias"]
    assert numbers(
        measure.run(in_place(project.root, load_config(project.root)), select=True)
    ) == full_numbers(project.root)
    project.commit("double")
    # The module now imports: its import-time code changed, so everything runs.
    project.stage("pkg/win.py", "import os\nSEP = os.sep\n")
    doc = check_json(project)
    assert doc["mode"] == "full", doc["why"]
    assert "import-time code changed" in doc["why"]  # type: ignore[operator]
    assert numbers(
        measure.run(in_place(project.root, load_config(project.root)), select=True)
    ) == full_numbers(project.root)


def test_a_test_added_to_a_module_that_had_none_runs(suite: Project) -> None:
    """A test module whose last test was deleted is still a test module: a
    test added to it later is new, and runs."""
    suite.stage("tests/test_d.py", "import pytest\n")
    assert check_json(suite)["mode"] == "selected"
    suite.commit("test_d has no test")
    suite.stage("tests/test_d.py", "from pkg import a\n\n\ndef test_new():\n"
                "    assert a.double(3) == 6\n")  # fmt: skip
    doc = check_json(suite)
    assert doc["mode"] == "selected", doc["why"]
    # (Before coverage.py 7.10 test_cli's unmeasured child makes it always run.)
    assert sorted(doc["tests_run"]) == [*UNSEEN_CHILD, "tests/test_d.py::test_new"]  # type: ignore[call-overload]
    assert numbers(
        measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    ) == full_numbers(suite.root)


@pytest.mark.skipif(COVERAGE < (7, 10), reason="the scenario needs test_cli's child measured")
def test_an_active_module_no_longer_imported_makes_the_selected_run_give_way(
    suite: Project,
) -> None:
    """b.py stops importing c.py: the plan cannot know that before the run,
    so the run imports c.py first, sees that nothing imports it now, and
    gives way to a full run."""
    suite.stage("pkg/b.py", 'def shout(x):\n    return ("YES" if x else "NO") + "!"\n')
    doc = check_json(suite)
    assert doc["mode"] == "full"
    assert "pkg/c.py was imported first, but nothing a full run runs imports it" in str(doc["why"])
    assert numbers(
        measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    ) == full_numbers(suite.root)


ZONES = """\
_CACHE = []


def load():
    return {"v": 1}


def get():
    if len(_CACHE) == 0:
        _CACHE.append(load())
    return _CACHE[0]


def meta():
    if len(_CACHE) == 0:
        _CACHE.append(load())
    return _CACHE[0]["v"]
"""


def test_a_test_that_finds_a_cache_other_tests_filled_is_not_judged_alone(
    project: Project,
) -> None:
    """In a full run test_get fills the module's cache first, so test_meta
    finds it filled.  Run alone after an edit of meta(), test_meta fills it
    itself and runs lines a full run does not: the selected run sees that
    the test changed that state unlike in the full run, and gives way."""
    project.write("pyproject.toml", pyproject(branch=True))
    project.write("pkg/zones.py", ZONES)
    project.write("tests/test_a_get.py", "from pkg import zones\n\n\ndef test_get():\n"
                  "    assert zones.get() == {'v': 1}\n")  # fmt: skip
    project.write("tests/test_b_meta.py", "from pkg import zones\n\n\ndef test_meta():\n"
                  "    assert zones.meta() == 1\n")  # fmt: skip
    project.git("rm", "-q", "tests/test_mod.py")
    project.commit("a cache")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    edited = ZONES.replace("def meta():\n", "def meta():\n    pass\n")
    project.stage("pkg/zones.py", edited)
    doc = check_json(project)
    assert doc["mode"] == "full", doc["why"]
    assert "tests/test_b_meta.py::test_meta changed state in pkg/zones.py (meta)" in str(
        doc["why"]
    )
    assert numbers(
        measure.run(in_place(project.root, load_config(project.root)), select=True)
    ) == full_numbers(project.root)
    # An edit that leaves the cache alone is selected as before.
    project.commit("meta")
    project.stage("pkg/zones.py", edited.replace("def load():\n", "def load():\n    pass\n"))
    doc = check_json(project)
    assert doc["mode"] == "selected", doc["why"]
    assert doc["tests_run"] == ["tests/test_a_get.py::test_get"]
    assert numbers(
        measure.run(in_place(project.root, load_config(project.root)), select=True)
    ) == full_numbers(project.root)
    # A new test that fills the cache: nothing to compare it with.
    project.commit("load")
    project.write("tests/test_c_new.py", "from pkg import zones\n\n\ndef test_new():\n"
                  "    assert zones.get() == {'v': 1}\n")  # fmt: skip
    project.git("add", "tests/test_c_new.py")
    doc = check_json(project)
    assert doc["mode"] == "full", doc["why"]
    assert "tests/test_c_new.py::test_new is new and changes state" in str(doc["why"])


FIRST_LINE = """\
import os

MODE = os.environ.get("NO_SUCH_VARIABLE_HERE")


def f(x):
    return x + 1


if MODE:
    VALUE = 1
"""


def test_a_line_added_above_a_modules_first_statement_keeps_its_entry_and_exit_arcs(
    project: Project,
) -> None:
    """A module's code object starts at line 1 whatever moves: its entry and
    exit arcs name line 1 (as -1) in both texts, not where line 1's
    statement went."""
    project.write("pyproject.toml", pyproject(branch=True))
    project.write("pkg/first.py", FIRST_LINE)
    project.write("tests/test_f.py", "from pkg import first\n\n\ndef test_f():\n"
                  "    assert first.f(1) == 2\n")  # fmt: skip
    project.write("tests/test_g.py", "def test_g():\n    assert True\n")
    project.git("rm", "-q", "tests/test_mod.py")
    project.commit("first line")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    project.stage("pkg/first.py", "# a comment above it all\n" + FIRST_LINE)
    doc = check_json(project)
    assert doc["mode"] == "selected", doc["why"]
    assert doc["tests_run"] == []
    assert numbers(
        measure.run(in_place(project.root, load_config(project.root)), select=True)
    ) == full_numbers(project.root)


def test_a_line_added_above_a_function_on_line_one_is_measured_exactly(
    project: Project,
) -> None:
    """A def on line 1: its code starts at line 1 too, so an arc naming
    line 1 may be the module's or the function's; exact either way."""
    project.write("pyproject.toml", pyproject(branch=True))
    project.write("pkg/first.py", "def f(x):\n    if x:\n        return 1\n    return 2\n")
    project.write("tests/test_f.py", "from pkg import first\n\n\ndef test_f():\n"
                  "    assert first.f(1) == 1\n")  # fmt: skip
    project.write("tests/test_g.py", "def test_g():\n    assert True\n")
    project.git("rm", "-q", "tests/test_mod.py")
    project.commit("a def on line 1")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    project.stage("pkg/first.py", "# a comment\ndef f(x):\n    if x:\n        return 1\n"
                  "    return 2\n")  # fmt: skip
    check_json(project)
    assert numbers(
        measure.run(in_place(project.root, load_config(project.root)), select=True)
    ) == full_numbers(project.root)


REGISTRY = """\
_REG = {}


def register(name, value):
    if name in _REG:
        _REG[name].append(value)
    else:
        _REG[name] = [value]


def triple(x):
    return x * 3
"""


def test_a_test_that_registers_unlike_the_full_run_is_accepted_when_others_run_the_same(
    project: Project,
) -> None:
    """test_three registers a name test_one registered first in a full run;
    alone it takes the other branch.  Both branches are run by tests that
    did not run again, so the numbers cannot differ: the run stays selected
    and exact.  Were test_two gone, its branch would rest on test_three
    alone, and a full run decides."""
    project.write("pyproject.toml", pyproject(branch=True))
    project.write("pkg/registry.py", REGISTRY)
    for name in ("one", "two", "three"):
        body = f"    registry.register('A', '{name}')\n"
        if name == "three":
            body += "    assert registry.triple(1) == 3\n"
        project.write(
            f"tests/test_{name}.py", f"from pkg import registry\n\n\ndef test_{name}():\n{body}"
        )
    others = "".join(f"def test_{n}():\n    pass\n\n\n" for n in "abcd")
    project.write("tests/test_other.py", others)
    project.git("rm", "-q", "tests/test_mod.py")
    project.commit("a registry")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    edited = REGISTRY.replace("def triple(x):\n", "def triple(x):\n    pass\n")
    project.stage("pkg/registry.py", edited)
    doc = check_json(project)
    assert doc["mode"] == "selected", doc["why"]
    assert doc["tests_run"] == ["tests/test_three.py::test_three"]
    assert numbers(
        measure.run(in_place(project.root, load_config(project.root)), select=True)
    ) == full_numbers(project.root)
    project.commit("triple")
    project.git("rm", "-q", "tests/test_two.py")
    project.stage("pkg/registry.py", edited.replace("    pass\n", "    pass\n    pass\n"))
    doc = check_json(project)
    assert doc["mode"] == "full", doc["why"]
    assert "tests/test_three.py::test_three changed state in pkg/registry.py" in str(doc["why"])
    assert numbers(
        measure.run(in_place(project.root, load_config(project.root)), select=True)
    ) == full_numbers(project.root)


# -- the test process started while the plan is made --------------------------------------


def _spawned(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """The test processes ratchet starts from now on (they still start)."""
    from ratchet import runner

    started: list[subprocess.Popen[bytes]] = []
    spawn = runner.spawn_in_group

    def watched(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = spawn(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(runner, "spawn_in_group", watched)
    return started


def _group_gone(proc: subprocess.Popen[bytes]) -> bool:
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_check_that_runs_no_test_stops_the_test_process_it_started(
    suite: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.stage("pkg/b.py", neutral(1))
    assert check_json(suite)["mode"] == "selected"
    started = _spawned(monkeypatch)
    # The same content again: nothing to run, and the process started early is stopped.
    m = measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    assert m.why == "nothing changed since the last run"
    assert len(started) == 1
    assert started[0].returncode is not None
    assert _group_gone(started[0])


def test_an_interrupt_while_the_map_is_opened_stops_the_test_process_started_early(
    suite: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ratchet.selection import session

    suite.stage("pkg/b.py", neutral(1))
    started = _spawned(monkeypatch)

    def interrupted(git_dir: Path) -> None:
        raise KeyboardInterrupt  # Ctrl-C, as the map is being opened.

    monkeypatch.setattr(session, "open_store", interrupted)
    with pytest.raises(KeyboardInterrupt):
        measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    assert len(started) == 1  # Started before the map was opened ...
    assert started[0].returncode is not None  # ... and stopped, not left waiting.
    assert _group_gone(started[0])


def test_a_run_started_early_is_timed_without_its_wait_for_the_plan(
    suite: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ratchet.selection import plan

    suite.stage("pkg/b.py", B.replace('+ "!"', '+ "!" if x else "NO!"'))
    decide = plan.Planner.decide

    def slow(self: plan.Planner) -> plan.Plan:
        time.sleep(5)  # The test process, started first, waits for the plan.
        return decide(self)

    monkeypatch.setattr(plan.Planner, "decide", slow)
    started = time.perf_counter()
    m = measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    wall = time.perf_counter() - started
    assert m.mode == RunMode.SELECTED
    found = re.search(r"\(([\d.]+) s\)$", m.how)
    assert found is not None, m.how
    # The run's time is its start-up and its tests: the wait was ratchet's.
    assert float(found.group(1)) < wall - 3


def test_with_early_start_off_a_check_that_runs_no_test_starts_no_test_process(
    suite: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A conftest.py with an effect when imported, as one that starts a service.
    imports = tmp_path / "conftest-imports.txt"
    effect = f"\nwith open({str(imports)!r}, 'a') as _f:\n    _f.write('imported\\n')\n"
    config = suite.read("pyproject.toml").replace(
        "[tool.ratchet]\n", "[tool.ratchet]\nearly-start = false\n"
    )
    suite.write("pyproject.toml", config)
    suite.stage("tests/conftest.py", CONFTEST + effect)
    assert check_json(suite)["mode"] == "full"
    suite.commit()
    assert not load_config(suite.root).early_start
    suite.stage("pkg/b.py", B.replace('+ "!"', '+ "!" if x else "NO!"'))
    started = _spawned(monkeypatch)
    doc = check_json(suite)
    assert doc["mode"] == "selected"
    assert doc["tests_run"]
    assert len(started) == 1  # Started once the plan needed it.
    seen = imports.read_text()
    # The same content again: the plan needs no run, and no process starts.
    m = measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    assert m.why == "nothing changed since the last run"
    assert len(started) == 1
    assert imports.read_text() == seen


def test_an_early_test_process_whose_go_never_comes_ends_without_running(
    suite: Project, tmp_path: Path
) -> None:
    from ratchet.selection.session import Session

    session = Session(in_place(suite.root, load_config(suite.root)), tmp_path)
    session.start()
    pending = session.pending
    assert pending is not None
    try:
        os.close(pending.write)  # As when ratchet is killed: the pipe closes, no go.
        code = pending.started.proc.wait(timeout=120)
    finally:
        session.pending = None
        pending.started.abandon()
        session.close()
    assert code == 0
    assert not list(pending.outdir.glob("map-*.json"))  # Nothing recorded, nothing ran.
    assert "this test run is not needed" in pending.started.log.read_text()
    assert "passed" not in pending.started.log.read_text()


def test_a_full_run_the_plan_decides_on_takes_the_early_process_with_every_test(
    suite: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.stage("tests/conftest.py", CONFTEST + "\nVALUE = 1\n")
    started = _spawned(monkeypatch)
    m = measure.run(in_place(suite.root, load_config(suite.root)), select=True)
    assert m.mode is RunMode.FULL, m.why
    assert len(started) == 1  # The early process ran the whole suite.
    assert numbers(m) == full_numbers(suite.root)


def test_a_broken_baseline_found_while_the_tests_run_stops_them(
    suite: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = suite.read("coverage-baseline.toml")
    suite.stage("coverage-baseline.toml", text.replace("statements = ", "statements = = ", 1))
    suite.stage("pkg/b.py", B.replace('+ "!"', '+ "!" if x else "NO!"'))
    before = suite.state()
    started = _spawned(monkeypatch)
    result = suite.ratchet("check")
    assert result.code == errors.USAGE
    assert result.err.startswith("ratchet: error: coverage-baseline.toml:")
    assert "not valid TOML" in result.err
    assert len(started) == 1
    assert started[0].returncode is not None
    assert _group_gone(started[0])
    assert suite.state() == before


def test_a_test_process_that_cannot_start_is_an_error_and_leaves_nothing_open(
    suite: Project, tmp_path: Path
) -> None:
    from dataclasses import replace

    from ratchet.selection.session import run_pytest

    ws = replace(in_place(suite.root, load_config(suite.root)), python=tmp_path / "no-python")
    descriptors = set(os.listdir("/proc/self/fd"))
    with pytest.raises(errors.TestRunFailed, match="could not start the test run"):
        run_pytest(ws, tmp_path / "work", select=True, full_reason="")
    assert set(os.listdir("/proc/self/fd")) == descriptors  # The pipe and the log closed.


def test_confirm_after_a_selected_run_repeats_the_tests_it_ran(suite: Project) -> None:
    # A branch no test takes: b.py's coverage drops, in the same way both times.
    suite.stage(
        "pkg/b.py",
        B.replace("def shout(x):\n", "def shout(x):\n    if x is None:\n        return '?'\n"),
    )
    doc = check_json(suite, "--confirm")
    assert doc["mode"] == "selected", doc["why"]
    assert doc["passed"] is False
    (verdict,) = [f for f in doc["files"] if f["path"] == "pkg/b.py"]  # type: ignore[attr-defined]
    assert verdict["blocking"] is True
    assert len(verdict["runs"]) == 2
    assert verdict["runs"][0] == verdict["runs"][1]  # Confirmed: the same numbers twice.


# The test process tells ratchet when its map is written, and ratchet composes
# while it ends; these hooks make it end badly, or write more, after that.
LATE = """

def pytest_unconfigure(config):
    import glob
    import os
    import shutil
    import time

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.environ.get("RATCHET_TESTMAP_OUT")
    late = [n for n in ("late-fail", "late-more") if os.path.exists(os.path.join(here, n))]
    if out and late:
        time.sleep(1)  # Long enough for ratchet to have composed from the map.
    if "late-fail" in late:
        os._exit(3)
    if out and "late-more" in late:
        for path in glob.glob(os.path.join(out, "map-main-*.json")):
            shutil.copy(path, path.replace("map-main-", "map-more-"))
"""


@pytest.fixture
def late_suite(project: Project) -> Project:
    """:func:`suite`, whose conftest can fail, or write more, after the map."""
    return _suite(project, conftest=CONFTEST + LATE, cli=False)


def _map_dump(p: Project) -> list[str]:
    import sqlite3

    db = sqlite3.connect(p.root / ".git" / "ratchet" / "testmap.db")
    try:
        return list(db.iterdump())
    finally:
        db.close()


def test_a_test_process_that_fails_after_its_map_is_written_fails_the_check(
    late_suite: Project,
) -> None:
    """Composed early, written only once the exit code is known: nothing of
    the failed run reaches the map."""
    before = _map_dump(late_suite)
    late_suite.stage("pkg/b.py", B.replace('+ "!"', '+ "!" if x else "NO!"'))
    (late_suite.root / "late-fail").write_text("")
    result = late_suite.ratchet("check")
    assert result.code == errors.TEST_RUN_FAILED, result.out + result.err
    assert "failed (exit 3)" in result.err
    assert _map_dump(late_suite) == before
    (late_suite.root / "late-fail").unlink()
    doc = check_json(late_suite)
    assert doc["mode"] == "selected", doc["why"]
    assert sorted(doc["tests_run"]) == [  # type: ignore[call-overload]
        "tests/test_b.py::test_shout",
        "tests/test_b.py::test_shout_no",
    ]
    m = measure.run(in_place(late_suite.root, load_config(late_suite.root)), select=True)
    assert numbers(m) == full_numbers(late_suite.root)


def test_outputs_written_after_the_word_are_not_merged_unread(late_suite: Project) -> None:
    """What was composed early is used only if the outputs are still all
    there is at the exit; else the check measures everything."""
    late_suite.stage("pkg/b.py", B.replace('+ "!"', '+ "!" if x else "NO!"'))
    (late_suite.root / "late-more").write_text("")
    doc = check_json(late_suite)
    assert doc["mode"] == "full", doc["why"]
    assert "its outputs changed after it said they were written" in str(doc["why"])
    m = measure.run(in_place(late_suite.root, load_config(late_suite.root)), select=True)
    assert numbers(m) == full_numbers(late_suite.root)


@pytest.mark.parametrize(
    ("worker", "keep_data", "said"),
    [(None, False, b"done\n"), ("gw0", False, b""), (None, True, b"")],
)
def test_the_test_process_says_done_only_when_all_ratchet_reads_is_written(
    worker: str | None, keep_data: bool, said: bytes
) -> None:
    """Only the main process of a run that saves no data file says it: a
    worker's word would come before the others' maps, and a data file is
    saved at the exit.  The descriptor is closed either way."""
    from ratchet.selection.plugin import tell_done

    read, write = os.pipe()
    tell_done(write, worker=worker, keep_data=keep_data)
    assert os.read(read, 10) == said
    assert os.read(read, 10) == b""  # Closed: the end of the pipe.
    os.close(read)
    tell_done(None, worker=None, keep_data=False)  # No descriptor: nothing to say.
