"""The hook with nothing relevant staged: ``ratchet check`` must skip fast.

Prints medians, with ratios against a bare ``python -c pass`` measured in the
same run (goal: median at most 150 ms).  ``--smoke`` does a short run for CI.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import RATCHET, commit_all, git_repo, report, time_command


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    runs = 3 if args.smoke else args.runs
    with tempfile.TemporaryDirectory() as tmp:
        root = git_repo(Path(tmp) / "repo")
        (root / "pkg").mkdir()
        (root / "pkg" / "mod.py").write_text("X = 1\n")
        (root / "pyproject.toml").write_text("[tool.ratchet]\n")
        (root / "coverage-baseline.toml").write_text(
            'format = 1\n[measured-with]\ncoverage = "7"\nbranch = false\n'
        )
        commit_all(root)
        (root / "README.md").write_text("docs\n")
        time_command(["git", "add", "README.md"], root, 1)
        bare = time_command([sys.executable, "-c", "pass"], root, runs)
        git = time_command(["git", "diff", "--cached", "--name-only", "-z"], root, runs)
        skip = time_command([*RATCHET, "check"], root, runs)
        # As pre-commit runs it for `git commit` (git exports GIT_INDEX_FILE),
        # and for `pre-commit run` by hand (pre-commit's command line is read).
        index = str(root / ".git" / "index")
        hook = {"PRE_COMMIT": "1", "GIT_INDEX_FILE": index}
        under_commit = time_command([*RATCHET, "check"], root, runs, extra_env=hook)
        by_hand = time_command([*RATCHET, "check"], root, runs, extra_env={"PRE_COMMIT": "1"})
        report("python -c pass", bare)
        report("git diff --cached --name-only", git, bare)
        report("ratchet check (nothing relevant staged)", skip, bare)
        report("  ... under pre-commit, from git commit", under_commit, bare)
        report("  ... under pre-commit run, by hand", by_hand, bare)


if __name__ == "__main__":
    main()
