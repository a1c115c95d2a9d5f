"""Temporary folders for a run, and the sweep of those a killed run left behind.

Every run's temporary files (coverage data, the test map's raw output, a
snapshot of the index) live in one folder under a per-user parent, named
with the process id.  A run stopped by Ctrl-C, SIGTERM or SIGHUP removes
its folder on the way out; one killed outright cannot, so each run first
removes the folders of processes that no longer exist.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Folders kept between runs (ratchet.snapshot's copies of the index): a name
# without the pid that the sweep reads, so it never removes them.
KEPT = "snapshot-"


def where() -> Path:
    """``$TMPDIR/ratchet-<uid>``: the runs' folders are in it."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"ratchet-{uid}"


def parent() -> Path | None:
    """:func:`where`, ours alone; None when it cannot be trusted."""
    folder = where()
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        return None  # A link or someone else's folder: do not use it.
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def sweep(parent: Path) -> None:
    """Remove the folders of runs whose process is gone."""
    for entry in parent.iterdir():
        pid = entry.name.rsplit("-", 2)[-2] if entry.name.count("-") >= 2 else ""
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


@contextmanager
def folder(prefix: str = "ratchet-") -> Iterator[Path]:
    """A new temporary folder, removed when the block ends however it ends."""
    ours = parent()
    if ours is not None:
        with contextlib.suppress(OSError):
            sweep(ours)
    # <prefix><pid>-<random>: the pid tells the sweep whose folder it is.
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=ours))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
