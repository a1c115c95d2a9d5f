"""``ratchet demo``: the quick start's first command, run as a newcomer runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    return subprocess.run(
        [sys.executable, "-m", "ratchet", "demo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_the_demo_shows_a_baseline_a_refusal_and_a_recorded_gain(tmp_path: Path) -> None:
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("ratchet-demo-*"))
    done = _demo(cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # A baseline.
    assert "ratchet: wrote coverage-baseline.toml: 3 files" in out
    # A commit refused, with the file, the drop and the newly uncovered lines.
    refused = out.split("$ git commit -am 'Add discount()'")[1].split("\n# ")[0]
    assert "shop/cart.py: 100.00% -> 64.29%" in refused
    assert "newly uncovered lines: 15-17" in refused
    assert "ratchet: BLOCKED: 1 file(s) got worse" in refused
    # A gain accepted and recorded in the same commit.
    gained = out.split("$ git commit -am 'Add discount(), tested'")[1].split("\n# ")[0]
    assert "shop/pricing.py: 21.21% -> 54.55%" in gained
    assert "recorded the new numbers of 2 file(s) in coverage-baseline.toml" in gained
    assert "coverage-baseline.toml | " in gained  # `git show --stat`: it is in the commit.
    # The tier report.
    assert "shop/pricing.py          21  21.21%  80.00%   54.55%" in out
    # Nothing left behind but what it says.
    assert "removed." in out
    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob("ratchet-demo-*")) == before
    assert list(tmp_path.iterdir()) == []


def test_keep_will_not_build_in_a_folder_that_holds_anything(tmp_path: Path) -> None:
    (tmp_path / "sample").mkdir()
    (tmp_path / "sample" / "notes.txt").write_text("mine\n")
    refused = _demo("--keep", "sample", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr == (
        "ratchet: error: demo: sample exists and is not empty (name a new folder)\n"
    )
    assert [p.name for p in (tmp_path / "sample").iterdir()] == ["notes.txt"]
