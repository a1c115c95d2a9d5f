"""Hypothesis's pool of local constants: a dependency of the tests that draw from it.

Hypothesis reads the source of every local module for its literals.  Those
reads are not the reading unit's dependency on the whole file (which made
every edit of a dateutil module rerun the session, so the whole suite), but
the dependency of every unit that draws examples on the modules' constants.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet import errors, measure
from ratchet.config import load_config
from ratchet.measurement import Measurement
from ratchet.report import RunMode
from ratchet.selection import plugin, store
from ratchet.selection.pool import could_join, signature
from ratchet.workspace import in_place
from testing.project import Project, pyproject

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from soak_selection import full_numbers, numbers


def check_json(p: Project) -> dict[str, object]:
    result = p.ratchet("check", "--format", "json")
    assert result.code in (errors.PASSED, errors.BLOCKED), result.err
    doc: dict[str, object] = json.loads(result.out)
    return doc


# -- the signature ---------------------------------------------------------------------

BODY = """\
LIMIT = 1000


def label(x):
    \"\"\"What x is.\"\"\"
    if x > LIMIT:
        return "large"
    return f"small {x:>5}"
"""


@pytest.mark.parametrize(
    "edit",
    [
        ("    if x > LIMIT:", "    pass\n    if x > LIMIT:"),  # A statement without literals.
        ("def label(x):", "def label(y):\n    x = y"),  # Names changed.
        ("LIMIT = 1000\n", "LIMIT = 1000\nOTHER = 1000\n"),  # A literal seen again.
    ],
)
def test_edits_without_new_literals_keep_the_signature(edit: tuple[str, str]) -> None:
    assert signature(BODY.replace(*edit).encode()) == signature(BODY.encode()) is not None


@pytest.mark.parametrize(
    "edit",
    [
        ("LIMIT = 1000", "LIMIT = 1001"),
        ("LIMIT = 1000", "LIMIT = -1000"),
        ("LIMIT = 1000", "LIMIT = 1000.0"),  # Equal, but not the same literal.
        ('"large"', '"big"'),
        ('"""What x is."""', '"What x is!"'),  # A docstring is not a constant to Hypothesis.
        ('return "large"', 'return f"large"'),  # Into an f-string: Hypothesis skips those.
    ],
)
def test_a_literal_changed_or_moved_changes_the_signature(edit: tuple[str, str]) -> None:
    changed = BODY.replace(*edit)
    assert changed != BODY
    assert signature(changed.encode()) != signature(BODY.encode())


def test_what_hypothesis_cannot_keep_whole_has_no_signature() -> None:
    assert signature(b"def f(:\n") is None
    assert signature(b"X = 1\n" + b"#" * (512 * 1024)) is None
    assert signature("".join(f"X{n} = {n}\n" for n in range(1024)).encode()) is None
    assert signature("".join(f"X{n} = {n}\n" for n in range(1023)).encode()) is not None


def test_modules_that_could_join_the_pool_are_not_test_files() -> None:
    assert could_join("src/pkg/mod.py")
    assert could_join("pkg/testing.py")
    assert not could_join("tests/helpers.py")
    assert not could_join("pkg/test/helpers.py")
    assert not could_join("pkg/test_mod.py")
    assert not could_join("pkg/mod_test.py")
    assert not could_join("pkg/data.json")


# Snippets of module code, each with literals in one kind of place.
_PLACES = [
    "A = {v}",
    "B = -{v}",
    "C = +{v}",
    "D = f'{{x}}' + str({v})",
    "E = f'{{{v}}}'",
    "def f():\n    {v}",
    "def g(x={v}):\n    return [{v}, x]",
    "H = ({v}, ({v},))",
]
_VALUES = st.one_of(
    st.integers(-300, 300),
    st.floats(allow_nan=False, width=32),
    st.text(max_size=24),
    st.binary(max_size=60),
    st.booleans(),
    st.none(),
    st.complex_numbers(allow_nan=False, max_magnitude=1e6),
)


@st.composite
def _modules(draw: st.DrawFn) -> tuple[str, str]:
    """Two modules made of the same snippets, in another order, some twice,
    and maybe one snippet of the second in another place."""
    values = draw(st.lists(_VALUES, min_size=1, max_size=6))
    snippets = [_snippet(draw(st.sampled_from(_PLACES)), v) for v in values]
    other = draw(st.permutations(snippets)) + draw(st.lists(st.sampled_from(snippets)))
    if draw(st.booleans()):
        other[0] = _snippet(draw(st.sampled_from(_PLACES)), draw(st.sampled_from(values)))
    return "\n".join(snippets) + "\n", "\n".join(other) + "\n"


def _snippet(place: str, value: object) -> str:
    """``value`` in ``place``; in a plain assignment where the place cannot
    hold it (before Python 3.12, an f-string's expression cannot hold quotes
    like its own or a backslash)."""
    code = place.format(v=repr(value))
    try:
        compile(code, "<snippet>", "exec")
    except SyntaxError:
        return _PLACES[0].format(v=repr(value))
    return code


@settings(max_examples=300, deadline=None)
@given(_modules())
def test_an_equal_signature_means_hypothesis_keeps_equal_constants(
    sources: tuple[str, str],
) -> None:
    """Against Hypothesis's own collector: never equal signatures for
    modules it takes different constants from."""
    constants_ast = pytest.importorskip("hypothesis.internal.constants_ast")
    first, second = sources
    if signature(first.encode()) == signature(second.encode()):
        collect = constants_ast._constants_from_source
        assert set(collect(first, limit=True)) == set(collect(second, limit=True))


# -- what the plugin sees, in this process -------------------------------------------------

_READER = """
def constants_from_module(opened):
    return opened()
"""
_EARLY = """
def pytest_collection_modifyitems(read):
    return read()
"""


def _as_if_in(file: str, code: str) -> types.FunctionType:
    """The function ``code`` defines, as though it were in ``file``."""
    scope: dict[str, object] = {}
    exec(compile(code, file, "exec"), scope)
    function = next(v for v in scope.values() if isinstance(v, types.FunctionType))
    return function


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> plugin.Recorder:
    """A recorder with nothing started (no coverage.py, no audit hook), and
    a Hypothesis providers module of its own."""
    rec = plugin.Recorder.__new__(plugin.Recorder)
    rec.session = rec.current = plugin.Unit()
    rec.pool = set()
    rec.pool_hooked = False
    providers = types.ModuleType("hypothesis.internal.conjecture.providers")
    providers._get_local_constants = lambda: "the pool"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, providers.__name__, providers)
    return rec


def test_a_read_by_hypothesis_is_pooled_and_its_unit_drew(recorder: plugin.Recorder) -> None:
    reader = _as_if_in("/x/hypothesis/internal/constants_ast.py", _READER)
    test = recorder.current = plugin.Unit()
    assert reader(lambda: recorder._pooled("pkg/mod.py"))
    assert reader(lambda: recorder._pooled(".hypothesis/constants/0a1b"))  # Its cache.
    assert recorder.pool == {"pkg/mod.py"}
    assert test.drew
    assert not test.opened
    # Every later draw is seen too, not only those that read a file.
    other = recorder.current = plugin.Unit()
    providers = sys.modules["hypothesis.internal.conjecture.providers"]
    assert providers._get_local_constants() == "the pool"
    assert other.drew


def test_hypothesis_filling_its_pool_while_collecting_is_no_draw(
    recorder: plugin.Recorder,
) -> None:
    reader = _as_if_in("/x/hypothesis/internal/constants_ast.py", _READER)
    early = _as_if_in("/x/site-packages/_hypothesis_pytestplugin.py", _EARLY)
    assert early(lambda: reader(lambda: recorder._pooled("pkg/mod.py")))
    assert recorder.pool == {"pkg/mod.py"}
    assert not recorder.session.drew
    providers = sys.modules["hypothesis.internal.conjecture.providers"]
    fill = _as_if_in(
        "/x/site-packages/_hypothesis_pytestplugin.py",
        "def pytest_collection_modifyitems(get):\n    return get()\n",
    )
    assert fill(providers._get_local_constants) == "the pool"
    assert not recorder.session.drew


def test_other_opens_and_an_unknown_hypothesis_are_plain_opens(
    recorder: plugin.Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = _as_if_in("/x/hypothesis/internal/constants_ast.py", _READER)
    assert not recorder._pooled("pkg/mod.py")  # Not Hypothesis's reader.
    monkeypatch.delattr(
        sys.modules["hypothesis.internal.conjecture.providers"], "_get_local_constants"
    )
    assert not reader(lambda: recorder._pooled("pkg/mod.py"))  # Its draws cannot be seen.
    assert not recorder.pool_hooked
    assert not recorder.pool
    monkeypatch.delitem(sys.modules, "hypothesis")
    assert not reader(lambda: recorder._pooled("pkg/mod.py"))  # No Hypothesis loaded.


def test_an_open_with_no_python_code_above_is_a_plain_open(
    recorder: plugin.Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file opened from C, with no Python frame above the audit hook's
    own (a thread started from C, the interpreter's shutdown): never an
    error inside the user's open()."""
    real = sys._getframe

    def shallow(depth: int = 0) -> types.FrameType:
        if depth >= 2:
            raise ValueError("call stack is not deep enough")
        return real(depth + 1)

    monkeypatch.setattr(sys, "_getframe", shallow)
    found = recorder._pooled("pkg/mod.py")
    monkeypatch.undo()
    assert not found
    assert not recorder.pool


# -- selected runs -------------------------------------------------------------------------

CALC = """\
SCALE = 1000


def double(x):
    return x * 2


def label(x):
    if x > SCALE:
        return "large"
    return "small"
"""

TEST_CALC = """\
from hypothesis import given, settings, strategies as st

from pkg import calc


@settings(derandomize=True, database=None, max_examples=25)
@given(st.integers())
def test_double(x):
    assert calc.double(x) == x + x


def test_label():
    assert calc.label(1) == "small"


def test_label_large():
    assert calc.label(5000) == "large"
"""


@pytest.fixture
def drawing(project: Project) -> Project:
    """A project whose suite has a test that draws from Hypothesis; baselined."""
    # Three of five tests may run: the selection is what is looked at.
    project.write("pyproject.toml", pyproject("select-max-share = 0.9", branch=True))
    project.write(".gitignore", ".venv\n.hypothesis/\n")
    project.write("pkg/calc.py", CALC)
    project.write("tests/test_calc.py", TEST_CALC)
    project.commit("calc")
    assert project.ratchet("init").code == errors.PASSED
    project.commit("baseline")
    return project


def _selected(p: Project) -> Measurement:
    """A selected run of the project as it is now (its numbers are compared
    with coverage.py's own full run)."""
    return measure.run(in_place(p.root, load_config(p.root)), select=True)


def _map(p: Project) -> tuple[set[str], set[str]]:
    """The pooled files, and the keys of the units that drew."""
    s = store.open_store(p.root / ".git")
    try:
        keys = dict(s.unit_keys(s.drew()))
        return s.pool(), {key for _, key in keys.values()}
    finally:
        s.close()


def test_an_edit_that_keeps_the_constants_does_not_rerun_the_drawing_tests(
    drawing: Project,
) -> None:
    pool, drew = _map(drawing)
    assert {"pkg/calc.py", "pkg/__init__.py"} <= pool
    assert not any(path.startswith("tests/") for path in pool)
    assert drew == {"tests/test_calc.py::test_double"}
    drawing.stage("pkg/calc.py", CALC.replace("    if x > SCALE:", "    pass\n    if x > SCALE:"))
    # A module appeared too, but not one Hypothesis takes constants from.
    drawing.stage("tests/helpers.py", "LIMITS = (1000, 2000)\n")
    doc = check_json(drawing)
    assert doc["mode"] == "selected", doc["why"]
    assert sorted(doc["tests_run"]) == [  # type: ignore[call-overload]
        "tests/test_calc.py::test_label",
        "tests/test_calc.py::test_label_large",
    ]
    assert numbers(_selected(drawing)) == full_numbers(drawing.root)


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("pkg/calc.py", CALC.replace('        return "large"', '        return "large" * 1')),
        ("pkg/extra.py", "WORDS = ('a new module', 'joins the pool when imported')\n"),
    ],
    ids=["a literal added", "a module added"],
)
def test_a_change_to_the_pool_reruns_the_drawing_tests(
    drawing: Project, path: str, content: str
) -> None:
    drawing.stage(path, content)
    doc = check_json(drawing)
    assert doc["mode"] == "selected", doc["why"]
    assert "tests/test_calc.py::test_double" in doc["tests_run"]  # type: ignore[operator]
    assert numbers(_selected(drawing)) == full_numbers(drawing.root)


def test_a_version_git_does_not_have_counts_as_changed_constants(drawing: Project) -> None:
    """The map measured an edit never staged: its blob is not in the
    repository, so whether the next edit changed its constants is unknown."""
    edited = CALC.replace('        return "large"', '        return "large" * 1')
    (drawing.root / "pkg/calc.py").write_text(edited)
    assert "tests/test_calc.py::test_double" in (_selected(drawing).tests_run or ())
    (drawing.root / "pkg/calc.py").write_text(edited.replace("    if x", "    pass\n    if x"))
    m = _selected(drawing)
    assert m.mode is RunMode.SELECTED, m.why
    assert "tests/test_calc.py::test_double" in (m.tests_run or ())
    assert numbers(m) == full_numbers(drawing.root)
