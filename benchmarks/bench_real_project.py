"""The hook on a real project from PyPI: a one-file change, and nothing relevant staged.

The project's source distribution (with its own test suite) is downloaded,
installed into its own virtual environment and committed with a baseline
(``ratchet init``, which records the test map).  Then, ``--runs`` times, one
function body in one file is edited (two edits in turn, so each run is a
change against the map the previous run left) and staged, and on that same
working tree this script times:

- ``ratchet check``: the hook's real work, a selected run;
- plain ``pytest`` of exactly the tests that check ran, without coverage;
- ``coverage run -m pytest`` + ``coverage json``: a full measurement.

Each round also times ``ratchet check`` of the other edit with an untracked
file in the working tree: then the commit's content is a copy of the index
(``ratchet.snapshot``), kept between checks.  Every check's numbers are
compared with a full run's JSON report; a difference stops the script.  Finally ``ratchet check``
with only a README change staged (the skip path) is timed.

Needs PyPI.  ``--smoke`` runs one round on marshmallow (the smaller suite).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import RATCHET, commit_all, git_env, git_repo, report, selected_check, time_command

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Project:
    requirement: str
    extras: tuple[str, ...]  # What its tests need besides pytest and coverage.
    edit: str  # The file whose function body is edited.
    line: str  # A line in a function body, and two harmless edits of it.
    edits: tuple[str, str]
    pyproject: str = ""  # Appended to its pyproject.toml (with [tool.ratchet]).
    test_args: tuple[str, ...] = field(default=())
    # Edits to its files before it is committed: (file, text, replacement).
    patches: tuple[tuple[str, str, str], ...] = field(default=())


PROJECTS = {
    "click": Project(
        "click==8.5.1",
        (),
        "src/click/shell_completion.py",
        '    lex.commenters = ""\n',
        ('    lex.commenters = "" + ""\n', '    lex.commenters = "" * 1\n'),
    ),
    "marshmallow": Project(
        "marshmallow==4.4.0",
        ("simplejson",),
        "src/marshmallow/error_store.py",
        "        self.errors = {}\n",
        ("        self.errors = dict()\n", "        self.errors = {**{}}\n"),
        "\n[tool.coverage.run]\nsource = ['marshmallow']\nbranch = true\n",
    ),
    "dateutil": Project(
        "python-dateutil==2.9.0.post0",
        ("freezegun", "hypothesis"),
        "src/dateutil/relativedelta.py",
        "            self.microseconds = mod * s\n",
        (
            "            self.microseconds = s * mod\n",
            "            self.microseconds = (mod * s)\n",
        ),
        "\n[tool.coverage.run]\nsource = ['dateutil']\nbranch = true\n",
        test_args=("tests",),
        # Its warnings are errors; those of a newer pytest than its own are not.
        patches=(
            (
                "setup.cfg",
                "\terror::PendingDeprecationWarning\n",
                "\terror::PendingDeprecationWarning\n"
                "\tignore::pytest.PytestRemovedIn10Warning\n"
                "\tignore::pytest.PytestUnknownMarkWarning\n",
            ),
        ),
    ),
    "networkx": Project(
        "networkx==3.6.1",
        (),
        "networkx/algorithms/cycles.py",
        "    return cycles\n",
        ("    return cycles[:]\n", "    return list(cycles)\n"),
        test_args=("networkx",),
    ),
}


def run(args: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> None:
    env = {**git_env(), **(extra_env or {})}
    subprocess.run(args, cwd=cwd, check=True, env=env, capture_output=True)


def prepare(tmp: Path, project: Project) -> tuple[Path, Path]:
    """The project's repository, baselined, and its interpreter."""
    download = [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:"]
    run([*download, "--no-deps", "-d", str(tmp / "dist"), project.requirement], tmp)
    (sdist,) = (tmp / "dist").iterdir()
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "src", filter="data")
    (unpacked,) = (tmp / "src").iterdir()
    for name, text, replacement in project.patches:
        patched = unpacked / name
        assert text in patched.read_text(), f"{text!r} not in {name}"
        patched.write_text(patched.read_text().replace(text, replacement, 1))
    root = git_repo(unpacked)
    run([sys.executable, "-m", "venv", str(tmp / "venv")], tmp)
    python = tmp / "venv" / "bin" / "python"
    # The test tools at the versions this script runs with.
    import coverage
    import pytest

    pins = [f"pytest=={pytest.__version__}", f"coverage=={coverage.__version__}"]
    version = installed_as(project)
    run([str(python), "-m", "pip", "install", "-q", "-e", ".", *pins], root, version)
    if project.extras:  # After: some (freezegun) import the project to build.
        run([str(python), "-m", "pip", "install", "-q", *project.extras], root, version)
    (root / ".gitignore").write_text(".coverage\n.coverage.*\ncov.json\n__pycache__/\n")
    command = " ".join(["pytest", *project.test_args])
    with (root / "pyproject.toml").open("a") as f:
        f.write(
            f"{project.pyproject}\n[tool.ratchet]\npython = {str(python)!r}\n"
            f"test-command = {command!r}\n"
        )
    commit_all(root, "the project")
    started = time.perf_counter()
    time_command([*RATCHET, "init"], root, 1)
    seconds = time.perf_counter() - started
    print(f"ratchet init (full run, records the map): {seconds:.1f} s", flush=True)
    commit_all(root, "baseline")
    return root, python


def installed_as(project: Project) -> dict[str, str]:
    """The environment to install the project in: a version from git
    (setuptools_scm) would be 0.1.dev0 in the new repository, and a test
    dependency asking for the project would replace it from PyPI."""
    return {"SETUPTOOLS_SCM_PRETEND_VERSION": project.requirement.split("==")[1]}


def by_function(tests: list[str]) -> list[str]:
    """Test ids without their parameters: some ids hold the time of day
    (marshmallow's), so the ids of one run do not name the next run's tests."""
    return list(dict.fromkeys(t.split("[", 1)[0] for t in tests))


def numbers_of(summary: dict[str, Any]) -> tuple[int, int, int, int]:
    return (
        summary["num_statements"],
        summary["covered_lines"],
        summary.get("num_branches", 0),
        summary.get("covered_branches", 0),
    )


def compare(check: dict[str, Any], cov_json: Path) -> int:
    """Files whose numbers differ between check and the full run's report."""
    full = json.loads(cov_json.read_text())["files"]
    mismatches = 0
    for item in check["files"]:
        current = item["current"]
        if current is None:
            continue
        mine = (
            current["statements"],
            current["covered"],
            current.get("branches", 0),
            current.get("covered_branches", 0),
        )
        theirs = numbers_of(full[item["path"]]["summary"]) if item["path"] in full else None
        if mine != theirs:
            mismatches += 1
            print(f"  MISMATCH {item['path']}: check {mine}, full run {theirs}")
    return mismatches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", choices=sorted(PROJECTS), default="click")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    name, runs = ("marshmallow", 1) if args.smoke else (args.project, args.runs)
    project = PROJECTS[name]
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        root, python = prepare(Path(tmp), project)
        edited = root / project.edit
        original = edited.read_text()
        assert original.count(project.line) == 1, f"{project.line!r} not once in {project.edit}"
        hook: list[float] = []
        snapshot: list[float] = []
        selected: list[float] = []
        full: list[float] = []
        ran: list[int] = []
        total = ""
        pytest_args = ["-q", "-p", "no:cacheprovider"]
        untracked = root / "scratch_notes.py"

        def full_run() -> float:
            coverage_run = [str(python), "-m", "coverage", "run", "-m", "pytest"]
            seconds = time_command([*coverage_run, *pytest_args, *project.test_args], root, 1)
            json_report = [str(python), "-m", "coverage", "json", "-q", "-o", "cov.json"]
            return seconds[0] + time_command(json_report, root, 1)[0]

        for i in range(runs):
            # Each round two checks, each of an edit against the map the one
            # before left: the working tree as staged, then with an untracked
            # file beside, so that the check measures a copy of the index.
            edited.write_text(original.replace(project.line, project.edits[0]))
            run(["git", "add", project.edit], root)
            seconds, doc = selected_check(root)
            hook.append(seconds)
            tests = doc["tests_run"]
            ran.append(len(tests))
            total = doc["why"].split(":")[0]
            selected += time_command(
                [str(python), "-m", "pytest", *pytest_args, *by_function(tests)], root, 1
            )
            full.append(full_run())
            if compare(doc, root / "cov.json"):
                raise SystemExit("check's numbers differ from the full run's")
            edited.write_text(original.replace(project.line, project.edits[1]))
            run(["git", "add", project.edit], root)
            untracked.write_text("NOTES = 1\n")
            seconds, copied = selected_check(root)
            snapshot.append(seconds)
            if "measured the staged content" not in " ".join(copied.get("notes", [])):
                raise SystemExit("the check with an untracked file did not measure a copy")
            full_run()
            untracked.unlink()
            if compare(copied, root / "cov.json"):
                raise SystemExit(
                    "check's numbers (a copy of the index) differ from the full run's"
                )
            print(
                f"round {i + 1}: {total}; check {hook[-1]:.1f} s, "
                f"with an untracked file {snapshot[-1]:.1f} s, full {full[-1]:.1f} s",
                flush=True,
            )
        print(f"{name}: {total} (median {statistics.median(ran):g} tests selected)")
        print(f"one-file change ({project.edit}), each run's numbers equal the full run's:")
        report("coverage run -m pytest + coverage json", full)
        report("ratchet check (selected run)", hook, full)
        report("ratchet check, an untracked file beside", snapshot, hook)
        report("pytest of the selected tests, no coverage", selected)
        report("ratchet check against that", hook, selected)
        edited.write_text(original)
        readme = next(root.glob("README*"))
        readme.write_text(readme.read_text() + "\nEdited.\n")
        run(["git", "add", "-A"], root)
        report("ratchet check, only a README staged", time_command([*RATCHET, "check"], root, 5))


if __name__ == "__main__":
    main()
