"""The test map at monorepo scale: many measured files, many tests.

Generates a project of ``--files`` modules (two small functions each, one
with a branch) and ``--tests`` tests (50 per test module, each calling one
function of one module, so every module is used by a few tests), commits
it, and runs, with peak memory:

- ``ratchet init``: the whole suite under coverage, recording the map;
- the map's size on disk, in bytes per test;
- ``--edits`` times, a one-function body edit in a module chosen at random
  (seeded), staged, then ``ratchet check`` as the hook runs it: its whole
  time, the test run's time (as check prints it) and the difference, the
  hook's own time (git, map, selection, analysis, verdicts).  Each edit is committed, so the
  next check starts from the map the previous one left;
- ``--idle-edits`` times, an edit no test runs (a comment line added in a
  function body), staged, then ``ratchet check``: with no test run to
  overlap, all of its time is the hook's own.

With ``--peers``, first the same suite as pytest alone and as a plain
``coverage run -m pytest``, each with its time and peak memory: the floor
under ``init``'s peak is pytest's own, which holds every collected test.

Goals (issue "Monorepo scale"): at 20,000 files and 100,000 tests, the
hook's own time at most 0.5 s, the map at most 200 bytes per test, peak
memory at most 500 MB.

    python benchmarks/bench_map_scale.py --files 20000 --tests 100000 --peers

``--smoke`` runs 200 files and 1,000 tests (with ``--peers``).  ``--keep DIR``
generates and records the project in DIR and leaves it there; given a DIR
that holds one already, it skips both (``init`` of 100,000 tests takes
8-25 minutes) and times the edits on it as it is.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import PEAK_KB, RATCHET, commit_all, git_env, git_repo, hook_check, time_command

REPO = Path(__file__).resolve().parent.parent
PER_TEST_MODULE = 50
PER_PACKAGE = 200

MODULE = """\
ID = {i}


def f(x):
    if x > ID % 7:
        return x + ID
    return -x


def g(x):
    y = x * 2
    return y + ID
"""


def module_name(i: int) -> str:
    return f"app.p{i // PER_PACKAGE:03d}.m{i:06d}"


def module_path(i: int) -> str:
    return module_name(i).replace(".", "/") + ".py"


def generate(root: Path, files: int, tests: int, seed: int) -> None:
    rng = random.Random(seed)
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    for p in range((files + PER_PACKAGE - 1) // PER_PACKAGE):
        package = root / "app" / f"p{p:03d}"
        package.mkdir()
        (package / "__init__.py").write_text("")
    for i in range(files):
        (root / module_path(i)).write_text(MODULE.format(i=i))
    (root / "tests").mkdir()
    for t in range(0, tests, PER_TEST_MODULE):
        uses = [(rng.randrange(files), rng.choice("fg"), rng.randint(-3, 9)) for _ in range(50)]
        uses = uses[: min(PER_TEST_MODULE, tests - t)]
        imports = sorted({i for i, _, _ in uses})
        lines = [f"import {module_name(i)}" for i in imports]
        for n, (i, fn, x) in enumerate(uses):
            call = f"{module_name(i)}.{fn}({x})"
            lines += ["", "", f"def test_{t + n:06d}():", f"    assert {call} != 0.5"]
        test_module = root / "tests" / f"test_t{t // PER_TEST_MODULE:05d}.py"
        test_module.write_text("\n".join(lines) + "\n")
    (root / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\n"
        'pythonpath = ["."]\n'
        'testpaths = ["tests"]\n'
        "[tool.coverage.run]\n"
        'source = ["app"]\n'
        "branch = true\n"
        "[tool.ratchet]\n"
        f"python = {json.dumps(sys.executable)}\n"
        'test-command = "pytest -q -p no:randomly"\n'
    )
    (root / ".gitignore").write_text("__pycache__/\n.coverage*\n")


def edit(root: Path, i: int, n: int) -> None:
    """g()'s body statement changed: ``n`` makes it new even where edited before."""
    path = root / module_path(i)
    text = path.read_text()
    path.write_text(
        re.sub(r"    y = x \* 2[^\n]*\n", f"    y = x * 2 + {n} - {n}\n", text, count=1)
    )


def idle_edit(root: Path, i: int, n: int) -> None:
    """A comment line in g()'s body: the block changed, no statement did."""
    path = root / module_path(i)
    text = path.read_text()
    path.write_text(text.replace("    y = x * 2", f"    # note {n}\n    y = x * 2", 1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--tests", type=int, default=100_000)
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--idle-edits", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--peers", action="store_true", help="time pytest and coverage.py alone")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="the project's folder, kept")
    args = parser.parse_args()
    files, tests, edits, idle = (
        (200, 1_000, 2, 2) if args.smoke else (args.files, args.tests, args.edits, args.idle_edits)
    )
    sys.path.insert(0, str(REPO))
    from ratchet.selection.store import NAME

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep.resolve() if args.keep else Path(tmp) / "mono"
        kept = (root / ".git" / "ratchet" / NAME).is_file()
        if kept:
            print(f"{root}: generated and recorded already, as its last edit left it")
        else:
            record(root, files, tests, args.seed, peers=args.peers or args.smoke)
        size = (root / ".git" / "ratchet" / NAME).stat().st_size
        print(f"map on disk: {size / 1e6:.1f} MB, {size / tests:.0f} bytes per test")
        edit_loop(root, files, edits, idle, args.seed)


def record(root: Path, files: int, tests: int, seed: int, *, peers: bool) -> None:
    """Generate the project in ``root``, commit it and record its map."""
    git_repo(root)
    started = time.perf_counter()
    generate(root, files, tests, seed)
    commit_all(root, "the project")
    print(f"{files} files, {tests} tests generated in {time.perf_counter() - started:.1f} s")
    if peers:
        pytest = ["-m", "pytest", "-q", "-p", "no:randomly"]
        coverage = ["-m", "coverage", "run", "--data-file=.peer-coverage"]
        for name, args_ in (
            ("pytest alone", pytest),
            ("coverage run -m pytest", coverage + pytest),
        ):
            command = [sys.executable, *args_]
            (seconds,) = time_command(command, root, 1)
            print(f"{name}: {seconds:.1f} s, peak {_mb(command):.0f} MB")
        (root / ".peer-coverage").unlink()
    init = [*RATCHET, "init"]
    (seconds,) = time_command(init, root, 1)
    print(f"ratchet init (records the map): {seconds:.1f} s, peak {_mb(init):.0f} MB")
    commit_all(root, "baseline")


def edit_loop(root: Path, files: int, edits: int, idle: int, seed: int) -> None:
    """Function edits, then edits no test runs, each staged, checked, committed.

    On a kept project, the edits of a later run are others (seeded by its
    number of commits too), numbered past every earlier one."""
    commits = subprocess.run(
        ["git", "rev-list", "--count", "HEAD"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    before = int(commits.stdout) - 2  # The project and its baseline.
    rng = random.Random(seed + 1 + before)
    check = [*RATCHET, "check"]
    total: list[float] = []
    own: list[float] = []
    ran: list[int] = []
    for n in range(edits):
        edit(root, rng.randrange(files), before + n + 1)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=git_env())
        seconds, tests_ran, test_run = hook_check(root)
        total.append(seconds)
        own.append(total[-1] - test_run)
        ran.append(tests_ran)
        print(
            f"edit {n + 1}: ran {ran[-1]} tests; check {total[-1]:.2f} s,"
            f" its test run {test_run:.1f} s, its own {own[-1]:.2f} s",
            flush=True,
        )
        commit_all(root, f"edit {n + 1}")
    idle_own: list[float] = []
    for n in range(idle):
        idle_edit(root, rng.randrange(files), before + n + 1)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=git_env())
        seconds, tests_ran, test_run = hook_check(root)
        if tests_ran:
            raise SystemExit(f"an edit no test runs ran {tests_ran} tests")
        idle_own.append(seconds - test_run)
        print(f"edit no test runs {n + 1}: check {idle_own[-1]:.2f} s, all own", flush=True)
        commit_all(root, f"comment {n + 1}")
    # One more function edit, for the peak memory of a check that runs tests
    # and updates the map (its test process's included).
    edit(root, rng.randrange(files), before + edits + idle + 1)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=git_env())
    (edited,) = time_command(check, root, 1)
    edited_mb = _mb(check)
    commit_all(root, "edit, peak")
    PEAK_KB.clear()
    peak = time_command(check, root, 1)  # Nothing staged: the hook's skip.
    print(
        f"one-function edits: check median {statistics.median(total):.2f} s,"
        f" own time median {statistics.median(own):.2f} s (worst {max(own):.2f} s),"
        f" {statistics.median(ran):g} tests run (median)"
    )
    if idle_own:
        print(
            f"edits no test runs: own time median {statistics.median(idle_own):.2f} s"
            f" (worst {max(idle_own):.2f} s)"
        )
    print(f"check of one more function edit: {edited:.2f} s, peak {edited_mb:.0f} MB")
    print(f"check with nothing staged: {peak[0]:.2f} s, peak {_mb(check):.0f} MB")


def _mb(args: list[str]) -> float:
    return PEAK_KB.get(" ".join(args), 0) / 1024


if __name__ == "__main__":
    main()
