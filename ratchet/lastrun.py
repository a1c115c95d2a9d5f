"""The last measurement's uncovered lines, kept per clone to name new ones.

The baseline keeps counts, not lines.  To say which statements a commit left
newly uncovered we need the uncovered lines of HEAD's content; every
measurement records its own under the git directory, keyed by a digest of
the content it measured (:func:`ratchet.git.content_key`).  When that key
matches HEAD's, old lines are mapped through the HEAD-to-index diff and
compared; otherwise we say we cannot tell.
"""

from __future__ import annotations

import json
import zlib
from base64 import b64decode, b64encode
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ratchet import git, state
from ratchet.encoded import Lines, encode
from ratchet.errors import RatchetError
from ratchet.lines import added_lines, map_old_lines
from ratchet.state import StateError

if TYPE_CHECKING:
    from ratchet.config import Config
    from ratchet.measurement import Measurement

FORMAT = 2  # 2: each file's lines as :func:`ratchet.encoded.encode` bytes, base64.
NAME = "last-run.json"


def _relevant(config: Config) -> Callable[[str], bool]:
    # The baseline file is excluded: committing it does not change coverage.
    # Answers are kept: HEAD's files and the index's are nearly all the same.
    known: dict[str, bool] = {}

    def relevant(path: str) -> bool:
        found = known.get(path)
        if found is None:
            found = known[path] = path != config.baseline and config.is_relevant(path)
        return found

    return relevant


def record(root: Path, config: Config, measurement: Measurement) -> None:
    """Keep this run's uncovered lines, if it measured the index's content.

    Only our own test runs qualify (given data may come from any commit).
    The record of HEAD's content is kept beside it: a refused commit must not
    erase what the next attempt compares with.
    """
    if not measurement.mode.ran_tests:
        return
    try:
        is_relevant = _relevant(config)
        if not git.worktree_matches_index(root) or any(
            is_relevant(p) for p in git.untracked_paths(root)
        ):
            return  # The working tree was measured, and it is not the index.
        key = git.content_key(root, None, is_relevant)
        git_dir = git.git_dir(root)
        runs = _load(git_dir)
        head_key = git.content_key(root, "HEAD", is_relevant)
        kept = {k: v for k, v in runs.items() if k == head_key and k != key}
        # Encoded, as the map keeps them: most files' lines are never read back.
        kept[str(key)] = {
            p: b64encode(encode(r.missing_lines)).decode() for p, r in measurement.files.items()
        }
        doc = {"format": FORMAT, "runs": kept}
        state.write(git_dir, NAME, json.dumps(doc, separators=(",", ":")).encode())
    except (RatchetError, StateError):
        return  # A cache: failing to write it changes no verdict.


def _load(git_dir: Path) -> dict[str, Any]:
    raw = state.read(git_dir, NAME)
    try:
        doc = json.loads(raw) if raw is not None else None
    except (ValueError, RecursionError):
        return {}
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return {}
    runs = doc.get("runs")
    return runs if isinstance(runs, dict) else {}


def missing_at_head(root: Path, config: Config) -> Mapping[str, Sequence[int]] | None:
    """HEAD's uncovered lines per file, when the last measurement was of HEAD."""
    try:
        runs = _load(git.git_dir(root))
        if not runs:
            return None
        missing = runs.get(str(git.content_key(root, "HEAD", _relevant(config))))
    except RatchetError:
        return None
    if not isinstance(missing, dict):
        return None
    try:
        return {p: Lines(b64decode(v, validate=True)) for p, v in missing.items()}
    except (TypeError, ValueError):
        return None  # Damaged: as if there were none.


def newly_uncovered(
    root: Path,
    path: str,
    current: Sequence[int],
    head_missing: Mapping[str, Sequence[int]] | None,
    renamed_from: str | None = None,
) -> tuple[set[int], set[int] | None]:
    """Uncovered lines the commit adds, and all newly uncovered lines (None: unknown)."""
    hunks = git.staged_hunks(root, path, renamed_from)
    now = set(current)
    added = now & added_lines(hunks)
    old = renamed_from or path
    if head_missing is None or old not in head_missing:
        return added, None
    try:
        then = list(head_missing[old])
    except (ValueError, zlib.error):
        return added, None  # A damaged record: unknown, as without one.
    return added, now - map_old_lines(hunks, then)
