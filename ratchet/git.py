"""The only module that talks to git.

Two queries sit on the hook's fast path (where is the repository, what is
staged) and run ``git`` directly: importing GitPython alone takes about as
long as the whole budget for a commit with nothing relevant staged.  All
other git access goes through GitPython's command interface, imported
lazily.  Git failures become :class:`RatchetError` here, at the boundary.

Hooks run with ``GIT_INDEX_FILE`` and friends set by git (``git commit -a``
uses a temporary index); our own git calls keep them, so they read the index
being committed.  Only the project's test run gets a scrubbed environment
(:func:`scrubbed_env`).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from ratchet.errors import RatchetError

if TYPE_CHECKING:
    import git as gitpython

# What git 2.39 prints for `git rev-parse --local-env-vars`; used only when
# asking git fails.
_LOCAL_ENV_VARS = (
    *("GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS"),
    *("GIT_CONFIG_COUNT", "GIT_OBJECT_DIRECTORY", "GIT_DIR", "GIT_WORK_TREE"),
    *("GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE", "GIT_INDEX_FILE", "GIT_NO_REPLACE_OBJECTS"),
    *("GIT_REPLACE_REF_BASE", "GIT_PREFIX", "GIT_SHALLOW_FILE", "GIT_COMMON_DIR"),
)


# The tree with nothing in it, which every repository has implicitly.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _run(
    args: list[str],
    cwd: Path | str,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False, env=env
        )
    except FileNotFoundError:
        raise RatchetError("git is not installed or not on PATH") from None


def toplevel(cwd: Path | str = ".") -> Path:
    """The root of the working tree containing ``cwd``."""
    proc = _run(["rev-parse", "--show-toplevel"], cwd)
    if proc.returncode != 0:
        raise RatchetError(
            "not a git repository (or git could not read it)",
            hint="run ratchet inside a git working tree",
        )
    return Path(os.fsdecode(proc.stdout.rstrip(b"\n")))


def staged_paths(root: Path) -> list[str]:
    """Paths the index changes against HEAD, deletions included.

    Renames are listed as their old and new paths (``--no-renames``): both
    matter to the verdict.  On an unborn branch everything staged is new.
    """
    proc = _run(["diff", "--cached", "--name-only", "--no-renames", "-z"], root)
    if proc.returncode != 0:
        toplevel(root)  # Outside a repository, says so as every command does.
        raise RatchetError(f"git diff --cached failed: {_first_line(proc.stderr)}")
    return [os.fsdecode(p) for p in proc.stdout.split(b"\0") if p]


def _first_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "no message"


@cache
def _git(root: Path) -> gitpython.Git:
    import git as gitpython

    return gitpython.Git(root)


def _execute(root: Path, args: list[str]) -> bytes:
    out = _git(root).execute(["git", *args], stdout_as_string=False, strip_newline_in_stdout=False)
    assert isinstance(out, bytes)
    return out


def _call(root: Path, *args: str) -> bytes:
    import git as gitpython

    try:
        return _execute(root, list(args))
    except gitpython.GitCommandError as e:
        stderr = e.stderr if isinstance(e.stderr, str) else str(e.stderr)
        message = stderr.strip().removeprefix("stderr:").strip(" '\n")
        first = message.splitlines()[0] if message else str(e)
        raise RatchetError(f"git {args[0]} failed: {first}") from None


def read_blob(root: Path, spec: str) -> bytes | None:
    """The content of ``spec`` (``HEAD:path``, ``:path``); None only when git
    says there is no such file there.  Any other failure is an error: a failed
    read is not an absence (a guard skipped on a failed read is a hole)."""
    return blobs(root, [spec])[0]


def untracked_paths(root: Path) -> list[str]:
    """Files in the working tree that git neither tracks nor ignores."""
    out = _call(root, "ls-files", "-z", "--others", "--exclude-standard", "--full-name")
    return [os.fsdecode(p) for p in out.split(b"\0") if p]


def index_paths(root: Path) -> set[str]:
    """Every path in the index (what the commit will contain)."""
    out = _call(root, "ls-files", "-z", "--full-name")
    return {os.fsdecode(p) for p in out.split(b"\0") if p}


_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


def local_env_vars(root: Path) -> list[str]:
    try:
        out = _call(root, "rev-parse", "--local-env-vars")
    except RatchetError:
        return list(_LOCAL_ENV_VARS)
    return out.decode().split()


def scrubbed_env(root: Path, env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the variables git exports to hooks for its own repository.

    Left in place, they make ``git init``/``git add`` in a test's temporary
    folder act on the user's repository and index instead.
    """
    drop = set(local_env_vars(root)) | set(_LOCAL_ENV_VARS)
    return {k: v for k, v in env.items() if k not in drop}


def git_dir(root: Path) -> Path:
    """This worktree's git directory (per-clone state lives there, untracked)."""
    out = _call(root, "rev-parse", "--absolute-git-dir")
    return Path(os.fsdecode(out.strip()))


def content_key(root: Path, rev: str | None, relevant: Callable[[str], bool]) -> str | None:
    """A digest of the blob ids of relevant files at ``rev`` (None: the index).

    Two states with the same key have the same code, tests and configuration,
    so a measurement of one holds for the other.  None when ``rev`` is absent.
    """
    import hashlib

    if rev is None:
        out = _call(root, "ls-files", "-s", "-z")
    else:
        import git as gitpython

        try:
            out = _execute(root, ["ls-tree", "-r", "-z", "--full-tree", rev])
        except gitpython.GitCommandError:
            return None
    digest = hashlib.sha256()
    for record in sorted(out.split(b"\0")):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        path = os.fsdecode(name)
        if relevant(path):
            digest.update(meta.split()[-2 if rev is None else 2] + b" " + name + b"\0")
    return digest.hexdigest()


def worktree_matches_index(root: Path) -> bool:
    """No tracked file differs between the working tree and the index."""
    import git as gitpython

    try:
        _execute(root, ["diff", "--quiet", "--no-ext-diff"])
    except gitpython.GitCommandError:
        return False
    return True


Hunk = tuple[int, int, int, int]  # old start, old count, new start, new count


def staged_hunks(root: Path, path: str, renamed_from: str | None = None) -> list[Hunk]:
    """The ``-U0`` hunks of ``path`` between HEAD and the index (against
    ``renamed_from`` at HEAD for a renamed file)."""
    paths = [path] if renamed_from is None else ["-M", "--", renamed_from, path]
    return parse_hunks(
        _call(root, "diff", "--cached", "--no-ext-diff", "--no-color", "-U0", "--", *paths)
    )


def parse_hunks(diff: bytes) -> list[Hunk]:
    """The hunk headers of a unified diff."""
    hunks = []
    for m in _HUNK.finditer(diff):
        hunks.append(
            (
                int(m.group(1)),
                int(m.group(2)) if m.group(2) is not None else 1,
                int(m.group(3)),
                int(m.group(4)) if m.group(4) is not None else 1,
            )
        )
    return hunks


def _plain(
    root: Path, args: list[str], stdin: bytes | None = None, env: Mapping[str, str] | None = None
) -> bytes:
    """git's output, without GitPython (kept off the paths that must start fast)."""
    proc = _run(args, root, stdin, env)
    if proc.returncode != 0:
        raise RatchetError(f"git {args[0]} failed: {_first_line(proc.stderr)}")
    return proc.stdout


def worktree_content_ids(root: Path) -> dict[str, str]:
    """Blob ids of the working tree's files, as a test run sees them.

    Tracked files keep the index's id unless edited; edited and untracked
    (not ignored) files are hashed as ``git add`` would, without writing
    anything to the repository.
    """
    ids = index_content_ids(root)
    to_hash = []
    for path in worktree_differences(root):
        if os.path.isfile(root / path):
            to_hash.append(path)
        else:
            ids.pop(path, None)  # Deleted in the working tree.
    # Paths go as arguments, not --stdin-paths, which cannot carry a newline;
    # --no-filters is not used: ids must match what `git add` would store.
    for start in range(0, len(to_hash), 500):
        chunk = to_hash[start : start + 500]
        out = _plain(root, ["hash-object", "--", *chunk])
        for path, oid in zip(chunk, out.decode().split(), strict=True):
            ids[path] = oid
    return ids


def mentioned_elsewhere(root: Path, word: str, path: str, *, cached: bool = False) -> bool:
    """Whether a tracked Python file other than ``path`` names ``word``
    (in the working tree, or with ``cached`` in the index)."""
    where = ["--cached"] if cached else []
    proc = _run(["grep", *where, "-l", "-z", "-w", "-F", "-e", word, "--", "*.py"], root)
    if proc.returncode > 1:  # An error, not "no match": assume it does.
        return True
    return bool({os.fsdecode(p) for p in proc.stdout.split(b"\0") if p} - {path})


def worktree_differences(root: Path) -> list[str]:
    """Paths where the working tree is not what the index (the commit) holds:
    edited or deleted tracked files, and untracked files git does not ignore."""
    edited = _plain(root, ["diff", "--name-only", "--no-renames", "-z"]).split(b"\0")
    untracked = _plain(root, ["ls-files", "-o", "--exclude-standard", "-z"]).split(b"\0")
    return [os.fsdecode(p) for p in [*edited, *untracked] if p]


def export_index(root: Path, dest: Path) -> None:
    """Write every file of the index into ``dest``: the commit's content.

    Reads the index only (no ``-u``), so it neither locks nor refreshes it;
    submodules are left out.
    """
    _plain(root, ["checkout-index", "-a", "-f", "-q", f"--prefix={os.fsdecode(dest)}/"])


def gitlinks(root: Path, commit: str | None = None) -> list[tuple[str, str]]:
    """Submodules: (path, recorded commit), from the index or from ``commit``."""
    if commit is None:
        out = _plain(root, ["ls-files", "-s", "-z"])
    else:
        out = _plain(root, ["ls-tree", "-r", "-z", "--full-tree", commit])
    found = []
    for record in out.split(b"\0"):
        meta, _, name = record.partition(b"\t")
        fields = meta.split()
        if fields and fields[0] == b"160000":
            found.append((os.fsdecode(name), fields[1 if commit is None else 2].decode()))
    return found


def export_commit(root: Path, commit: str, dest: Path) -> None:
    """Write the files of ``commit`` (of the repository at ``root``) into ``dest``,
    through a throwaway index: nothing of ``root``'s changes."""
    from ratchet import scratch

    with scratch.folder("ratchet-index-") as tmp:
        env = {**_without_local_vars(root), "GIT_INDEX_FILE": str(tmp / "index")}
        _plain(root, ["read-tree", commit], env=env)
        _plain(
            root, ["checkout-index", "-a", "-f", "-q", f"--prefix={os.fsdecode(dest)}/"], env=env
        )


def _without_local_vars(root: Path) -> dict[str, str]:
    """The environment without git's variables for the repository a hook runs
    in: a command run in another repository (a submodule) must not use them."""
    return scrubbed_env(root, os.environ)


def ignored(root: Path, paths: list[str]) -> set[str]:
    """Which of ``paths`` git ignores (.gitignore, info/exclude, core.excludesFile)."""
    stdin = b"".join(os.fsencode(p) + b"\0" for p in paths)
    proc = _run(["check-ignore", "-z", "--stdin", "--no-index"], root, stdin)
    if proc.returncode > 1:  # 1: none ignored.
        raise RatchetError(f"git check-ignore failed: {_first_line(proc.stderr)}")
    return {os.fsdecode(p) for p in proc.stdout.split(b"\0") if p}


def index_content_ids(root: Path) -> dict[str, str]:
    """Blob ids of the index's files."""
    ids: dict[str, str] = {}
    for record in _plain(root, ["ls-files", "-s", "-z"]).split(b"\0"):
        if record:
            meta, _, name = record.partition(b"\t")
            ids[os.fsdecode(name)] = meta.split()[1].decode()
    return ids


def plain(root: Path, args: list[str]) -> bytes:
    """``git ARGS`` in ``root``; its output, or a :class:`RatchetError`."""
    return _plain(root, args)


def plain_or_none(root: Path, args: list[str]) -> bytes | None:
    """``git ARGS``' output, or None when it fails (no such revision, ...)."""
    proc = _run(args, root)
    return proc.stdout if proc.returncode == 0 else None


def run_quiet(root: Path, args: list[str]) -> bool:
    """``git ARGS``, where failing is a normal answer (nothing to remove, ...)."""
    return _run(args, root).returncode == 0


def merge_base(root: Path, a: str, b: str) -> str:
    """The commit where ``a`` and ``b`` diverged."""
    proc = _run(["merge-base", a, b], root)
    if proc.returncode == 0:
        return proc.stdout.decode().strip()
    if proc.stderr.strip():  # No such revision, ...
        raise RatchetError(f"git merge-base {a} {b} failed: {_first_line(proc.stderr)}")
    shallow = _run(["rev-parse", "--is-shallow-repository"], root).stdout.strip() == b"true"
    if shallow:
        raise RatchetError(
            f"{a} and {b} have no common commit in this shallow clone",
            hint="fetch the history (git fetch --unshallow, or fetch-depth: 0 in "
            "actions/checkout)",
        )
    raise RatchetError(f"{a} and {b} have no common history")


def renamed(root: Path, since: str | None = None, *, worktree: bool = False) -> dict[str, str]:
    """Files git's rename detection pairs up: new path -> old path.

    Between ``since`` (default HEAD; nothing on an unborn branch) and the
    index, or with ``worktree`` the working tree, where untracked files count
    as added (they are marked intent-to-add in a throwaway copy of the index,
    so a plain ``mv`` is found like a ``git mv``).
    """
    args = ["diff", "-M", "--diff-filter=R", "--name-status", "-z", "--no-ext-diff"]
    if not worktree:
        return _parse_renames(_plain(root, [*args, "--cached", *([since] if since else [])]))
    if not run_quiet(root, ["rev-parse", "--verify", "-q", since or "HEAD"]):
        return {}
    import shutil

    from ratchet import scratch

    with scratch.folder("ratchet-index-") as tmp:
        index = tmp / "index"
        real = root / os.fsdecode(_plain(root, ["rev-parse", "--git-path", "index"]).strip())
        if real.is_file():
            shutil.copyfile(real, index)
        # Literal: a file named ":x" or "*" is a path here, not a pathspec.
        env = {**os.environ, "GIT_INDEX_FILE": str(index), "GIT_LITERAL_PATHSPECS": "1"}
        listed = _plain(root, ["ls-files", "-o", "--exclude-standard", "-z"], env=env)
        untracked = [os.fsdecode(p) for p in listed.split(b"\0") if p]
        for start in range(0, len(untracked), 500):
            _plain(root, ["add", "-N", "--", *untracked[start : start + 500]], env=env)
        return _parse_renames(_plain(root, [*args, since or "HEAD"], env=env))


def _parse_renames(out: bytes) -> dict[str, str]:
    """``--name-status -z`` records ``R<score> old new`` as new -> old."""
    fields = out.split(b"\0")
    pairs = {}
    i = 0
    while i + 2 < len(fields) and fields[i]:
        if fields[i].startswith(b"R"):
            pairs[os.fsdecode(fields[i + 2])] = os.fsdecode(fields[i + 1])
            i += 3
        else:  # Only R is asked for; skip any other record's one path.
            i += 2
    return pairs


def blobs(root: Path, specs: list[str]) -> list[bytes | None]:
    """The contents of many ``rev:path`` specs in one ``git cat-file --batch``
    (None where absent)."""
    if not specs:
        return []
    out = _plain(root, ["cat-file", "--batch"], stdin="".join(f"{s}\n" for s in specs).encode())
    found: list[bytes | None] = []
    at = 0
    for _ in specs:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        at = end + 1
        if len(header) != 3 or header[1] != b"blob":  # "<spec> missing", or not a file.
            found.append(None)
            if len(header) == 3:
                at += int(header[2]) + 1
            continue
        size = int(header[2])
        found.append(out[at : at + size])
        at += size + 1  # The content is followed by a newline.
    return found
