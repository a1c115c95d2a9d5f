"""The last measurement's uncovered lines, kept per clone to name new ones.

The baseline keeps counts, not lines.  To say which statements a commit left
newly uncovered we need the uncovered lines of HEAD's content; every
measurement records its own under the git directory, keyed by a digest of
the content it measured (:func:`_key`).  When that key matches HEAD's, old
lines are mapped through the HEAD-to-index diff and compared; otherwise we
say we cannot tell.

Each record is a file of its own (``last-run/<key>``), so that a check
writes only its own and reads only HEAD's, and only when it refuses.  At
20,000 files one JSON file of both took a tenth of a second per check.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import struct
import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ratchet import git, state
from ratchet.encoded import Lines, encode
from ratchet.errors import RatchetError
from ratchet.lines import added_lines, map_old_lines
from ratchet.state import StateError

if TYPE_CHECKING:
    from pathlib import Path

    from ratchet.config import Config
    from ratchet.measurement import Measurement

FOLDER = "last-run"
# A record: this line, the key and a line break; the number of files (4
# bytes, little-endian); the lengths of each file's path, then of each
# file's lines (4 bytes each, little-endian); the paths; the lines, as
# ratchet.encoded.encode writes them.  Each part is made in one step in C.
_MAGIC = b"ratchet last-run 4\n"
_KEY = re.compile(r"[0-9a-f]{64}")
_OLD_NAME = "last-run.json"  # Format 3: all records in one file.


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
# The key of the content the tests run on, worked out while they run.
_content_keys: list[tuple[dict[str, str], Config, str]] = []


def _head_key(root: Path, config: Config) -> str | None:
    head = git.resolve(root, "HEAD")
    known = (root, head, config)
    if known not in _head_keys:
        ids = None if head is None else git.head_ids(root, head) or git.tree_ids(root, head)
        _head_keys[known] = None if ids is None else _key(config, ids)
    return _head_keys[known]


def _content_key(config: Config, ids: Mapping[str, str]) -> str:
    for kept_ids, kept_config, key in _content_keys:
        if kept_config == config and kept_ids == ids:
            return key
    key = _key(config, ids)
    _content_keys[:] = [(dict(ids), config, key)]
    return key


def prepare(root: Path, config: Config, content: Mapping[str, str] | None = None) -> None:
    """Work out HEAD's key, and that of ``content`` (what the tests run on),
    now, while the tests run, for :func:`record`."""
    with contextlib.suppress(RatchetError):  # Else where it is needed, as without this.
        _head_key(root, config)
    if content is not None:
        _content_key(config, content)


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
        key = _content_key(config, ids)
        git_dir = git.git_dir(root)
        others = [k for k in _recorded(git_dir) if k != key]
        # HEAD's key only when there is an older record it could keep.
        head_key = _head_key(root, config) if others else None
        # Encoded, as the map keeps them: most files' lines are never read back.
        state.write(
            git_dir,
            f"{FOLDER}/{key}",
            _pack(key, {p: encode(r.missing_lines) for p, r in measurement.files.items()}),
        )
        for old in others:
            if old != head_key:
                state.remove(git_dir, f"{FOLDER}/{old}")
        state.remove(git_dir, _OLD_NAME)
    except (RatchetError, StateError):
        return  # A cache: failing to write it changes no verdict.


def _recorded(git_dir: Path) -> list[str]:
    """The keys of the records kept."""
    try:
        names = os.listdir(state.path(git_dir, FOLDER))
    except OSError:
        return []
    return [name for name in names if _KEY.fullmatch(name)]


def _pack(key: str, files: Mapping[str, bytes]) -> bytes:
    names = [path.encode("utf-8", "surrogateescape") for path in files]
    sizes = [*map(len, names), *map(len, files.values())]
    count = len(names).to_bytes(4, "little")
    lengths = struct.pack(f"<{len(sizes)}I", *sizes)
    return b"".join([_MAGIC, key.encode(), b"\n", count, lengths, *names, *files.values()])


def _unpack(key: str, raw: bytes) -> dict[str, Lines] | None:
    """A record's files, or None when it is not a whole record of ``key``."""
    head = _MAGIC + key.encode() + b"\n"
    if not raw.startswith(head) or len(raw) < len(head) + 4:
        return None
    count = int.from_bytes(raw[len(head) : len(head) + 4], "little")
    at = len(head) + 4 + 8 * count
    if len(raw) < at:
        return None
    sizes = struct.unpack_from(f"<{2 * count}I", raw, len(head) + 4)
    if sum(sizes) != len(raw) - at:
        return None  # Cut short, or longer than it says.
    paths = []
    for size in sizes[:count]:
        paths.append(raw[at : at + size].decode("utf-8", "surrogateescape"))
        at += size
    files: dict[str, Lines] = {}
    for path, size in zip(paths, sizes[count:], strict=True):
        files[path] = Lines(raw[at : at + size])
        at += size
    return files if len(files) == count else None


def missing_at_head(root: Path, config: Config) -> Mapping[str, Sequence[int]] | None:
    """HEAD's uncovered lines per file, when the last measurement was of HEAD."""
    try:
        key = _head_key(root, config)
        if key is None:
            return None
        raw = state.read(git.git_dir(root), f"{FOLDER}/{key}")
    except RatchetError:
        return None
    return None if raw is None else _unpack(key, raw)


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
