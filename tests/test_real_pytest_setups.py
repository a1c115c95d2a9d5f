"""The pytest setups real projects have: pytest-cov and pytest-xdist in ``addopts``.

Both used to leave ratchet's own measurement empty (every file at 0), and an
empty measurement passed every later commit.  Now each measures exactly what
coverage.py reports for the same suite run without them, and a run that
measured nothing is a failed run, never a verdict.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ratchet.toml import tomllib
from testing.project import Project, pyproject

EXTRA = """\
def triple(x):
    if x > 10:
        return "big"
    return x * 3
"""

EXTRA_TESTS = """\
from pkg.extra import triple


def test_triple():
    assert triple(2) == 6


def test_big():
    assert triple(11) == "big"
"""


def _plain_coverage(project: Project) -> dict[str, dict[str, int]]:
    """coverage.py's own summaries for the suite run without pytest-cov and xdist."""
    env = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    run = [sys.executable, "-m", "coverage"]
    subprocess.run(
        [*run, "run", "-m", "pytest", "-q", "-o", "addopts="],
        cwd=project.root,
        check=True,
        capture_output=True,
        env={**_env(), **env},
    )
    subprocess.run([*run, "json", "-q", "-o", "plain.json"], cwd=project.root, check=True)
    report = json.loads((project.root / "plain.json").read_text())
    for name in ("plain.json", ".coverage"):
        (project.root / name).unlink()
    return {path: entry["summary"] for path, entry in report["files"].items()}


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


ADDOPTS = ["--cov=pkg", "-n 2", "--cov=pkg --cov-branch -n 2 --cov-fail-under=100"]


@pytest.mark.parametrize(
    ("addopts", "branch"),
    # Each setup once, in the mode where it can go wrong more easily (the
    # three together cover both modes).
    [(ADDOPTS[0], True), (ADDOPTS[1], False), (ADDOPTS[2], True)],
    ids=["cov-branches", "xdist-statements", "cov-xdist-branches"],
)
def test_pytest_cov_and_xdist_in_addopts_measure_exactly(
    project: Project, monkeypatch: pytest.MonkeyPatch, addopts: str, branch: bool
) -> None:
    # Real users have their plugins loaded from their environment.
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    project.write("pkg/extra.py", EXTRA)
    project.write("tests/test_extra.py", EXTRA_TESTS)
    options = f'\n[tool.pytest.ini_options]\naddopts = "{addopts}"\n'
    project.write("pyproject.toml", pyproject(branch=branch) + options)
    project.commit("plugins in addopts")
    plain = _plain_coverage(project)
    assert plain["pkg/extra.py"]["covered_lines"] == 4  # The reference measured something.

    init = project.ratchet("init")
    assert init.code == 0, init.err
    baseline = tomllib.loads(project.read("coverage-baseline.toml"))
    assert set(baseline["files"]) == set(plain)
    for path, summary in plain.items():
        entry = baseline["files"][path]
        assert entry["statements"] == summary["num_statements"], path
        assert entry["covered"] == summary["covered_lines"], path
        if branch:
            assert entry["branches"] == summary["num_branches"], path
            assert entry["covered_branches"] == summary["covered_branches"], path
    project.commit("baseline")

    # Deleting every test of a fully covered module is refused.
    (project.root / "tests" / "test_extra.py").unlink()
    project.git("add", "-A")
    refused = project.ratchet("check")
    assert refused.code == 1, refused.out + refused.err
    assert "pkg/extra.py: 100.00% -> " in refused.out
    # A change that keeps every number passes.
    project.stage("tests/test_extra.py", EXTRA_TESTS + "\n# a comment\n")
    assert project.ratchet("check").code == 0


def test_xdist_with_a_selected_run_keeps_exact_numbers(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers record the test map too: a later selected check is still exact."""
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    project.write("pkg/extra.py", EXTRA)
    project.write("tests/test_extra.py", EXTRA_TESTS)
    extra = 'select-max-share = 1.0\n\n[tool.pytest.ini_options]\naddopts = "-n 2"\n'
    project.write("pyproject.toml", pyproject(extra))
    project.commit("xdist")
    assert project.ratchet("init").code == 0
    project.commit("baseline")
    project.stage("tests/test_extra.py", EXTRA_TESTS.replace("def test_big", "def _big"))
    selected = project.ratchet("check", "--format", "json")
    full = project.ratchet("check", "--full", "--format", "json")
    assert selected.code == full.code == 1
    by_path = {f["path"]: f for f in json.loads(selected.out)["files"]}
    assert by_path == {f["path"]: f for f in json.loads(full.out)["files"]}
    assert by_path["pkg/extra.py"]["current"]["covered"] == 3


# -- no measurement, no verdict ----------------------------------------------------


def test_init_refuses_a_run_that_measured_nothing(project: Project) -> None:
    text = pyproject().replace("source = ['pkg']", "source = ['elsewhere']")
    project.stage("pyproject.toml", text)
    result = project.ratchet("init")
    assert result.code == 3
    assert result.err.count("\n") == 1
    assert "measured nothing" in result.err
    assert "was never imported" in result.err  # What coverage.py itself warned.
    assert not (project.root / "coverage-baseline.toml").exists()


def test_a_plugin_that_takes_measurement_over_is_a_failed_run(baselined: Project) -> None:
    """A test script that starts pytest-cov itself: our measurement sees nothing."""
    baselined.write(
        "run_tests.py",
        "import sys\n\nimport pytest\n\n"
        "sys.exit(pytest.main(['-q', '-p', 'pytest_cov', '--cov=pkg', 'tests']))\n",
    )
    config = pyproject('test-command = "run_tests.py"')
    baselined.stage("pyproject.toml", config)
    before = baselined.read("coverage-baseline.toml")
    for command in (["check"], ["update"]):
        result = baselined.ratchet(*command)
        assert result.code == 3, (command, result.out, result.err)
        assert "executed no line" in result.err
        assert result.err.count("\n") == 1
    assert baselined.read("coverage-baseline.toml") == before
    # Deleting every test is still refused, not passed on an empty measurement.
    (baselined.root / "tests" / "test_mod.py").unlink()
    baselined.git("add", "-A")
    assert baselined.ratchet("check").code == 3


def test_measuring_none_of_the_baselines_files_is_a_failed_run(baselined: Project) -> None:
    baselined.write("other/__init__.py", "")
    baselined.write("other/util.py", "def one():\n    return 1\n")
    baselined.write(
        "tests/test_other.py",
        "from other.util import one\n\n\ndef test_one():\n    assert one() == 1\n",
    )
    config = pyproject().replace("source = ['pkg']", "source = ['other']")
    baselined.stage("pyproject.toml", config)
    result = baselined.ratchet("check")
    assert result.code == 3
    assert "measured none of the 2 file(s) the baseline records" in result.err


def test_given_data_that_measured_nothing_is_an_input_error(
    baselined: Project,
) -> None:
    (baselined.root / "empty.json").write_text(
        json.dumps({"meta": {"version": "7.0", "branch_coverage": False}, "files": {}})
    )
    result = baselined.ratchet("check", "--data", "empty.json")
    assert result.code == 2
    assert "the given data measured nothing" in result.err
