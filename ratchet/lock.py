"""One writer of the baseline at a time.

Two ``ratchet update`` at once would each read the old baseline and the
second write would drop the first one's raises.  Commands that write the
baseline hold an exclusive lock on a file in the git directory for the whole
read-measure-write.  The operating system's advisory lock (``flock``, or
``msvcrt.locking`` on Windows) is released when its holder dies, even by
``kill -9``, so a lock left behind never blocks: the file stays, the lock
does not.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ratchet import state

NAME = "baseline.lock"
_POLL = 0.1  # Seconds between attempts while another writer holds it.


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(path: Path) -> str:
    try:
        pid = path.read_text("utf-8").strip()
    except OSError:  # pragma: no cover - removed between attempts
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


@contextmanager
def baseline_lock(git_dir: Path, baseline: Path) -> Iterator[None]:
    """Hold the baseline's lock; wait, saying so once, while another has it.

    Holding it, no other write of ``baseline`` is under way, so temporary
    files that a killed writer left beside it are removed.  Where no lock
    can be made (a read-only git directory), the write goes ahead unlocked,
    and says so: the baseline itself is still replaced atomically.
    """
    why = ""
    try:
        path = state.folder(git_dir) / NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except state.StateError as e:
        why = str(e)
    except OSError as e:
        why = f"cannot open {git_dir / state.FOLDER / NAME} ({e.strerror or e})"
    if why:
        sys.stderr.write(
            f"ratchet: note: the baseline is not locked: {why}; a command writing it at "
            "the same time could undo this one's raises\n"
        )
        yield
        return
    try:
        told = False
        while not _try_lock(fd):
            if not told:
                sys.stderr.write(
                    f"ratchet: waiting for another command writing the baseline{_holder(path)}"
                    " to finish (Ctrl-C to stop)\n"
                )
                told = True
            time.sleep(_POLL)
        # Who holds it, for the message above; the lock itself is the flock.
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        for leftover in baseline.parent.glob(f".{baseline.name}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()
        yield
    finally:
        os.close(fd)  # Closing releases the lock.
