"""The hook on a one-file change, against a full ``coverage run -m pytest``.

A generated project (``--modules`` modules with a test file each) is
committed with its baseline; one module's function body is edited and
staged.  Timed, each median of ``--runs`` runs, in this one script:

- plain ``pytest`` (no coverage), the floor;
- ``coverage run -m pytest`` followed by ``coverage json``: what a full
  measurement costs;
- ``ratchet check`` with that change staged (the hook's real work).

Until the hook selects tests (a later issue) it runs the whole suite, so the
interesting ratio here is ratchet's overhead over the full measurement.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from common import RATCHET, commit_all, git_repo, report, time_command


def make_project(root: Path, modules: int) -> None:
    (root / "pkg").mkdir()
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    for i in range(modules):
        body = "".join(
            f"def f{j}(x):\n    if x > {j}:\n        return x - {j}\n    return {j}\n\n\n"
            for j in range(10)
        )
        (root / "pkg" / f"mod{i}.py").write_text(body)
        tests = "".join(
            f"def test_f{j}():\n    assert mod{i}.f{j}({j + 1}) == 1\n\n\n" for j in range(10)
        )
        (root / "tests" / f"test_mod{i}.py").write_text(f"from pkg import mod{i}\n\n\n{tests}")
    (root / "pyproject.toml").write_text(
        f"[tool.ratchet]\npython = {sys.executable!r}\n\n"
        "[tool.coverage.run]\nsource = ['pkg']\nbranch = true\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modules", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    modules, runs = (10, 1) if args.smoke else (args.modules, args.runs)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # The project needs none.
    with tempfile.TemporaryDirectory() as tmp:
        root = git_repo(Path(tmp) / "repo")
        make_project(root, modules)
        (root / ".gitignore").write_text(".coverage\ncov.json\n")
        commit_all(root)
        time_command([*RATCHET, "init"], root, 1)
        commit_all(root, "baseline")
        mod = root / "pkg" / "mod0.py"
        mod.write_text(mod.read_text().replace("return x - 0", "return x - 0  # edited"))
        time_command(["git", "add", "pkg/mod0.py"], root, 1)
        print(f"{modules} modules, {modules * 10} tests, one module changed", flush=True)

        plain = time_command(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], root, runs
        )
        full = []
        for _ in range(runs):
            full += [
                a + b
                for a, b in zip(
                    time_command(
                        [
                            sys.executable,
                            "-m",
                            "coverage",
                            "run",
                            "-m",
                            "pytest",
                            "-q",
                            "-p",
                            "no:cacheprovider",
                        ],
                        root,
                        1,
                    ),
                    time_command(
                        [sys.executable, "-m", "coverage", "json", "-q", "-o", "cov.json"], root, 1
                    ),
                    strict=True,
                )
            ]
        hook = time_command([*RATCHET, "check"], root, runs)
        report("pytest (no coverage)", plain)
        report("coverage run -m pytest + coverage json", full, plain)
        report("ratchet check, one file changed", hook, full)


if __name__ == "__main__":
    main()
