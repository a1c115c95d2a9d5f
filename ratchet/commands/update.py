"""``ratchet update``: record gains.  Nothing is lowered without being asked."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ratchet import git, lastrun
from ratchet.baseline import (
    dumps,
    loads_bytes,
    read_bytes,
    write_atomic,
)
from ratchet.baseline_edit import rewrite
from ratchet.commands.common import (
    ensure_same_mode,
    ensure_writable,
    measure_here,
    measurement_notes,
    repo_relative,
    version_note,
)
from ratchet.config import Config, load_config
from ratchet.errors import PASSED, RatchetError
from ratchet.ledger import Changes, raise_baseline
from ratchet.lock import baseline_lock
from ratchet.nodata import refuse_empty
from ratchet.paths import has_control
from ratchet.printable import echo


def update(
    *,
    all_files: bool = False,
    data: Sequence[str] = (),
    allow_lower: Sequence[str] = (),
    reason: str | None = None,
    cwd: Path | None = None,
) -> int:
    """Measure, raise the baseline, write it atomically; the exit code.

    A full test run judges every file, so ``all_files`` changes nothing yet;
    it is accepted for scripts that want to say so explicitly.
    """
    del all_files
    here = cwd or Path.cwd()
    root = git.toplevel(here)
    config = load_config(root)
    lower = repo_relative(root, allow_lower, here)
    if lower and not (reason and reason.strip()):
        raise RatchetError("--allow-lower needs --reason TEXT", hint="say why it may go down")
    if reason and has_control(reason):
        raise RatchetError("--reason: one line of text, without control characters")
    if reason and not lower:
        raise RatchetError("--reason goes with --allow-lower PATH")
    ensure_writable(root, config.baseline)
    # Held from reading the baseline to writing it: a concurrent update
    # waits, then starts from this one's result, so no raise is lost.
    with baseline_lock(git.git_dir(root), root / config.baseline):
        return _update(root, config, data, lower, reason)


def _update(
    root: Path, config: Config, data: Sequence[str], lower: list[str], reason: str | None
) -> int:
    path = root / config.baseline
    before = read_bytes(path, config.baseline)
    baseline = loads_bytes(before, config.baseline)
    exists = {p for p in baseline.files if (root / p).exists()}
    gone = any(p not in exists for p in baseline.files)
    renamed = git.renamed(root, worktree=True) if gone else {}
    followed = {new for new, old in renamed.items() if old in baseline.files}
    unknown = [p for p in lower if p not in baseline.files and p not in followed]
    if unknown:
        raise RatchetError(f"--allow-lower {unknown[0]}: not in {config.baseline}")
    measurement = measure_here(root, config, data)
    refuse_empty(measurement, baseline, exists)
    ensure_same_mode(baseline, measurement, config.baseline)
    note = version_note(baseline, measurement)
    measured = {p: r.numbers for p, r in measurement.files.items()}
    today = datetime.date.today().isoformat()
    new, changes = raise_baseline(
        baseline,
        measured,
        exists,
        config,
        allow_lower=dict.fromkeys(lower, (reason or "").strip()),
        renamed=renamed,
        today=today,
    )
    new = replace(new, coverage_version=measurement.coverage_version)
    lowered = {path for path, *_ in changes.lowered}
    for p in lower:
        if p in lowered:
            continue
        echo(f"ratchet: --allow-lower {p}: it did not go down; nothing lowered")
    echo(f"ratchet: measured {len(measured)} files with {measurement.how}")
    for line in [*([note] if note else []), *measurement_notes(measurement)]:
        echo(f"ratchet: note: {line}")
    _report(changes)
    lastrun.record(root, config, measurement)
    canonical_old = dumps(baseline)
    # The user's comments and blank lines are kept (the canonical form is rewritten).
    text, dropped = rewrite(before.decode("utf-8"), baseline, new, canonical_old=canonical_old)
    if text.encode("utf-8") == before:
        echo(f"ratchet: {config.baseline} is up to date")
        return PASSED
    if read_bytes(path, config.baseline) != before:
        # The lock keeps other ratchet commands out, not git or an editor.
        raise RatchetError(
            f"{config.baseline} changed while update ran (a merge, a checkout, an editor?); "
            "nothing was written",
            hint="run `ratchet update` again",
        )
    write_atomic(path, text)
    if dropped:
        echo(
            f"ratchet: note: {dropped} comment(s) written by hand in {config.baseline} could "
            "not be kept (the file is rewritten in its canonical form); say why in commit messages"
        )
    echo(f"ratchet: wrote {config.baseline}; commit it with your change")
    return PASSED


SHOWN = 30  # Lines listed per kind of change; the rest are counted.


def _report(changes: Changes) -> None:
    def show(lines: list[str]) -> None:
        for line in lines[:SHOWN]:
            echo(line)
        if len(lines) > SHOWN:
            echo(f"  ... and {len(lines) - SHOWN} more")

    show([f"  raised   {p}: {a.display()} -> {b.display()}" for p, a, b in changes.raised])
    show(
        [
            f"  recorded {p}: {a.display()} -> {b.display()} (covered code deleted)"
            for p, a, b in changes.deletion_drops
        ]
    )
    show(
        [
            f"  LOWERED  {p}: {a.display()} -> {b.display()} (--allow-lower)"
            for p, a, b in changes.lowered
        ]
    )
    show(
        [f"  renamed  {old} -> {new}: the entry follows the file" for old, new in changes.renamed]
    )
    show([f"  added    {p}: {e.numbers.display()}" for p, e in changes.added])
    show([f"  dropped  {p} (file no longer exists)" for p in changes.dropped])
    show(
        [
            f"  kept     {p}: {a.display()}, now {b.display()} ({o.value}); "
            "`ratchet check` refuses this, see --allow-lower"
            for p, a, b, o in changes.kept
        ]
    )
    show([f"  kept     {p}: not measured by this run" for p in changes.unmeasured])
    counts = [
        (len(changes.raised), "raised"),
        (len(changes.deletion_drops), "recorded deletion drops"),
        (len(changes.lowered), "lowered"),
        (len(changes.renamed), "renamed"),
        (len(changes.added), "added"),
        (len(changes.dropped), "dropped"),
    ]
    summary = ", ".join(f"{n} {what}" for n, what in counts if n)
    echo(f"ratchet: {summary or 'no entry changed'}")
