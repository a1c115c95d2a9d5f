"""Per-file numbers equal coverage.py's own JSON report for the same run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ratchet.toml import tomllib
from testing.project import Project, pyproject

BRANCHY = """\
def classify(n):
    if n < 0:
        return "negative"
    elif n == 0:
        return "zero"
    for i in range(n):
        if i > 100:
            break
    return "positive"


def never(x):
    while x:
        x -= 1
    return x
"""


def _coverage_json(project: Project) -> dict[str, dict[str, int]]:
    """Run the project's tests under coverage and return its JSON summaries."""
    run = [sys.executable, "-m", "coverage"]
    subprocess.run(
        [*run, "run", "-m", "pytest", "-q"], cwd=project.root, check=True, capture_output=True
    )
    subprocess.run([*run, "json", "-q", "-o", "cov.json"], cwd=project.root, check=True)
    report = json.loads((project.root / "cov.json").read_text())
    (project.root / "cov.json").unlink()
    return {path: entry["summary"] for path, entry in report["files"].items()}


@pytest.mark.parametrize("branch", [False, True])
def test_init_records_exactly_what_coverage_json_reports(project: Project, branch: bool) -> None:
    project.write("pkg/branchy.py", BRANCHY)
    project.write(
        "tests/test_branchy.py",
        "from pkg.branchy import classify\n\n"
        "def test_classify():\n    assert classify(3) == 'positive'\n",
    )
    # Ask coverage.py for two digits, the precision ratchet prints.
    precision = "\n[tool.coverage.report]\nprecision = 2\n"
    project.write("pyproject.toml", pyproject(branch=branch) + precision)
    project.commit("branchy")
    summaries = _coverage_json(project)
    # Run the tests ourselves, and also hand ratchet the same data file.
    assert project.ratchet("init").code == 0
    from_run = tomllib.loads(project.read("coverage-baseline.toml"))
    assert project.ratchet("init", "--force", "--data", ".coverage").code == 0
    from_data = tomllib.loads(project.read("coverage-baseline.toml"))
    for baseline in (from_run, from_data):
        assert baseline["measured-with"]["branch"] is branch
        assert set(baseline["files"]) == set(summaries)
        for path, summary in summaries.items():
            entry = baseline["files"][path]
            assert entry["statements"] == summary["num_statements"]
            assert entry["covered"] == summary["covered_lines"]
            if branch:
                assert entry["branches"] == summary["num_branches"]
                assert entry["covered_branches"] == summary["covered_branches"]
            else:
                assert "branches" not in entry
    # The percentage we print is the one coverage.py prints.
    text = project.read("coverage-baseline.toml")
    for path, summary in summaries.items():
        assert f"# {summary['percent_covered_display']}%" in text.split(f'"{path}"]')[1]


def test_check_data_reads_several_data_files_like_coverage_combine(baselined: Project) -> None:
    run = [sys.executable, "-m", "coverage", "run", "-p", "-m", "pytest", "-q"]
    root = baselined.root
    subprocess.run(
        [*run, "tests/test_mod.py::test_add"], cwd=root, check=True, capture_output=True
    )
    subprocess.run(
        [*run, "tests/test_mod.py::test_sub"], cwd=root, check=True, capture_output=True
    )
    shards = sorted(str(p.name) for p in root.glob(".coverage.*"))
    assert len(shards) == 2
    result = baselined.ratchet("check", "--data", *shards)
    assert result.code == 0, result.out + result.err
    assert "pkg/mod.py" not in result.out  # Same numbers as the baseline: nothing to say.
    # The shards are the user's: combining must not delete them.
    assert sorted(str(p.name) for p in root.glob(".coverage.*")) == shards
    only_add = baselined.ratchet("check", "--data", shards[0])
    assert only_add.code == 1
    assert "pkg/mod.py: 62.50% -> 50.00%" in only_add.out


def test_check_data_reads_a_coverage_json_report(baselined: Project) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "coverage",
            "run",
            "-m",
            "pytest",
            "-q",
            "tests/test_mod.py::test_add",
        ],
        cwd=baselined.root,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [sys.executable, "-m", "coverage", "json", "-q", "-o", "r.json"],
        cwd=baselined.root,
        check=True,
    )
    result = baselined.ratchet("check", "--data", "r.json")
    assert result.code == 1
    assert result.out.startswith("ratchet: given data, 2 files measured with report r.json\n")
    assert "pkg/mod.py: 62.50% -> 50.00%" in result.out
    doc = json.loads(baselined.ratchet("check", "--data", "r.json", "--format", "json").out)
    assert doc["mode"] == "data"


@pytest.mark.parametrize("how", ["recorded elsewhere", "relative_files"])
def test_a_data_file_reads_as_coverage_json_reads_it(
    project: Project, tmp_path: Path, how: str
) -> None:
    """A data file recorded in another checkout ([paths] maps it back) or with
    relative names gives coverage.py's own numbers, combined or not."""
    project.write("pkg/branchy.py", BRANCHY)
    project.write(
        "tests/test_branchy.py",
        "from pkg.branchy import classify\n\n"
        "def test_classify():\n    assert classify(0) == 'zero'\n",
    )
    config = pyproject(branch=True)
    if how == "relative_files":
        config += "relative_files = true\n"
    else:
        config += "\n[tool.coverage.paths]\nsource = ['pkg/', '*/ci-build/pkg/']\n"
    project.write("pyproject.toml", config)
    project.commit("branchy")
    where = project.root
    if how == "recorded elsewhere":
        where = tmp_path / "ci-build"
        shutil.copytree(project.root, where, ignore=shutil.ignore_patterns(".git"))
    run = [sys.executable, "-m", "coverage"]
    subprocess.run(
        [*run, "run", "-m", "pytest", "-q", "-p", "no:randomly"],
        cwd=where,
        check=True,
        capture_output=True,
    )
    data = tmp_path / "given.coverage"
    shutil.copyfile(where / ".coverage", data)
    references = []
    for combined in (False, True):
        given = data
        if combined:
            given = tmp_path / "combined.coverage"
            subprocess.run(
                [*run, "combine", "-q", "--keep", f"--data-file={given}", str(data)],
                cwd=project.root,
                check=True,
            )
        out = tmp_path / "reference.json"
        subprocess.run(
            [*run, "json", "-q", f"--data-file={given}", "-o", str(out)],
            cwd=project.root,
            check=True,
        )
        references.append(json.loads(out.read_text())["files"])
    assert references[0] == references[1]
    assert references[0]["pkg/branchy.py"]["summary"]["covered_lines"] == 5
    assert set(references[0]) == {"pkg/__init__.py", "pkg/branchy.py", "pkg/mod.py"}
    result = project.ratchet("init", "--data", str(data))
    assert result.code == 0, result.out + result.err
    files = tomllib.loads(project.read("coverage-baseline.toml"))["files"]
    assert set(files) == set(references[0])
    for path, entry in references[0].items():
        summary = entry["summary"]
        assert files[path]["statements"] == summary["num_statements"]
        assert files[path]["covered"] == summary["covered_lines"]
        assert files[path]["branches"] == summary["num_branches"]
        assert files[path]["covered_branches"] == summary["covered_branches"]
