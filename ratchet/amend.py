"""Is this hook running for ``git commit --amend``?

Git does not tell a pre-commit hook.  An amend replaces HEAD, so the
baseline edit must be judged against HEAD's parent: undoing a raise that
HEAD itself made is not a drop.  The answer comes from the process tree (the
``git commit`` command line among the hook's ancestors); where that cannot
be read, the hook judges against HEAD, the stricter choice.
"""

from __future__ import annotations

import os
import subprocess

_DEPTH = 8  # git -> sh -> [pre-commit ->] python: a few levels suffice.


def amending() -> bool:
    pid = os.getppid()
    for _ in range(_DEPTH):
        if pid <= 1:
            return False
        found = _process(pid)
        if found is None:
            return False
        parent, argv = found
        if _is_amend(argv):
            return True
        pid = parent
    return False


def _is_amend(argv: list[str]) -> bool:
    if not argv or os.path.basename(argv[0]) not in ("git", "git.exe"):
        return False
    # `git [-c k=v ...] commit ... --amend`; a `--` ends the options.
    try:
        at = argv.index("commit")
    except ValueError:
        return False
    options = argv[at + 1 :]
    if "--" in options:
        options = options[: options.index("--")]
    # Git takes any unambiguous prefix of a long option: --am, --ame, ...
    return any(len(o) >= 4 and "--amend".startswith(o) for o in options)


def _process(pid: int) -> tuple[int, list[str]] | None:
    """The parent pid and argv of ``pid``: /proc where there is one, else ps."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [os.fsdecode(a) for a in f.read().split(b"\0") if a]
        # The command name in parentheses may hold spaces; the ppid follows it.
        return int(stat.rsplit(b")", 1)[1].split()[1]), argv
    except (OSError, ValueError, IndexError):
        pass
    try:
        out = subprocess.run(
            ["ps", "-o", "ppid=", "-o", "args=", "-p", str(pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        ppid, _, args = out.partition(" ")
        return int(ppid), args.split()
    except (OSError, ValueError):
        return None
