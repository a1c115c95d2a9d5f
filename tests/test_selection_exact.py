"""Shapes in which a selected check once passed what a full run refuses.

Each commit is checked twice on the same staged tree: ``ratchet check`` (the
selection) and ``ratchet check --full``.  Exit code, verdict and every file's
numbers must agree; and the full run must refuse, or the shape tests nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ratchet import errors
from ratchet.selection.store import open_store
from testing.project import Project, pyproject

# Every file is in a tier with a target, so a statement added to a 0% file
# (its gap grows) is refused, as a drop is.
TIERS = """\
select-max-share = 1.0
watch = ["data/**", "flags/*"]

[[tool.ratchet.tiers]]
name = "Tier 1"
min-statements = 1
below-percent = 100
target = 90
"""


def judged(doc: dict[str, object]) -> dict[str, tuple[object, object]]:
    files = doc["files"]
    assert isinstance(files, list)
    return {f["path"]: (f["verdict"], f["current"]) for f in files}


def both_ways(p: Project) -> dict[str, object]:
    """Check the staged tree selected, then in full; they must agree."""
    selected = p.ratchet("check", "--format", "json")
    full = p.ratchet("check", "--full", "--format", "json")
    assert full.code == errors.BLOCKED, full.out  # The shape must matter.
    assert selected.code == full.code, (selected.out, full.out)
    s: dict[str, object] = json.loads(selected.out)
    f: dict[str, object] = json.loads(full.out)
    assert s["passed"] == f["passed"]
    assert judged(s) == judged(f)
    return s


@pytest.fixture
def start(project: Project) -> Project:
    project.write("pyproject.toml", pyproject(TIERS, branch=True))
    project.git("rm", "-q", "tests/test_mod.py")
    return project


def baselined(p: Project) -> None:
    p.commit("start")
    init = p.ratchet("init")
    assert init.code == errors.PASSED, init.err
    p.commit("baseline")


def test_an_edited_file_no_test_imports_is_measured_again(
    start: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start.write("pkg/orphan.py", "def lonely(x):\n    return x\n")
    start.write(
        "tests/test_other.py",
        "from pkg import mod\n\n\ndef test_add():\n    assert mod.add(1, 2) == 3\n",
    )
    # Each test session leaves a mark outside the repository.
    start.write(
        "tests/conftest.py",
        "import os\n\n\ndef pytest_sessionstart(session):\n"
        "    with open(os.environ['SESSIONS'], 'a') as f:\n        f.write('.')\n",
    )
    sessions = tmp_path / "sessions"
    monkeypatch.setenv("SESSIONS", str(sessions))
    baselined(start)
    start.stage("pkg/orphan.py", "def lonely(x):\n    y = x + 1\n    z = y * 2\n    return z\n")
    sessions.write_text("")
    doc = both_ways(start)
    assert sessions.read_text() == "."  # Only the full run started a test process.
    assert judged(doc)["pkg/orphan.py"][0] == "gap-grew"
    assert doc["why"] == "ran 0 of 1 tests: 1 file(s) changed since the last run, 1 measured again"


def test_a_broken_baseline_with_an_edit_no_test_runs_is_the_error(start: Project) -> None:
    """With no test process to start, what is read while tests run is read
    while the composer starts, before the merge: its error is still the
    check's error, and the map is left as it was, as when tests run."""
    start.write("pkg/orphan.py", "def lonely(x):\n    return x\n")
    start.write(
        "tests/test_other.py",
        "from pkg import mod\n\n\ndef test_add():\n    assert mod.add(1, 2) == 3\n",
    )
    baselined(start)
    text = start.read("coverage-baseline.toml")
    start.stage("coverage-baseline.toml", text.replace("statements = ", "statements = = ", 1))
    start.stage("pkg/orphan.py", "def lonely(x):\n    y = x\n    return y\n")
    before = start.state()
    result = start.ratchet("check")
    assert result.code == errors.USAGE, result.out
    assert result.err.startswith("ratchet: error: coverage-baseline.toml:")
    assert "not valid TOML" in result.err
    assert start.state() == before
    # The map did not take the edit: the next check merges it, and is right.
    start.stage("coverage-baseline.toml", text)
    selected = json.loads(start.ratchet("check", "--format", "json").out)
    assert selected["why"].startswith("ran 0 of 1 tests: 1 file(s) changed"), selected["why"]
    full = json.loads(start.ratchet("check", "--full", "--format", "json").out)
    assert judged(selected) == judged(full)


def test_edited_files_no_test_imports_are_found_as_a_full_run_finds_them(
    start: Project,
) -> None:
    # A full run's save finds unexecuted files by walking the source folder:
    # a package's module is found, a module in a folder without __init__.py
    # is not.  The selected run walks only the folders leading to the edited
    # files, and must find the same.
    start.write("pkg/sub/__init__.py", "")
    start.write("pkg/sub/deep/__init__.py", "")
    start.write("pkg/sub/deep/orphan.py", "def lonely(x):\n    return x\n")
    start.write("pkg/loose/orphan.py", "def lonely(x):\n    return x\n")
    start.write("pkg/other/__init__.py", "")
    start.write("pkg/other/bystander.py", "def idle(x):\n    return x\n")
    start.write(
        "tests/test_other.py",
        "from pkg import mod\n\n\ndef test_add():\n    assert mod.add(1, 2) == 3\n",
    )
    baselined(start)
    body = "def lonely(x):\n    y = x + 1\n    return y\n"
    start.write("pkg/loose/orphan.py", body)
    start.stage("pkg/sub/deep/orphan.py", body)
    doc = both_ways(start)
    verdicts = judged(doc)
    assert verdicts["pkg/sub/deep/orphan.py"][0] == "gap-grew"
    assert "pkg/loose/orphan.py" not in verdicts
    assert verdicts["pkg/other/bystander.py"][0] == "same"


def test_code_that_ran_at_collection_and_stops_is_judged(start: Project) -> None:
    start.write(
        "pkg/cases.py", "def make_cases():\n    out = [1, 2]\n    out.append(3)\n    return out\n"
    )
    start.write(
        "tests/test_cases.py",
        "from pkg import cases, mod\n\nCASES = cases.make_cases()\n\n\n"
        "def test_add():\n    assert mod.add(1, 2) == 3\n",
    )
    baselined(start)
    start.stage(
        "tests/test_cases.py",
        "from pkg import cases, mod\n\n\ndef test_add():\n    assert mod.add(1, 2) == 3\n",
    )
    doc = both_ways(start)
    assert judged(doc)["pkg/cases.py"][0] == "dropped"
    # A call at module level may change anything: the safe rule.
    assert doc["why"] == (
        "tests/test_cases.py: its module-level code changed, and it sets state other tests can see"
    )


def test_deleting_the_only_test_module_that_imports_a_file_is_judged(start: Project) -> None:
    start.write("pkg/consts.py", "LIMIT = 3\nNAMES = ('a', 'b')\n")
    start.write(
        "tests/test_consts.py",
        "from pkg import consts\n\n\ndef test_limit():\n    assert consts.LIMIT == 3\n",
    )
    start.write(
        "tests/test_other.py",
        "from pkg import mod\n\n\ndef test_add():\n    assert mod.add(1, 2) == 3\n",
    )
    baselined(start)
    start.git("rm", "-q", "tests/test_consts.py")
    doc = both_ways(start)
    assert judged(doc)["pkg/consts.py"][0] == "dropped"
    assert doc["mode"] == "selected"


POLICY = """\
MODE = {"value": "lax"}


def decide(x):
    if MODE["value"] == "strict":
        y = x * 2
        y += 1
        return y
    return x
"""


def test_state_a_test_module_sets_at_import_is_seen_by_the_others(start: Project) -> None:
    start.write("pkg/policy.py", POLICY)
    start.write(
        "tests/test_aaa_setter.py",
        "from pkg import policy\n\npolicy.MODE['value'] = 'strict'\n\n\n"
        "def test_mode():\n    assert policy.MODE\n",
    )
    start.write(
        "tests/test_policy.py",
        "from pkg import policy\n\n\ndef test_decide():\n    assert policy.decide(1) >= 1\n",
    )
    baselined(start)
    start.stage(
        "tests/test_aaa_setter.py",
        "from pkg import policy\n\n\ndef test_mode():\n    assert policy.MODE\n",
    )
    doc = both_ways(start)
    assert judged(doc)["pkg/policy.py"][0] == "dropped"
    assert str(doc["why"]).endswith("it sets state other tests can see")


LOADER = """\
import pathlib

TABLE = pathlib.Path("data/table.txt").read_text().split()


def lookup(key):
    if key in TABLE:
        found = TABLE.index(key)
        found += 1
        return found
    return 0
"""


def test_a_data_file_read_at_an_import_inside_a_test_reruns_its_users(start: Project) -> None:
    start.write("pkg/loader.py", LOADER)
    start.write("data/table.txt", "x y z\n")
    start.write(
        "tests/test_a_load.py",
        "def test_load():\n    from pkg import loader\n\n    assert loader.TABLE\n",
    )
    start.write(
        "tests/test_b_lookup.py",
        "def test_lookup():\n    from pkg import loader\n\n    assert loader.lookup('x') >= 0\n",
    )
    baselined(start)
    start.stage("data/table.txt", "y z\n")
    doc = both_ways(start)
    assert judged(doc)["pkg/loader.py"][0] == "dropped"
    # Both tests use what the import read: both run again.
    assert doc["why"] == "ran 2 of 2 tests: 1 file(s) changed since the last run, 1 measured again"


def test_a_python_file_a_test_reads_as_text_reruns_that_test(start: Project) -> None:
    # A sample a code generator or a linter is tested on: Python, never
    # imported, and what the test reads decides what it runs.
    start.write("pkg/loader.py", LOADER)
    start.write("data/table.txt", "x y z\n")
    start.write("tests/samples/sample.py", "x = 1\n")
    start.write(
        "tests/test_sample.py",
        "from pathlib import Path\n\nfrom pkg import loader\n\n\n"
        "def test_sample():\n"
        "    text = (Path(__file__).parent / 'samples' / 'sample.py').read_text()\n"
        "    assert loader.lookup(text.split()[0]) >= 0\n",
    )
    start.write("tests/test_other.py", "def test_other():\n    assert True\n")
    baselined(start)
    start.stage("tests/samples/sample.py", "w = 1\n")
    doc = both_ways(start)
    assert judged(doc)["pkg/loader.py"][0] == "dropped"
    assert doc["why"] == "ran 1 of 2 tests: 1 file(s) changed since the last run, 2 measured again"


FEATURE = """\
import os


def enabled():
    return os.path.exists("flags/on")


def run(x):
    if enabled():
        y = x + 1
        y *= 2
        return y
    return x
"""


def test_a_watched_flag_file_checked_without_opening_it(start: Project) -> None:
    start.write("pkg/feature.py", FEATURE)
    start.write("flags/on", "")
    start.write(
        "tests/test_feature.py",
        "from pkg import feature\n\n\ndef test_run():\n    assert feature.run(1)\n",
    )
    baselined(start)
    start.git("rm", "-q", "flags/on")
    doc = both_ways(start)
    assert judged(doc)["pkg/feature.py"][0] == "dropped"
    assert doc["why"] == "flags/on: a watched file changed, and no test was seen reading it"


SHAPES = """\
import os

LIMIT = 3


class Box:
    size = 2

    def area(self):
        return self.size * LIMIT


def width(x):
    if x > LIMIT:
        return x
    return LIMIT
"""


def test_a_function_a_method_or_an_import_added_runs_no_test_and_stays_exact(
    start: Project,
) -> None:
    start.write("pkg/shapes.py", SHAPES)
    start.write(
        "tests/test_shapes.py",
        "from pkg import shapes\n\n\ndef test_area():\n    assert shapes.Box().area() == 6\n",
    )
    start.write(
        "tests/test_other.py",
        "from pkg import mod\n\n\ndef test_add():\n    assert mod.add(1, 2) == 3\n",
    )
    baselined(start)
    added = SHAPES.replace("import os\n", "import os\nimport json\n").replace(
        "    def area(self):",
        "    def twice(self):\n        return 2 * self.size\n\n    def area(self):",
    )
    start.stage("pkg/shapes.py", added + "\n\ndef unused(y):\n    z = y + 1\n    return z\n")
    doc = both_ways(start)
    # The new def lines ran at import (covered); their bodies did not (a drop).
    assert judged(doc)["pkg/shapes.py"][0] == "dropped"
    assert doc["why"] == "ran 0 of 2 tests: 1 file(s) changed since the last run, 1 measured again"


def agree(p: Project) -> dict[str, object]:
    """Check the staged tree selected, then in full: the same exit code and
    the same verdict and numbers for every judged file."""
    selected = p.ratchet("check", "--format", "json")
    full = p.ratchet("check", "--full", "--format", "json")
    assert selected.code == full.code, (selected.out, full.out)
    s: dict[str, object] = json.loads(selected.out)
    assert judged(s) == judged(json.loads(full.out))
    return s


LAZY = """\
TABLE = {"a": 1}


def first(x):
    if x:
        return TABLE["a"]
    return 0


def second(x):
    return x * 2
"""


@pytest.mark.parametrize(
    "how",
    [
        "    from pkg import lazy\n",
        "    import importlib\n\n    lazy = importlib.import_module('pkg.lazy')\n",
    ],
)
def test_a_module_first_imported_lazily_keeps_its_import_apart(start: Project, how: str) -> None:
    """The test (or fixture) that happens to import a module first does not
    own its import-time lines: a body edit reruns only its callers."""
    start.write("pkg/lazy.py", LAZY)
    start.write(
        "tests/conftest.py",
        "import pytest\n\n\n@pytest.fixture\ndef loaded():\n" + how + "    return lazy\n",
    )
    start.write(
        "tests/test_lazy.py",
        "def test_first(loaded):\n    assert loaded.first(1) == 1\n\n\n"
        "def test_second():\n" + how + "    assert lazy.second(2) == 4\n",
    )
    baselined(start)
    start.stage("pkg/lazy.py", LAZY.replace("return x * 2", "return x + x"))
    doc = agree(start)
    assert doc["tests_run"] == ["tests/test_lazy.py::test_second"], doc["why"]
    start.commit("second")
    start.stage(
        "pkg/lazy.py",
        LAZY.replace("return x * 2", "return x + x").replace("return 0", "return -1"),
    )
    doc = agree(start)
    assert doc["tests_run"] == ["tests/test_lazy.py::test_first"], doc["why"]


def test_an_unchanged_file_whose_lines_come_to_the_same_keeps_its_numbers(
    start: Project,
) -> None:
    """A rerun test takes another path through an unchanged file, which other
    tests run whole: its numbers stand without a new analysis, and equal a
    full run's; the file a test stops running is analysed again."""
    start.write("pkg/util.py", "def pick(x):\n    if x > 0:\n        return 1\n    return 0\n")
    start.write("pkg/source.py", "def value():\n    return 1\n\n\ndef other():\n    return 2\n")
    start.write(
        "tests/test_pick.py",
        "from pkg.util import pick\n\n\ndef test_both():\n    assert pick(1) + pick(-1) == 1\n",
    )
    start.write(
        "tests/test_value.py",
        "from pkg import source, util\n\n\n"
        "def test_value():\n    assert util.pick(source.value()) in (0, 1)\n",
    )
    baselined(start)
    start.stage("pkg/source.py", "def value():\n    return -1\n\n\ndef other():\n    return 2\n")
    doc = agree(start)
    assert doc["why"] == "ran 1 of 2 tests: 1 file(s) changed since the last run, 1 measured again"
    kept = map_numbers(start)["pkg/util.py"]
    assert start.ratchet("check", "--full").code == errors.PASSED
    assert map_numbers(start)["pkg/util.py"] == kept  # As the full run has them.
    # Without the test that runs both paths, the file is analysed again.
    start.git("rm", "-q", "tests/test_pick.py")
    doc = agree(start)
    assert doc["why"] == "ran 0 of 1 tests: 1 file(s) changed since the last run, 2 measured again"
    kept = map_numbers(start)["pkg/util.py"]
    assert start.ratchet("check", "--full").code == errors.BLOCKED  # util.py dropped.
    assert map_numbers(start)["pkg/util.py"] == kept


def map_numbers(p: Project) -> dict[str, tuple[object, ...]]:
    """The numbers the test map keeps per file, and what they were computed from."""
    store = open_store(p.root / ".git")
    try:
        return {path: tuple(n) for path, n in store.numbers().items()}
    finally:
        store.close()


HELPER = "def setup():\n    x = 1\n    return x\n\n\ndef other(v):\n    return v + 1\n"


def test_lines_the_session_ran_move_with_their_file(start: Project) -> None:
    """Code the session runs (a conftest hook) in a file whose lines move: the
    map keeps the session's lines at their new numbers, so a later check that
    runs nothing composes them where they are."""
    start.write("pkg/helper.py", HELPER)
    start.write(
        "tests/conftest.py",
        "from pkg import helper\n\n\ndef pytest_sessionstart(session):\n    helper.setup()\n",
    )
    start.write(
        "tests/test_other.py",
        "from pkg import helper\n\n\ndef test_other():\n    assert helper.other(1) == 2\n",
    )
    baselined(start)
    start.stage("pkg/helper.py", "# one\n" + HELPER)
    first = start.ratchet("check", "--format", "json")
    assert json.loads(first.out)["mode"] == "selected", first.out
    start.commit("a comment")
    start.stage("pkg/helper.py", "# two\n# one\n" + HELPER)
    doc = json.loads(start.ratchet("check", "--format", "json").out)
    assert doc["mode"] == "selected", doc["why"]
    full = json.loads(start.ratchet("check", "--full", "--format", "json").out)
    assert judged(doc) == judged(full)


def test_an_import_a_test_no_longer_makes_leaves_the_map(start: Project) -> None:
    """A test that stops importing the one module only it imported: a full
    run does not import that module, so its import-time lines are not
    covered; the selection must drop the map's import of it too, not keep a
    graph it could otherwise trust without reading."""
    start.write("pkg/lazy.py", LAZY)
    start.write("pkg/other.py", "def one():\n    return 1\n")
    start.write(
        "tests/test_lazy.py",
        "from pkg import other\n\n\n"
        "def test_one():\n    from pkg import lazy\n\n    assert lazy.second(2) == 4\n\n\n"
        "def test_two():\n    assert other.one() == 1\n",
    )
    baselined(start)
    start.stage(
        "tests/test_lazy.py",
        "from pkg import other\n\n\ndef test_one():\n    assert 2 * 2 == 4\n\n\n"
        "def test_two():\n    assert other.one() == 1\n",
    )
    doc = agree(start)
    assert doc["tests_run"] == ["tests/test_lazy.py::test_one"], doc["why"]
    assert judged(doc)["pkg/lazy.py"][0] != "unchanged"  # It lost its import-time lines.
