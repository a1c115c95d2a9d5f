"""Side by side with pytest-testmon on real projects: single-function body edits.

For each project (a PyPI source distribution with its own test suite): the
repository is baselined (``ratchet init``, which records the map) and
pytest-testmon 2.2.0 is installed in a virtual environment of its own and
warmed by its own full run.  Then ``--edits`` functions that the suite
executes are chosen at random (seeded), and one after another each gets a
harmless statement (``pass``) at the top of its body; the edit is staged and,
on that same tree, this script times:

- ``ratchet check``: a selected run with exact numbers;
- ``pytest --testmon``: the peer, warm from its own previous run;
- bare ``pytest`` of exactly the tests check ran, no coverage;
- ``coverage run -m pytest`` + ``coverage json``: the full run, the clock;

and compares every number check reports with that full run's report (a
difference stops the script).  Each edit is then committed, so the next is a
change against the map the previous check left, as in daily use.

    python benchmarks/bench_vs_testmon.py --project click --edits 10 --seed 1

Needs PyPI.  ``--smoke`` does one edit on marshmallow (the smaller suite).
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_real_project import PROJECTS, by_function, compare, installed_as, prepare, run
from common import RATCHET, commit_all

TESTMON = "pytest-testmon==2.2.0"


def candidates(root: Path, cov_json: Path, package: str) -> list[tuple[str, str, int, int]]:
    """(path, function, which of the functions of that name, indent) for
    every function of the package whose first body statement the full run
    executed."""
    files = json.loads(cov_json.read_text())["files"]
    out = []
    for path, data in sorted(files.items()):
        if not path.startswith(package):
            continue
        executed = set(data["executed_lines"])
        source = (root / path).read_text()
        for name, nth, (_, first, indent) in _functions(source):
            edit = (path, name, nth, indent)
            if first in executed and _compiles(edited(source, edit)):
                out.append(edit)
    return out


def _functions(source: str) -> list[tuple[str, int, tuple[int, int, int]]]:
    """Each function's name, which of that name it is, and where a first
    statement goes: (line to insert before, its first statement's line, indent)."""
    lines = source.splitlines()
    seen: dict[str, int] = {}
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        nth = seen[node.name] = seen.get(node.name, -1) + 1
        body = node.body
        if (
            len(body) > 1
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body = body[1:]  # After the docstring.
        first = body[0]
        # A decorated statement starts at its first decorator.
        start = min([first.lineno, *(d.lineno for d in getattr(first, "decorator_list", []))])
        alone = not lines[start - 1][: first.col_offset].strip()
        if start > node.lineno and alone:
            out.append((node.name, nth, (start, first.lineno, first.col_offset)))
    return out


def edited(source: str, edit: tuple[str, str, int, int], statement: str = "pass") -> str:
    """``source`` with ``statement`` before the function's first statement,
    found again in this text (earlier edits moved lines)."""
    _, name, nth, indent = edit
    line = next(at[0] for n, k, at in _functions(source) if (n, k) == (name, nth))
    lines = source.splitlines(keepends=True)
    lines.insert(line - 1, " " * indent + statement + "\n")
    return "".join(lines)


def _compiles(source: str) -> bool:
    try:
        compile(source, "<edit>", "exec", dont_inherit=True)
    except SyntaxError:
        return False
    return True


def apply(root: Path, edit: tuple[str, str, int, int], statement: str = "pass") -> None:
    file = root / edit[0]
    file.write_text(edited(file.read_text(), edit, statement))


def timed(args: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - started, proc


def passed_count(out: str) -> int:
    found = re.findall(r"(\d+) passed", out)
    return int(found[-1]) if found else 0


def median_worst(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f}, worst {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", choices=sorted(PROJECTS), default="click")
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    name, edits = ("marshmallow", 1) if args.smoke else (args.project, args.edits)
    project = PROJECTS[name]
    with tempfile.TemporaryDirectory() as tmp:
        root, python = prepare(Path(tmp), project)
        with (root / ".gitignore").open("a") as f:
            f.write(".testmondata*\n")
        commit_all(root, "ignore testmon's data")
        pytest_args = ["-q", "-p", "no:cacheprovider"]
        coverage_run = [str(python), "-m", "coverage", "run", "-m", "pytest"]
        cov_json = [str(python), "-m", "coverage", "json", "-q", "-o", "cov.json"]

        def full_run() -> float:
            a, _ = timed([*coverage_run, *pytest_args, *project.test_args], root)
            b, _ = timed(cov_json, root)
            return a + b

        plain = full_run()
        print(f"coverage run -m pytest + coverage json: {plain:.1f} s", flush=True)
        # The peer, in its own environment, warmed by its own full run.
        venv = Path(tmp) / "testmon-venv"
        run([sys.executable, "-m", "venv", str(venv)], root)
        tm_python = str(venv / "bin" / "python")
        import coverage
        import pytest

        pins = [f"pytest=={pytest.__version__}", f"coverage=={coverage.__version__}"]
        install = [tm_python, "-m", "pip", "install", "-q"]
        run([*install, "-e", ".", TESTMON, *pins], root, installed_as(project))
        if project.extras:  # After the project, as prepare() does.
            run([*install, *project.extras], root, installed_as(project))
        # --testmon-forceselect: testmon otherwise stops selecting when the
        # project's own options deselect (click's addopts has -m).
        testmon = [tm_python, "-m", "pytest", "--testmon", "--testmon-forceselect",
                   *pytest_args, *project.test_args]  # fmt: skip
        warm, proc = timed(testmon, root)
        if proc.returncode != 0 or not passed_count(proc.stdout):
            raise SystemExit(f"testmon's first run failed:\n{proc.stdout[-3000:]}{proc.stderr}")
        print(f"pytest --testmon, first (full) run: {warm:.1f} s", flush=True)

        rng = random.Random(args.seed)
        parts = project.edit.split("/")
        package = "/".join(parts[:2] if parts[0] == "src" else parts[:1]) + "/"
        pool = candidates(root, root / "cov.json", package)
        print(f"{len(pool)} functions of {package} that the suite executes", flush=True)
        chosen = rng.sample(pool, min(edits, len(pool)))
        rows = []
        for i, edit in enumerate(chosen, 1):
            apply(root, edit)
            run(["git", "add", edit[0]], root)
            t_check, proc = timed([*RATCHET, "check", "--format", "json"], root)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"check exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
            doc = json.loads(proc.stdout)
            t_testmon, tm = timed(testmon, root)
            if tm.returncode not in (0, 5):  # 5: no test selected.
                raise SystemExit(f"testmon failed:\n{tm.stdout[-3000:]}{tm.stderr}")
            tests = doc["tests_run"]
            if doc["mode"] == "selected" and tests:
                bare_run = [str(python), "-m", "pytest", *pytest_args, *by_function(tests)]
                t_bare, _ = timed(bare_run, root)
            else:
                t_bare = 0.0
            t_full = full_run()
            if compare(doc, root / "cov.json"):
                raise SystemExit("check's numbers differ from the full run's")
            ran = len(tests) if tests is not None else None
            rows.append((t_check, t_testmon, t_bare, t_full, ran, passed_count(tm.stdout)))
            what = f"{edit[0]}:{edit[1]}"
            print(
                f"edit {i:2d} {what[:60]:60} check {t_check:6.2f} s ({doc['mode']}, "
                f"{'all' if ran is None else ran} tests) testmon {t_testmon:6.2f} s "
                f"({rows[-1][5]} tests) bare {t_bare:5.2f} s full {t_full:6.1f} s",
                flush=True,
            )
            if doc["mode"] != "selected":
                print(f"         check ran everything: {doc['why']}", flush=True)
            commit_all(root, f"edit {i}")
        check = [r[0] for r in rows]
        peer = [r[1] for r in rows]
        full = [r[3] for r in rows]
        bare = [r[2] for r in rows]
        print(f"\n{name}: {len(rows)} edits, seed {args.seed}; numbers equal the full run's")
        print(f"ratchet check (s):           {median_worst(check)}")
        print(f"pytest --testmon (s):        {median_worst(peer)}")
        print(f"full coverage run (s):       {median_worst(full)}")
        ratios = [c / p for c, p in zip(check, peer, strict=True)]
        print(f"check / testmon:             {median_worst(ratios)}")
        shares = [c / f for c, f in zip(check, full, strict=True)]
        print(f"check / full run:            {median_worst(shares)}")
        over = [c - (1.5 * b + 0.5) for c, b in zip(check, bare, strict=True) if b]
        if over:
            print(
                f"check - (1.5 x bare pytest + 0.5 s) (s): {median_worst(over)} "
                "(<= 0 meets the goal)"
            )
        print(f"tests run, check: {[r[4] for r in rows]}; testmon: {[r[5] for r in rows]}")


if __name__ == "__main__":
    main()
