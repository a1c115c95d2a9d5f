"""Gains recorded in the commit being made (``record-gains = true``).

The way pre-commit's formatters work: a passing commit whose files rose
writes the raised baseline.  Started by the plain git hook (``ratchet
install``), ratchet stages it into the commit being made (git takes the
index as the hook left it, also the temporary index of ``git commit -a``).
Under pre-commit the hook only writes it; pre-commit then stops the commit
once with "files were modified by this hook", and the user adds the file and
commits again, as after a formatter.

Only what ``ratchet update`` would record from the same numbers is written:
nothing is ever lowered.  Nothing is written after a failing run, from given
data, for ``--all``/``--base`` runs, or when the baseline has unstaged edits
of the user's.
"""

from __future__ import annotations

import datetime
import os
import subprocess
from dataclasses import replace
from enum import Enum
from pathlib import Path

from ratchet import git
from ratchet.change import Change
from ratchet.config import Config
from ratchet.measurement import Measurement
from ratchet.rules import Outcome
from ratchet.verdicts import FileVerdict

# The plain hook that ``ratchet install`` writes says it is the hook.
HOOK_VARIABLE = "RATCHET_HOOK"
_GAINS = frozenset({Outcome.GAIN, Outcome.NEW})


class Hook(Enum):
    GIT = "git"  # The plain git hook: the baseline is staged into the commit.
    PRE_COMMIT = "pre-commit"  # pre-commit: written; pre-commit asks to add it.


def running_hook() -> Hook | None:
    """Which commit hook started this check, if one did."""
    if os.environ.get("PRE_COMMIT") == "1":
        return Hook.PRE_COMMIT
    if os.environ.get(HOOK_VARIABLE) == "1":
        return Hook.GIT
    return None


def record_gains(
    root: Path,
    config: Config,
    change: Change,
    measurement: Measurement,
    verdicts: tuple[FileVerdict, ...],
    hook: Hook,
) -> tuple[bool, str]:
    """Write (and with the plain hook, stage) the raised baseline: whether it
    was written, and what to say."""
    from ratchet.baseline import write_atomic
    from ratchet.lock import baseline_lock

    if not any(v.outcome in _GAINS for v in verdicts):
        return False, ""
    path = root / config.baseline
    staged = git.index_file(root, config.baseline)
    try:
        on_disk: bytes | None = path.read_bytes()
    except FileNotFoundError:
        on_disk = None
    if on_disk != staged:
        return False, (
            f"gains not recorded: {config.baseline} has unstaged changes; "
            "run `ratchet update` and add it"
        )
    raised = raised_baseline(config, change, measurement, staged)
    if raised is None:
        return False, ""
    text, count = raised
    with baseline_lock(git.git_dir(root), path):
        write_atomic(path, text)
    what = f"recorded the new numbers of {count} file(s) in {config.baseline}"
    if hook is Hook.PRE_COMMIT:
        return True, (
            f"{what}: `git add {config.baseline}` and commit again "
            "(pre-commit stops a commit once when a hook writes a file)"
        )
    # The hook runs with git's variables: GIT_INDEX_FILE names the index
    # being committed (a temporary one under `git commit -a` or `git commit PATH`).
    proc = subprocess.run(
        ["git", "add", "--", config.baseline],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return True, (
            f"{what}, but could not stage it ({proc.stderr.strip() or proc.returncode}); "
            f"`git add {config.baseline}` and commit it"
        )
    return True, f"{what}, staged into this commit"


def raised_baseline(
    config: Config, change: Change, measurement: Measurement, before: bytes | None
) -> tuple[str, int] | None:
    """What ``ratchet update`` would write from this run over ``before`` (the
    baseline's text; the user's comments kept), and how many files it raises
    or adds; None when it would raise nothing."""
    from ratchet.baseline import dumps
    from ratchet.baseline_edit import rewrite
    from ratchet.ledger import raise_baseline

    measured = {p: r.numbers for p, r in measurement.files.items()}
    new, changes = raise_baseline(
        change.baseline,
        measured,
        change.exists,
        config,
        renamed=change.renamed,
        today=datetime.date.today().isoformat(),
    )
    if changes.lowered:  # pragma: no cover - nothing is lowered without --allow-lower
        raise AssertionError("recording gains lowered an entry")
    count = len(changes.raised) + len(changes.added)
    if not count:
        return None
    new = replace(new, coverage_version=measurement.coverage_version)
    if before is None:
        return dumps(new), count
    text, _ = rewrite(before.decode("utf-8", "replace"), change.baseline, new)
    if text.encode("utf-8") == before:
        return None
    return text, count
