"""Differential soak on a real project: commit after commit, ``ratchet check``
must give every file the numbers of a full ``coverage run`` + ``coverage json``.

The project's source distribution is prepared as in ``bench_real_project.py``
(its own test suite, a baseline, the test map).  Then each commit makes one
edit that keeps the suite passing, chosen at random (seeded):

- a statement added at the top of a function body the suite executes;
- the same with a new literal (``_soak = 'literal n'``): where the suite draws
  examples from Hypothesis, its pool of the modules' constants changes;
- a new function appended to a module (module-level code gains a definition);
- a comment line added above a module-level statement (every line below moves);
- an edited file put back as the project shipped it.

The edit is staged, ``ratchet check --format json`` runs, a full coverage run
of the same tree follows, and every file check reports is compared.  Stops
on the first difference.  Prints each commit's mode and a summary: commits,
mismatches, selected and full runs, median check and full-run times.

``--smoke`` makes two edits on marshmallow.  Needs PyPI.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_real_project import PROJECTS, compare, prepare
from bench_vs_testmon import apply, candidates
from common import RATCHET, commit_all, git_env


def timed(args: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=git_env())
    return time.perf_counter() - started, proc


def add_function(root: Path, path: str, n: int) -> None:
    file = root / path
    file.write_text(file.read_text() + f"\n\ndef _soak_added_{n}(x):\n    return x\n")


def add_comment(root: Path, path: str, rng: random.Random) -> None:
    file = root / path
    lines = file.read_text().splitlines(keepends=True)
    tops = [i for i, line in enumerate(lines) if line[:1].isalpha()]
    at = rng.choice(tops) if tops else 0
    lines.insert(at, "# a comment the soak added\n")
    file.write_text("".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", choices=sorted(PROJECTS), default="marshmallow")
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    name, commits = ("marshmallow", 2) if args.smoke else (args.project, args.commits)
    project = PROJECTS[name]
    with tempfile.TemporaryDirectory() as tmp:
        root, python = prepare(Path(tmp), project)
        pytest = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]
        full = [str(python), "-m", "coverage", "run", *pytest]
        cov_json = [str(python), "-m", "coverage", "json", "-q", "-o", "cov.json"]
        with (root / ".gitignore").open("a") as f:
            f.write("cov.json\n.coverage*\n")
        commit_all(root, "ignore the soak's reports")
        subprocess.run([*full, *project.test_args], cwd=root, capture_output=True, env=git_env())
        subprocess.run(cov_json, cwd=root, capture_output=True, env=git_env(), check=True)
        parts = project.edit.split("/")
        package = "/".join(parts[:2] if parts[0] == "src" else parts[:1]) + "/"
        pool = candidates(root, root / "cov.json", package)
        modules = sorted({edit[0] for edit in pool})
        rng = random.Random(args.seed)
        shipped = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        checks: list[float] = []
        fulls: list[float] = []
        modes = {"selected": 0, "full": 0}
        edited: set[str] = set()  # Files that differ from the project as shipped.
        for i in range(1, commits + 1):
            kind = rng.choice(["body", "body", "literal", "function", "comment", "undo"])
            if kind == "undo" and edited:
                path = rng.choice(sorted(edited))
                edited.discard(path)
                subprocess.run(["git", "checkout", shipped, "--", path], cwd=root, check=True)
                what = f"put {path} back as shipped"
            elif kind == "function":
                path = rng.choice(modules)
                add_function(root, path, i)
                what = f"add a function to {path}"
            elif kind == "comment":
                path = rng.choice(modules)
                add_comment(root, path, rng)
                what = f"add a comment line to {path}"
            elif kind == "literal":
                edit = rng.choice(pool)
                apply(root, edit, f"_soak = 'literal {i}'")
                path = edit[0]
                what = f"add a literal to the body of {path}:{edit[1]}"
            else:
                edit = rng.choice(pool)
                apply(root, edit)
                path = edit[0]
                what = f"edit the body of {path}:{edit[1]}"
            if not what.startswith("put "):
                edited.add(path)
            subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=git_env())
            t_check, proc = timed([*RATCHET, "check", "--format", "json"], root)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"check exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
            doc = json.loads(proc.stdout)
            a, _ = timed([*full, *project.test_args], root)
            b, _ = timed(cov_json, root)
            checks.append(t_check)
            fulls.append(a + b)
            modes[doc["mode"]] = modes.get(doc["mode"], 0) + 1
            wrong = compare(doc, root / "cov.json")
            status = "MISMATCH" if wrong else "ok"
            print(f"{i:4d} {status:8} {what[:60]:60} {doc['mode']:8} {t_check:6.2f} s", flush=True)
            if doc["mode"] != "selected":
                print(f"     why: {doc['why']}", flush=True)
            if wrong:
                raise SystemExit(f"{wrong} file(s) differ from the full run")
            commit_all(root, f"soak {i}: {what}")
        print(
            f"\n{name}: {commits} commits, 0 mismatches; {modes['selected']} selected, "
            f"{commits - modes['selected']} full; check median {statistics.median(checks):.2f} s, "
            f"full run median {statistics.median(fulls):.2f} s",
            flush=True,
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
