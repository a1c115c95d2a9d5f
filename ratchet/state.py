"""Per-clone state under the git directory (``.git/ratchet/``), never committed.

The test map, the last measurement's uncovered lines and the baseline's lock
live here.  The first two are caches: a failure to write them (a read-only
git directory, a ``.git/ratchet`` that is not a folder, a full disk) must
never change a verdict, so writers get a :class:`StateError` to turn into a
note, and readers treat what they cannot read as absent.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FOLDER = "ratchet"


class StateError(Exception):
    """Per-clone state could not be written; the message says why."""


def path(git_dir: Path, name: str) -> Path:
    return git_dir / FOLDER / name


def folder(git_dir: Path) -> Path:
    """The state folder, created if needed; :class:`StateError` if it cannot be."""
    where = git_dir / FOLDER
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StateError(f"cannot create {where} ({e.strerror or e})") from None
    return where


def write(git_dir: Path, name: str, data: bytes) -> None:
    """Replace ``name`` with ``data`` atomically (readers see old or new)."""
    target = folder(git_dir) / name
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(exist_ok=True)  # For a name in a folder of its own.
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise StateError(f"cannot write {target} ({e.strerror or e})") from None


def read(git_dir: Path, name: str) -> bytes | None:
    """``name``'s bytes, or None when absent or unreadable (a cache miss)."""
    try:
        return path(git_dir, name).read_bytes()
    except OSError:
        return None


def remove(git_dir: Path, name: str) -> None:
    # A cache that cannot be removed is only read again, and checked.
    with contextlib.suppress(OSError):
        path(git_dir, name).unlink(missing_ok=True)
