"""The last measurement's uncovered lines, kept per clone to name new ones.

The baseline keeps counts, not lines.  To say which statements a commit left
newly uncovered we need the uncovered lines of HEAD's content; every
measurement records its own under the git directory, keyed by a digest of
the content it measured (:func:`_key`).  When that key matches HEAD's, old
lines are mapped through the HEAD-to-index diff and compared; otherwise we
say we cannot tell.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zlib
from base64 import b64decode, b64encode
from collections.abc import Mapping, Sequence
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

# 3: keyed by :func:`_key`; each file's lines as :func:`ratchet.encoded.encode`
# bytes, base64.
FORMAT = 3
NAME = "last-run.json"


def _key(config: Config, ids: Mapping[str, str]) -> str:
    """A digest of the blob ids of the files among ``ids`` that can change
    coverage: two states with the same key have the same code, tests and
    configuration, so a measurement of one holds for the other.  The
    baseline file is left out: committing it does not change coverage."""
    baseline = config.baseline
    # Python files first, in one test: every one is relevant, and a check
    # computes this over every tracked file.
    paths = sorted(
        p for p in ids if p != baseline and (p.endswith(".py") or config.is_relevant(p))
    )
    text = "".join([f"{ids[p]} {p}\0" for p in paths])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


# HEAD's keys, kept for this process: (root, HEAD's commit, config) -> key.
_head_keys: dict[tuple[Path, str | None, Config], str | None] = {}


def _head_key(root: Path, config: Config) -> str | None:
    head = git.resolve(root, "HEAD")
    known = (root, head, config)
    if known not in _head_keys:
        ids = None if head is None else git.tree_ids(root, head)
        _head_keys[known] = None if ids is None else _key(config, ids)
    return _head_keys[known]


def prepare(root: Path, config: Config) -> None:
    """Work out HEAD's key now, while the tests run, for :func:`record`."""
    with contextlib.suppress(RatchetError):  # Else where it is needed, as without this.
        _head_key(root, config)


def record(root: Path, config: Config, measurement: Measurement) -> None:
    """Keep this run's uncovered lines, under the key of the content it measured.

    Only our own test runs qualify (given data may come from any commit).
    The record of HEAD's content is kept beside it: a refused commit must not
    erase what the next attempt compares with.
    """
    if not measurement.mode.ran_tests:
        return
    try:
        ids = measurement.content
        if ids is None:  # Not told what the tests ran on: only if it was the index.
            if not git.worktree_matches_index(root) or any(
                p != config.baseline and config.is_relevant(p) for p in git.untracked_paths(root)
            ):
                return
            ids = git.index_content_ids(root)
        key = _key(config, ids)
        git_dir = git.git_dir(root)
        runs = _load(git_dir)
        # HEAD's key only when there is an older record it could keep.
        head_key = _head_key(root, config) if runs.keys() - {key} else None
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
        missing = runs.get(str(_head_key(root, config)))
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
