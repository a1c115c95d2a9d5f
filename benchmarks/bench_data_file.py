"""``check --all --data .coverage``: coverage.py's data file read without ``coverage json``.

Generates N real Python modules (by default 20,000; lognormal sizes, with
branches, loops, ``with`` blocks and multi-line statements), measures a
driver that imports them all and calls a seeded half of their functions
(``coverage run``, branch mode), and times, medians of several fresh
processes each:

- ``python -c pass``, the unit;
- ``coverage json`` of that data file, what reporting cost before
  (:mod:`ratchet.coverage_report`);
- ``ratchet check --all --data .coverage`` with nothing kept (the first run
  in a clone), with kept parsers only (a file that executed other lines
  than before), and with kept results (a file as it was in an earlier
  report).  Files are analysed by up to one process per processor
  (:func:`ratchet.runner.report_shares`); the script prints how many.

Then checks that the baseline ``init`` wrote from the data file holds, file
for file, the numbers of ``coverage json``.  ``--smoke`` runs 300 files.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import astuple
from pathlib import Path

from common import RATCHET, commit_all, git_env, git_repo, peak_mb, report, time_command

from ratchet.baseline import load
from ratchet.coverage_report import NAME
from ratchet.runner import report_shares

FUNCTION = '''

def f{i}(items, flag=None):
    """Function {i}."""
    total = sum(
        x for x in items
    )
    if flag:
        total += {i}
    elif total > {limit}:
        total -= 1
    for item in items:
        if item is None:
            break
    else:
        total += 1
    with open(__file__) as handle:
        total += len(handle.readline()) > 0
    return total
'''


def generate(root: Path, files: int, seed: int) -> None:
    rng = random.Random(seed)
    calls = []
    for n in range(files):
        folder = root / "src" / f"pkg{n // 200:03d}"
        if n % 200 == 0:
            folder.mkdir(parents=True)
            (folder / "__init__.py").write_text("")
        functions = min(40, int(rng.lognormvariate(1.2, 0.8)) + 1)
        text = "import os\n" + "".join(
            FUNCTION.format(i=i, limit=rng.randint(0, 9)) for i in range(functions)
        )
        (folder / f"module_{n:06d}.py").write_text(text)
        module = f"pkg{n // 200:03d}.module_{n:06d}"
        called = [i for i in range(functions) if rng.random() < 0.5]
        calls.append((module, called, rng.choice([None, 1])))
    (root / "driver.py").write_text(
        "import importlib, sys\n"
        "sys.path.insert(0, 'src')\n"
        f"for name, called, flag in {calls!r}:\n"
        "    module = importlib.import_module(name)\n"
        "    for i in called:\n"
        "        getattr(module, f'f{i}')([1, 2, 3], flag)\n"
    )
    (root / "pyproject.toml").write_text(
        f"[tool.ratchet]\npython = {sys.executable!r}\n\n"
        "[tool.coverage.run]\nbranch = true\nsource = ['src']\n"
    )
    (root / ".gitignore").write_text(".coverage\n*.json\n__pycache__/\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    files, runs = (300, 2) if args.smoke else (args.files, args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        root = git_repo(Path(tmp) / "repo")
        generate(root, files, args.seed)
        commit_all(root, "code")
        started = time.perf_counter()
        run = [sys.executable, "-m", "coverage", "run", "driver.py"]
        subprocess.run(run, cwd=root, check=True, env=git_env())
        print(f"{files} files; coverage run of the driver: {time.perf_counter() - started:.1f} s")
        data = root / ".coverage"
        print(f"data file: {data.stat().st_size / 1e6:.1f} MB", flush=True)
        subprocess.run([*RATCHET, "init", "--force", "--data", str(data)], cwd=root, check=True)
        commit_all(root, "baseline")
        kept = root / ".git" / "ratchet" / NAME
        print(f"kept parsers: {kept.stat().st_size / 1e6:.1f} MB", flush=True)

        bare = time_command([sys.executable, "-c", "pass"], root, runs)
        coverage_json = [sys.executable, "-m", "coverage", "json", "-q", "-o", "reference.json"]
        plain = time_command(coverage_json, root, runs)
        check = [*RATCHET, "check", "--all", "--data", str(data)]
        cold, parsers = [], []
        for _ in range(runs):
            kept.unlink()
            cold += time_command(check, root, 1)
        for _ in range(runs):
            with sqlite3.connect(kept) as db:
                db.execute("DELETE FROM results")
            parsers += time_command(check, root, 1)
        warm = time_command(check, root, runs)
        print(f"report processes: {report_shares(data)}")
        report("python -c pass", bare)
        report(f"coverage json ({files} files)", plain, bare)
        report(f"check --all --data .coverage, nothing kept ({files} files)", cold, bare)
        report(f"check --all --data .coverage, kept parsers ({files} files)", parsers, bare)
        report(f"check --all --data .coverage, kept results ({files} files)", warm, bare)
        for name, times in (
            ("nothing kept", cold),
            ("kept parsers", parsers),
            ("kept results", warm),
        ):
            ratio = statistics.median(times) / statistics.median(plain)
            print(f"check ({name}) / coverage json alone: {ratio:.2f}")
        peaks = f"check {peak_mb(check):.0f} MB, coverage json {peak_mb(coverage_json):.0f} MB"
        print(f"peak memory: {peaks}")

        reference = json.loads((root / "reference.json").read_text())["files"]
        first = load(root / "coverage-baseline.toml").files  # From init: nothing kept.
        # Written again, every file's numbers now kept from earlier reports.
        subprocess.run(
            [*RATCHET, "init", "--force", "--data", str(data)],
            cwd=root,
            check=True,
            capture_output=True,
        )
        again = load(root / "coverage-baseline.toml").files
        keys = ("num_statements", "covered_lines", "num_branches", "covered_branches")
        for name, baseline in (("nothing kept", first), ("kept results", again)):
            wrong = []
            for path, entry in reference.items():
                expected = tuple(entry["summary"][k] for k in keys)
                recorded = baseline.get(path)
                # A baseline leaves out files without statements.
                found = astuple(recorded.numbers) if recorded else (0, 0, 0, 0)
                if found != expected:
                    wrong.append(path)
            equal = len(reference) - len(wrong)
            print(f"exactness ({name}): {equal} of {len(reference)} files equal")
            if wrong:
                raise SystemExit(f"numbers differ from coverage json: {wrong[:5]}")


if __name__ == "__main__":
    main()
