"""The copy of the index a check measures when the working tree differs from it.

A repository of ``--files`` Python files (in folders of 100) is committed;
then, ``--runs`` times, one file is edited and staged, an untracked file
lies beside, and this script times, in this process:

- a fresh export of the index into a new temporary folder (what every such
  check did before the copy was kept), removed after;
- bringing the kept copy up to date (``ratchet.snapshot.of_index``): the
  index listed, the copy walked, the one edited file written again.

Only the copy's own cost: the tests' bytecode, which the kept copy keeps
valid and a fresh export compiles again, is measured by
``bench_real_project.py`` (a check with an untracked file beside).

    python benchmarks/bench_snapshot.py --files 20000
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from common import commit_all, git_env, git_repo, report

from ratchet import snapshot


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    files, runs = (500, 3) if args.smoke else (args.files, args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        tempfile.tempdir = str(Path(tmp, "scratch"))  # Its kept copies, not the machine's.
        Path(tempfile.tempdir).mkdir()
        root = Path(tmp, "repo")
        for i in range(files):
            path = root / f"pkg{i // 100}" / f"m{i}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"def f{i}(x):\n    return x + {i}\n")
        git_repo(root)
        commit_all(root, "files")
        (root / "untracked.py").write_text("X = 1\n")
        fresh: list[float] = []
        kept: list[float] = []
        with snapshot.of_index(root, "bench-") as first:  # Fills the kept copy.
            assert snapshot.is_kept(first)
        for n in range(runs):
            edited = root / "pkg0" / "m0.py"
            edited.write_text(f"def f0(x):\n    return x + {n + 1}\n")
            subprocess.run(["git", "add", "pkg0/m0.py"], cwd=root, check=True, env=git_env())
            started = time.perf_counter()
            with tempfile.TemporaryDirectory() as out:
                snapshot.export(root, Path(out, root.name))
            fresh.append(time.perf_counter() - started)
            started = time.perf_counter()
            with snapshot.of_index(root, "bench-") as copy:
                kept.append(time.perf_counter() - started)
                assert snapshot.is_kept(copy)
                assert (copy / "pkg0" / "m0.py").read_text() == edited.read_text()
        print(f"{files} files, one edited and staged each run, an untracked file beside:")
        report("fresh export of the index (removed after)", fresh)
        report("kept copy brought up to date", kept, fresh)


if __name__ == "__main__":
    main()
