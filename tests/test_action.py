"""The GitHub Action (``action.yml``), its steps run here with the variables
GitHub sets: a real repository, a real base branch, real test runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from testing.project import TESTS, Project

REPO = Path(__file__).resolve().parent.parent
UNUSED_TEST = "\n\ndef test_unused():\n    from pkg.mod import unused\n    assert unused(0) == 2\n"


def _action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text())
    return loaded


def _run_step(project: Project, tmp: Path) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """The action's first step as GitHub runs it on a pull request into main."""
    action = _action()
    step = action["runs"]["steps"][0]
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    inputs.update(python=sys.executable, install="false")  # ratchet is installed here.

    def expand(text: str) -> str:
        return re.sub(r"\$\{\{\s*inputs\.(\w+)\s*\}\}", lambda m: inputs[m[1]], text)

    summary, output, runner = tmp / "summary.md", tmp / "output", tmp / "runner"
    runner.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {name: expand(value) for name, value in step["env"].items()},
        GITHUB_ACTION_PATH=str(REPO),
        GITHUB_BASE_REF="main",
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_OUTPUT=str(output),
        RUNNER_TEMP=str(runner),
    )
    done = subprocess.run(
        [step["shell"], "-c", step["run"]],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done, summary, output


def _pull_request(project: Project, tests: str) -> None:
    """main pushed to a bare origin; a feature branch changing the tests."""
    origin = project.root.parent / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    project.git("remote", "add", "origin", str(origin))
    project.git("push", "-q", "origin", "main")
    project.git("checkout", "-q", "-b", "feature")
    project.stage("tests/test_mod.py", tests)
    project.commit("feature")


def test_a_pull_request_that_raises_coverage_passes_with_a_proposed_baseline(
    baselined: Project, tmp_path: Path
) -> None:
    project = baselined
    _pull_request(project, TESTS + UNUSED_TEST)
    before = project.read("coverage-baseline.toml")
    done, summary, output = _run_step(project, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary.read_text().startswith("### coverage-ratchet: passed")
    assert "pkg/mod.py" in summary.read_text()
    proposed = Path(output.read_text().strip().removeprefix("proposed="))
    assert proposed.parent == tmp_path / "runner"
    assert "covered = 7  # 87.50%" in proposed.read_text()
    # Nothing in the repository changed, nothing was pushed.
    assert project.read("coverage-baseline.toml") == before
    assert project.git("status", "--porcelain") == ""
    assert project.git("rev-parse", "origin/main") == project.git("rev-parse", "main")
    # The next step uploads exactly that file, only when there is one.
    upload = _action()["runs"]["steps"][1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["path"] == "${{ steps.ratchet.outputs.proposed }}"
    assert "steps.ratchet.outputs.proposed != ''" in upload["if"]
    assert _action()["runs"]["steps"][0]["id"] == "ratchet"


def test_a_pull_request_that_lowers_coverage_fails_with_annotations(
    baselined: Project, tmp_path: Path
) -> None:
    project = baselined
    _pull_request(project, TESTS.replace("def test_sub", "def _not_a_test"))
    done, summary, output = _run_step(project, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "::error file=pkg/mod.py" in done.stdout
    assert "blocked" in summary.read_text()
    assert not output.exists() or "proposed=" not in output.read_text()


def test_summary_and_propose_in_process(baselined: Project, tmp_path: Path) -> None:
    project = baselined
    _pull_request(project, TESTS + UNUSED_TEST)
    summary, proposed = tmp_path / "summary.md", tmp_path / "proposed.toml"
    summary.write_text("earlier steps' summary\n")
    args = ["--summary", str(summary), "--propose", str(proposed)]
    result = project.ratchet("check", "--base", "main", "--format", "github", *args)
    assert result.code == 0, result.err
    assert summary.read_text().startswith("earlier steps' summary\n### coverage-ratchet: passed")
    assert "covered = 7  # 87.50%" in proposed.read_text()
    proposed.unlink()
    project.git("checkout", "-q", "main")
    nothing = project.ratchet("check", "--base", "main", "--propose", str(proposed))
    assert nothing.code == 0, nothing.err
    assert "nothing to propose: `ratchet update` would change no entry" in nothing.out
    assert not proposed.exists()
