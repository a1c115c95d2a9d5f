"""Finding the project's interpreter, not the hook's, and running it clean."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ratchet import errors
from ratchet.environment import clean_env, find_python
from ratchet.errors import RatchetError
from ratchet.runner import coverage_args
from testing.project import Project, pyproject


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def test_configured_python_wins_and_must_exist(tmp_path: Path) -> None:
    venv_python = make_venv(tmp_path / ".venv")
    assert find_python(tmp_path, str(venv_python))[1] == "[tool.ratchet] python"
    relative = find_python(tmp_path, ".venv/bin/python")
    assert relative[0] == tmp_path / ".venv" / "bin" / "python"
    with pytest.raises(RatchetError, match="does not exist"):
        find_python(tmp_path, "nowhere/python")


@pytest.mark.parametrize("name", [".venv", "venv"])
def test_the_repository_venv_comes_next(tmp_path: Path, name: str) -> None:
    make_venv(tmp_path / name)
    python, how = find_python(tmp_path, None)
    assert python == tmp_path / name / "bin" / "python"
    assert how == f"the repository's {name}"


def test_an_active_virtualenv_is_used_unless_it_is_the_hooks_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    active = tmp_path / "active"
    make_venv(active)
    monkeypatch.setenv("VIRTUAL_ENV", str(active))
    assert find_python(tmp_path, None) == (active / "bin" / "python", "the active virtualenv")
    # Under pre-commit, VIRTUAL_ENV is the hook's own environment: skip it,
    # and take python from PATH without the hook's folder.
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)
    monkeypatch.setenv("PRE_COMMIT", "1")
    elsewhere = make_venv(tmp_path / "elsewhere").parent
    hook_bin = os.path.join(sys.prefix, "bin")
    monkeypatch.setenv("PATH", os.pathsep.join([hook_bin, str(elsewhere), "/usr/bin"]))
    python, how = find_python(tmp_path, None)
    assert python == elsewhere / "python"
    assert how == "python on PATH"


def test_no_python_at_all_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RatchetError, match="no Python interpreter found"):
        find_python(tmp_path, None)


def test_the_test_environment_is_scrubbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv_python = make_venv(tmp_path / ".venv")
    monkeypatch.setenv("PRE_COMMIT", "1")
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)
    hook_bin = os.path.join(sys.prefix, "bin")
    base = {
        "PATH": os.pathsep.join([hook_bin, "/usr/bin"]),
        "GIT_DIR": "/somewhere/.git",
        "GIT_INDEX_FILE": "/somewhere/.git/index",
        "GIT_WORK_TREE": "/somewhere",
        "GIT_AUTHOR_NAME": "kept",
        "PYTHONHOME": "/hook",
        "VIRTUAL_ENV": sys.prefix,
    }
    env = clean_env(tmp_path, venv_python, base)
    assert not {"GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "PYTHONHOME"} & set(env)
    assert env["GIT_AUTHOR_NAME"] == "kept"
    assert env["VIRTUAL_ENV"] == str(tmp_path / ".venv")
    assert env["PATH"].split(os.pathsep) == [str(venv_python.parent), "/usr/bin"]


@pytest.mark.parametrize(
    ("command", "args", "module"),
    [
        (("pytest", "-x"), ["-m", "pytest", "-x"], "pytest"),
        (("python", "-m", "unittest", "discover"), ["-m", "unittest", "discover"], "unittest"),
        (("python3", "-m", "pytest"), ["-m", "pytest"], "pytest"),
        (("run_tests.py", "--fast"), ["run_tests.py", "--fast"], None),
    ],
)
def test_test_commands_become_coverage_run_arguments(
    command: tuple[str, ...], args: list[str], module: str | None
) -> None:
    assert coverage_args(command) == (args, module)


def test_parallel_mode_data_is_combined(baselined: Project) -> None:
    # With [run] parallel = true, coverage writes suffixed data files.
    text = baselined.read("pyproject.toml")
    baselined.stage("pyproject.toml", text + "parallel = true\n")
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED, result.out + result.err
    assert "2 files measured" in result.out


def test_a_test_script_runs_as_a_file(baselined: Project) -> None:
    baselined.write(
        "run_tests.py",
        "import sys\nimport pytest\nsys.exit(pytest.main(['-q', 'tests']))\n",
    )
    baselined.stage("pyproject.toml", pyproject('test-command = "run_tests.py"'))
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED, result.out + result.err


def test_a_run_that_measures_nothing_is_a_failed_run(baselined: Project) -> None:
    baselined.write("run_tests.py", "print('no tests here')\n")
    baselined.write(
        "pyproject.toml",
        pyproject('test-command = "run_tests.py"').replace(
            "source = ['pkg']", "source = ['nope']"
        ),
    )
    baselined.git("add", "-A")
    result = baselined.ratchet("check")
    assert result.code == errors.TEST_RUN_FAILED
    assert "the test run measured nothing" in result.err


def test_python_dash_m_ratchet_runs_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import runpy

    monkeypatch.setattr(sys, "argv", ["ratchet", "--version"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("ratchet", run_name="__main__")
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("ratchet ")


def test_a_hook_and_a_project_ratchet_of_different_versions_are_told_apart(
    baselined: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project's environment has this ratchet installed (the probe reads
    its version); a hook of another version says so, and judges as usual."""
    import ratchet

    same = baselined.ratchet("check", "--full")
    assert same.code == 0, same.err
    assert "install both from the same revision" not in same.out
    monkeypatch.setattr(ratchet, "__version__", "9.9.9")
    other = baselined.ratchet("check", "--full")
    assert other.code == 0, other.err
    installed = importlib.metadata.version("coverage-ratchet")
    assert (
        "ratchet: note: this check is ratchet 9.9.9, the project's environment has "
        f"ratchet {installed}: install both from the same revision"
    ) in other.out


def test_the_probe_is_remembered_until_an_import_folder_changes(
    baselined: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The interpreter's answer is kept in the git directory; a folder on its
    import path that changes (a distribution installed there) asks again."""
    import json

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(site))
    assert baselined.ratchet("check", "--full").code == 0
    cache = baselined.root / ".git" / "ratchet" / "probe.json"
    doc = json.loads(cache.read_text())
    assert str(site) in doc["probe"]["sys_path"]
    # Said in the remembered answer only: a check that shows it did not ask.
    doc["probe"]["ratchet_version"] = "0.0.1"
    cache.write_text(json.dumps(doc))
    skew = "the project's environment has ratchet 0.0.1"
    remembered = baselined.ratchet("check", "--full")
    assert remembered.code == 0, remembered.err
    assert skew in remembered.out
    (site / "example-1.0.dist-info").mkdir()
    asked = baselined.ratchet("check", "--full")
    assert asked.code == 0, asked.err
    assert skew not in asked.out
    assert json.loads(cache.read_text())["probe"]["ratchet_version"] != "0.0.1"
    # Another interpreter setting (a variable that moves the import path): asked again.
    cache.write_text(json.dumps({**json.loads(cache.read_text()), "probe": doc["probe"]}))
    monkeypatch.setenv("PYTHONPATH", f"{site}{os.pathsep}{tmp_path}")
    assert skew not in baselined.ratchet("check", "--full").out


def test_a_probe_that_cannot_be_remembered_is_asked_every_time(baselined: Project) -> None:
    cache = baselined.root / ".git" / "ratchet" / "probe.json"
    cache.unlink()  # Remembered by the check that made the baseline.
    cache.mkdir()  # Cannot be replaced by a file.
    for _ in range(2):
        result = baselined.ratchet("check", "--full")
        assert result.code == 0, result.err
    assert cache.is_dir()
    assert not list(cache.parent.glob(".probe.json.*"))  # Nothing left behind.
