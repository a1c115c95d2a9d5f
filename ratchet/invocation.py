"""How this check was started, read from the command lines of its parent processes.

Two questions have no other answer.  Git does not tell a pre-commit hook
that it is amending: an amend replaces HEAD, so a baseline edit must be
judged against HEAD's parent.  And pre-commit does not tell a hook that runs
without file names (ours: a commit that only deletes a test must be judged)
that it was started with ``--all-files``: then every file is judged, not
what is staged.  Where the process tree cannot be read, the stricter answer
is taken (judge against HEAD; judge every file), and said.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping

_DEPTH = 8  # git -> sh -> [pre-commit ->] python: a few levels suffice.

# -- git commit's command line -------------------------------------------------

# Options of `git` itself, before the command, that take the next argument.
_GIT_GLOBAL_WITH_VALUE = frozenset({"-c", "-C", "--git-dir", "--work-tree", "--namespace"})
# `git commit`'s short options that take a value (stuck or as the next
# argument), and those whose value is optional and only ever stuck.
_SHORT_WITH_VALUE = frozenset("mFCct")
_SHORT_OPTIONAL_VALUE = frozenset("uS")
_LONG_WITH_VALUE = (
    "message",
    "file",
    "reuse-message",
    "reedit-message",
    "fixup",
    "squash",
    "author",
    "date",
    "template",
    "cleanup",
    "trailer",
    "pathspec-from-file",
)


def _commit_options(argv: list[str]) -> list[str] | None:
    """What follows ``commit`` in a ``git ... commit ...`` command line, or None."""
    if not argv or os.path.basename(argv[0]) not in ("git", "git.exe"):
        return None
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in _GIT_GLOBAL_WITH_VALUE else 1
    if i >= len(argv) or argv[i] != "commit":
        return None
    return argv[i + 1 :]


def _long_takes_value(name: str) -> bool:
    """Does ``--name`` (git accepts any unambiguous prefix) take the next argument?"""
    matches = [o for o in _LONG_WITH_VALUE if o.startswith(name)]
    return name in _LONG_WITH_VALUE or (len(matches) == 1 and len(name) >= 3)


def is_amend(argv: list[str]) -> bool:
    """Does this command line run ``git commit --amend``?  Parsed as git does:
    option values (``-m --amend``), short clusters (``-am``), unambiguous
    prefixes (``--am``), ``--no-amend``, and ``--`` before paths."""
    options = _commit_options(argv)
    if options is None:
        return False
    amend = False
    i = 0
    while i < len(options):
        arg = options[i]
        i += 1
        if arg == "--":
            break
        if arg.startswith("--"):
            name, has_value, _ = arg[2:].partition("=")
            if has_value:
                continue
            if len(name) >= 2 and "amend".startswith(name):
                amend = True
            elif name.startswith("no-") and len(name) >= 5 and "no-amend".startswith(name):
                amend = False
            elif _long_takes_value(name):
                i += 1
        elif arg.startswith("-") and len(arg) > 1:
            for at, letter in enumerate(arg[1:], 1):
                if letter in _SHORT_OPTIONAL_VALUE:
                    break  # The rest of the cluster is its value.
                if letter in _SHORT_WITH_VALUE:
                    if at == len(arg) - 1:
                        i += 1  # The value is the next argument.
                    break
    return amend


# -- pre-commit's command line ---------------------------------------------------


def _pre_commit_options(argv: list[str]) -> list[str] | None:
    """What follows ``run`` or ``try-repo`` in a ``pre-commit`` command line."""
    for at, arg in enumerate(argv):
        name = os.path.basename(arg)
        script = name in ("pre-commit", "pre-commit.exe", "pre_commit")
        module = arg == "pre_commit" and at > 0 and argv[at - 1] == "-m"
        if script or module:
            rest = [a for a in argv[at + 1 :] if not a.startswith("-")]
            if rest and rest[0] in ("run", "try-repo"):
                return argv[argv.index(rest[0], at + 1) + 1 :]
            return None
    return None


def _judges_every_file(options: list[str]) -> bool:
    """Did pre-commit get ``--all-files``, ``--files`` or a ref range?  (argparse
    accepts unambiguous prefixes, and clusters of short flags.)"""
    for arg in options:
        if arg.startswith("--"):
            name = arg[2:].split("=", 1)[0]
            if len(name) >= 2 and any(
                full.startswith(name) for full in ("all-files", "files", "from-ref", "to-ref")
            ):
                return True
            if name in ("source", "origin"):
                return True
        elif arg.startswith("-") and set(arg[1:]) <= set("avso") and set(arg[1:]) & set("aso"):
            return True
    return False


def pre_commit_scope(environ: Mapping[str, str] | None = None) -> str:
    """Why pre-commit wants every file judged ('' when what is staged will do).

    A hook pre-commit runs for ``git commit`` sees the index git exports
    (``GIT_INDEX_FILE``): staged files, decided without reading anything.
    ``pre-commit run`` by hand or in CI may have ``--all-files``.
    """
    env = os.environ if environ is None else environ
    if env.get("PRE_COMMIT") != "1":
        return ""
    if env.get("PRE_COMMIT_FROM_REF") or env.get("PRE_COMMIT_TO_REF"):
        return "pre-commit runs on a range of commits: every file is judged"
    if env.get("GIT_INDEX_FILE"):
        return ""  # Started by `git commit`.
    readable = False
    for argv in ancestors():
        readable = True
        options = _pre_commit_options(argv)
        if options is not None:
            if _judges_every_file(options):
                return "pre-commit runs on all files: every file is judged"
            return ""
    if not readable:
        return "pre-commit's command line cannot be read here: every file is judged"
    return ""


# -- the process tree --------------------------------------------------------------


def amending() -> bool:
    """Is a ``git commit --amend`` among our parent processes?"""
    return any(is_amend(argv) for argv in ancestors())


def ancestors() -> Iterator[list[str]]:
    """The command lines of our parent processes, nearest first."""
    pid = os.getppid()
    for _ in range(_DEPTH):
        if pid <= 1:
            return
        found = _process(pid)
        if found is None:
            return
        pid, argv = found
        yield argv


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
            timeout=5,
        ).stdout.strip()
        ppid, _, args = out.partition(" ")
        return int(ppid), args.split()
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
