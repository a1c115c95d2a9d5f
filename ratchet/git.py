"""The only module that talks to git, behind named functions.

Two kinds of access, both here:

- The hook's fast path (where is the repository, what is staged, the
  index's ``pyproject.toml``) runs ``git`` directly: importing GitPython
  alone takes about as long as the whole budget for a commit with nothing
  relevant staged.
- Everything else goes through GitPython, imported lazily: its ``Repo``
  object, its command interface (``-z`` for file lists), its persistent
  object reader for blobs and history, and its config writer.

Git failures become :class:`RatchetError` here, at the boundary.  Absence is
not failure: a blob that is not there is ``None``; a git that fails raises.

Hooks run with ``GIT_INDEX_FILE`` and friends set by git (``git commit -a``
uses a temporary index); our own git calls keep them, so they read the index
being committed.  Only the project's test run gets a scrubbed environment
(:func:`scrubbed_env`), and a command run in another repository (a
submodule) too.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
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
_CHUNK = 500  # Paths per command line.

# -- the fast path: plain git ----------------------------------------------------


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


def _first_line(stderr: bytes | str) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    text = text.strip()
    return text.splitlines()[0] if text else "no message"


def toplevel(cwd: Path | str = ".") -> Path:
    """The root of the working tree containing ``cwd``.

    Its git directory (:func:`git_dir`) and the variables git keeps to its
    repository (:func:`local_env_vars`) are told by the same command: each
    git process costs a check 2-3 ms on its way to starting the tests.
    """
    proc = _run(["rev-parse", "--local-env-vars", "--show-toplevel", "--absolute-git-dir"], cwd)
    if proc.returncode != 0:
        raise RatchetError(
            "not a git repository (or git could not read it)",
            hint="run ratchet inside a git working tree",
        )
    lines = proc.stdout.split(b"\n")
    names = 0
    while names < len(lines) and _VARIABLE.fullmatch(lines[names]):
        names += 1
    paths = lines[names:]
    if len(paths) != 3 or paths[2]:  # A line break in a path: asked alone, read whole.
        out = _run(["rev-parse", "--show-toplevel"], cwd).stdout
        return Path(os.fsdecode(out.rstrip(b"\n")))
    root = Path(os.fsdecode(paths[0]))
    _GIT_DIRS.setdefault((root, os.environ.get("GIT_DIR")), Path(os.fsdecode(paths[1])))
    _ENV_VARS[:] = [os.fsdecode(v) for v in lines[:names]]
    return root


_VARIABLE = re.compile(rb"GIT_[A-Z_]+")


def staged_paths(cwd: Path) -> list[str]:
    """Paths the index changes against HEAD, deletions included, repository-
    relative from anywhere in the working tree.

    Renames are listed as their old and new paths (``--no-renames``): both
    matter to the verdict.  On an unborn branch everything staged is new.
    """
    proc = _run(["diff", "--cached", "--name-only", "--no-renames", "-z"], cwd)
    if proc.returncode != 0:
        toplevel(cwd)  # Outside a repository, says so as every command does.
        raise RatchetError(f"git diff --cached failed: {_first_line(proc.stderr)}")
    return [os.fsdecode(p) for p in proc.stdout.split(b"\0") if p]


def index_file(cwd: Path, path: str) -> bytes | None:
    """The index's copy of ``path`` (None if the index has none): what is
    being committed.  Plain git, for the hook's fast path."""
    proc = _run(["cat-file", "--batch"], cwd, stdin=f":{path}\n".encode())
    if proc.returncode != 0:
        toplevel(cwd)
        raise RatchetError(f"git cat-file failed: {_first_line(proc.stderr)}")
    header, _, rest = proc.stdout.partition(b"\n")
    fields = header.split()
    if len(fields) != 3 or fields[1] != b"blob":
        return None  # "<spec> missing", or not a file.
    return rest[: int(fields[2])]


# -- everything else: GitPython ---------------------------------------------------


def _repo(root: Path) -> gitpython.Repo:
    """GitPython's view of the repository at ``root``, opened once per command
    (a ``Repo`` keeps a persistent ``cat-file`` process; see :func:`close`)."""
    repo = _OPEN.get(root)
    if repo is None:
        import git as gitpython

        try:
            repo = _OPEN[root] = gitpython.Repo(root)
        except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError):
            raise RatchetError(f"not a git repository: {root}") from None
    return repo


_OPEN: dict[Path, gitpython.Repo] = {}


def close() -> None:
    """Forget the repositories opened so far and stop their persistent readers,
    and what this command was told about them (:func:`git_dir`, the index).

    A persistent ``cat-file`` reads the index once: a command opens its own
    (``cli.main`` closes them when it ends), so the next one sees the index
    and the refs as they are then.
    """
    _GIT_DIRS.clear()
    _ENV_VARS.clear()
    _INDEXES.clear()
    for repo in _OPEN.values():
        repo.close()
    _OPEN.clear()


def _call(
    root: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    ok: Sequence[int] = (0,),
    stdin: bytes | None = None,
) -> bytes:
    """``git ARGS`` in ``root``; its output.

    Plain git, as GitPython's command interface runs it (messages in the C
    locale, which callers read), without GitPython's import and reader
    processes on every hook's start.  An exit status outside ``ok`` is a
    :class:`RatchetError` naming the command and git's first line of complaint.
    """
    proc = _run(list(args), root, stdin=stdin, env=_c_locale(env))
    if proc.returncode not in ok:
        raise RatchetError(f"git {args[0]} failed: {_first_line(proc.stderr)}")
    return proc.stdout


def _c_locale(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment, with git's messages in English: callers read them."""
    return {**os.environ, "LANGUAGE": "C", "LC_ALL": "C", **(env or {})}


def _paths(out: bytes) -> list[str]:
    return [os.fsdecode(p) for p in out.split(b"\0") if p]


def read_blob(root: Path, spec: str) -> bytes | None:
    """The content of ``spec`` (``HEAD:path``, ``:path``); None only when git
    says there is no such file there.  Any other failure is an error: a failed
    read is not an absence (a guard skipped on a failed read is a hole)."""
    return blobs(root, [spec])[0]


def blobs(root: Path, specs: Sequence[str]) -> list[bytes | None]:
    """The contents of many ``rev:path`` specs, from one ``git cat-file
    --batch`` (None where git has no such file, or it is no file)."""
    batched = [spec for spec in specs if "\n" not in spec]
    stdin = "".join(f"{spec}\n" for spec in batched).encode("utf-8", "surrogateescape")
    out = _call(root, "cat-file", "--batch", stdin=stdin) if batched else b""
    found: dict[str, bytes | None] = {}
    pos = 0
    for spec in batched:
        end = out.find(b"\n", pos)
        if end < 0:
            raise RatchetError(f"git cannot read {spec}: its answer ended early")
        header = out[pos:end]
        pos = end + 1
        fields = header.rsplit(b" ", 2)
        if header.endswith((b" missing", b" ambiguous")) or len(fields) != 3:
            found[spec] = None
            continue
        size = int(fields[2])
        data, pos = out[pos : pos + size], pos + size + 1
        found[spec] = data if fields[1] == b"blob" else None
    return [found[spec] if spec in found else _blob_alone(root, spec) for spec in specs]


def _blob_alone(root: Path, spec: str) -> bytes | None:
    """A spec with a line break cannot go through ``--batch``: asked alone."""
    kind = _run(["cat-file", "-t", spec], root, env=_c_locale())
    if kind.returncode != 0:
        complaint = kind.stderr.decode("utf-8", "replace")
        if any(w in complaint.lower() for w in ("does not exist", "valid object", "but not in")):
            return None
        raise RatchetError(f"git cannot read {spec!r}: {_first_line(complaint)}")
    if kind.stdout.strip() != b"blob":
        return None
    return _call(root, "cat-file", "-p", spec)


def git_dir(root: Path) -> Path:
    """This worktree's git directory (per-clone state lives there, untracked).
    Asked once per command (a check asked five times, 2-3 ms each)."""
    key = (root, os.environ.get("GIT_DIR"))
    found = _GIT_DIRS.get(key)
    if found is None:
        out = _call(root, "rev-parse", "--absolute-git-dir").strip()
        found = _GIT_DIRS[key] = Path(os.fsdecode(out))
    return found


_GIT_DIRS: dict[tuple[Path, str | None], Path] = {}


def common_dir(root: Path) -> Path:
    """The git directory linked worktrees share (hooks, config)."""
    out = os.fsdecode(_call(root, "rev-parse", "--git-common-dir").strip())
    return (root / out).resolve()


def hooks_dir(root: Path) -> Path:
    """Where git looks for hooks: ``core.hooksPath``, shared by linked worktrees."""
    out = os.fsdecode(_call(root, "rev-parse", "--git-path", "hooks").strip())
    return (root / out).resolve()


def resolve(root: Path, rev: str) -> str | None:
    """The commit ``rev`` names, or None when there is none (an unborn HEAD,
    a root commit's parent)."""
    out = _call(root, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}", ok=(0, 1))
    return out.decode().strip() or None


def merge_base(root: Path, a: str, b: str) -> str:
    """The commit where ``a`` and ``b`` diverged."""
    proc = _run(["merge-base", a, b], root, env=_c_locale())
    if proc.returncode == 0:
        return proc.stdout.decode().strip()
    complaint = _first_line(proc.stderr)
    if complaint != "no message":  # No such revision, ...
        raise RatchetError(f"git merge-base {a} {b} failed: {complaint}")
    shallow = _call(root, "rev-parse", "--is-shallow-repository").strip() == b"true"
    if shallow:
        raise RatchetError(
            f"{a} and {b} have no common commit in this shallow clone",
            hint="fetch the history (git fetch --unshallow, or fetch-depth: 0 in "
            "actions/checkout)",
        )
    raise RatchetError(f"{a} and {b} have no common history")


def commits_touching(
    root: Path, rev: str, path: str, limit: int | None = None
) -> list[tuple[str, str, int]]:
    """Commits from ``rev`` back that changed ``path``, newest first:
    (full id, short id, commit time)."""
    args = ["log", "--format=%H %h %ct", "--no-renames"]
    if limit is not None:
        args.append(f"-n{limit}")
    out = _call(root, *args, rev, "--", path).decode()
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return [(full, short, int(stamp)) for full, short, stamp in rows]


def index_paths(root: Path) -> set[str]:
    """Every path in the index (what the commit will contain)."""
    state = _index_state(root)
    known = None if state is None else _INDEXES.get(state)
    if known is not None:  # A check has listed it already (20,000 paths: 12 ms).
        return set(known)
    return set(_paths(_call(root, "ls-files", "-z", "--full-name")))


def untracked_paths(root: Path) -> list[str]:
    """Files in the working tree that git neither tracks nor ignores."""
    return _paths(_call(root, "ls-files", "-z", "--others", "--exclude-standard", "--full-name"))


def worktree_differences(root: Path) -> list[str]:
    """Paths where the working tree is not what the index (the commit) holds:
    edited or deleted tracked files, and untracked files git does not ignore."""
    # Both at once: each reads the whole index and the tree (30-50 ms at
    # 20,000 files), on a hook's way to starting its tests.
    untracked = _started(root, "ls-files", "-z", "--others", "--exclude-standard", "--full-name")
    try:
        edited = _call(root, "diff", "--name-only", "--no-renames", "-z")
    except BaseException:
        untracked.kill()
        untracked.communicate()
        raise
    return _paths(edited) + _paths(_finished(untracked, "ls-files"))


def _started(root: Path, *args: str) -> subprocess.Popen[bytes]:
    """``git ARGS`` in ``root``, started; :func:`_finished` gives its output."""
    try:
        return subprocess.Popen(
            ["git", *args],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_c_locale(),
        )
    except FileNotFoundError:
        raise RatchetError("git is not installed or not on PATH") from None


def _finished(proc: subprocess.Popen[bytes], command: str) -> bytes:
    """The output of a git ``command`` :func:`_started`, as :func:`_call` gives it."""
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RatchetError(f"git {command} failed: {_first_line(err)}")
    return out


def worktree_matches_index(root: Path) -> bool:
    """No tracked file differs between the working tree and the index."""
    return not _call(root, "diff", "--name-only", "--no-ext-diff", "-z")


def ignored(root: Path, paths: Sequence[str]) -> set[str]:
    """Which of ``paths`` git ignores (.gitignore, info/exclude, core.excludesFile)."""
    # On standard input, NUL-separated (-z needs --stdin): plain git, since
    # GitPython's command interface takes input only from a file.
    stdin = b"".join(os.fsencode(p) + b"\0" for p in paths)
    proc = _run(["check-ignore", "-z", "--stdin", "--no-index"], root, stdin)
    if proc.returncode > 1:  # 1: none of them is ignored.
        raise RatchetError(f"git check-ignore failed: {_first_line(proc.stderr)}")
    return set(_paths(proc.stdout))


def index_content_ids(root: Path) -> dict[str, str]:
    """Blob ids of the index's files (a new dict: callers may change it)."""
    state = _index_state(root)
    ids: dict[str, str] = {}
    for record in _call(root, "ls-files", "-s", "-z").split(b"\0"):
        if record:
            meta, _, name = record.partition(b"\t")
            ids[os.fsdecode(name)] = meta.split()[1].decode()
    if state is not None and state == _index_state(root):  # Not changed meanwhile.
        _INDEXES.clear()
        _INDEXES[state] = dict(ids)
    return ids


# The index last listed, by its state (:func:`_index_state`): path -> blob id.
_INDEXES: dict[tuple[object, ...], dict[str, str]] = {}


def _index_state(root: Path) -> tuple[object, ...] | None:
    """Which index ``root``'s git commands read, and its file's identity, size
    and time: git replaces the file whenever it writes it.  None when it
    cannot be told (no index yet)."""
    path = os.environ.get("GIT_INDEX_FILE") or os.path.join(git_dir(root), "index")
    path = os.path.join(root, path)  # A relative GIT_INDEX_FILE is the worktree's.
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (root, path, st.st_ino, st.st_size, st.st_mtime_ns)


def worktree_content_ids(root: Path, differences: Sequence[str] | None = None) -> dict[str, str]:
    """Blob ids of the working tree's files, as a test run sees them.

    Tracked files keep the index's id unless edited; edited and untracked
    (not ignored) files are hashed as ``git add`` would, without writing
    anything to the repository.  ``differences``: what
    :func:`worktree_differences` just said, if the caller asked already.
    """
    ids = index_content_ids(root)
    to_hash = []
    for path in worktree_differences(root) if differences is None else differences:
        if os.path.isfile(root / path):
            to_hash.append(path)
        else:
            ids.pop(path, None)  # Deleted in the working tree.
    # Paths go as arguments, not --stdin-paths, which cannot carry a newline;
    # --no-filters is not used: ids must match what `git add` would store.
    for start in range(0, len(to_hash), _CHUNK):
        chunk = to_hash[start : start + _CHUNK]
        out = _call(root, "hash-object", "--", *chunk)
        for path, oid in zip(chunk, out.decode().split(), strict=True):
            ids[path] = oid
    return ids


def head_ids(root: Path, head: str) -> dict[str, str] | None:
    """Blob ids of the files of ``head`` (HEAD's commit), as the index's
    listing this command made already less what is staged: one ``git
    diff-index`` (7 ms at 20,000 files) instead of listing the whole tree
    (26 ms).  None when there is no such listing, or the index has
    unmerged entries: ask :func:`tree_ids`."""
    state = _index_state(root)
    listed = None if state is None else _INDEXES.get(state)
    if listed is None:
        return None
    out = _call(root, "diff-index", "--cached", "-z", "--no-renames", head)
    if _index_state(root) != state:
        return None  # Changed meanwhile: the diff is not against that listing.
    ids = dict(listed)
    fields = out.split(b"\0")
    for meta, name in zip(fields[0:-1:2], fields[1::2], strict=True):
        _, _, old_id, _, status = meta.lstrip(b":").split(b" ")
        path = os.fsdecode(name)
        if status == b"U":
            return None
        if status == b"A":  # Staged as new (or intended to be, git add -N).
            ids.pop(path, None)
        else:  # Modified, deleted, or of another type: HEAD's own.
            ids[path] = old_id.decode()
    return ids


def tree_ids(root: Path, rev: str) -> dict[str, str] | None:
    """Blob ids of the files at ``rev``; None when ``rev`` is absent."""
    if resolve(root, rev) is None:
        return None
    ids: dict[str, str] = {}
    for record in _call(root, "ls-tree", "-r", "-z", "--full-tree", rev).split(b"\0"):
        if record:
            meta, _, name = record.partition(b"\t")
            ids[os.fsdecode(name)] = meta.split()[2].decode()
    return ids


def mentioned_elsewhere(root: Path, word: str, path: str, *, cached: bool = False) -> bool:
    """Whether a tracked Python file other than ``path`` names ``word``
    (in the working tree, or with ``cached`` in the index)."""
    where = ["--cached"] if cached else []
    try:
        out = _call(
            root, "grep", *where, "-l", "-z", "-w", "-F", "-e", word, "--", "*.py", ok=(0, 1)
        )
    except RatchetError:
        return True  # An error, not "no match": assume it does.
    return bool(set(_paths(out)) - {path})


Hunk = tuple[int, int, int, int]  # old start, old count, new start, new count
_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)


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


def renamed(root: Path, since: str | None = None, *, worktree: bool = False) -> dict[str, str]:
    """Files git's rename detection pairs up: new path -> old path.

    Between ``since`` (default HEAD; nothing on an unborn branch) and the
    index, or with ``worktree`` the working tree, where untracked files count
    as added (they are marked intent-to-add in a throwaway copy of the index,
    so a plain ``mv`` is found like a ``git mv``).
    """
    args = ["diff", "-M", "--diff-filter=R", "--name-status", "-z", "--no-ext-diff"]
    if not worktree:
        return _parse_renames(_call(root, *args, "--cached", *([since] if since else [])))
    if resolve(root, since or "HEAD") is None:
        return {}
    import shutil

    from ratchet import scratch

    with scratch.folder("ratchet-index-") as tmp:
        index = tmp / "index"
        real = root / os.fsdecode(_call(root, "rev-parse", "--git-path", "index").strip())
        if real.is_file():
            shutil.copyfile(real, index)
        # Literal: a file named ":x" or "*" is a path here, not a pathspec.
        env = {**os.environ, "GIT_INDEX_FILE": str(index), "GIT_LITERAL_PATHSPECS": "1"}
        untracked = _paths(_call(root, "ls-files", "-o", "--exclude-standard", "-z", env=env))
        for start in range(0, len(untracked), _CHUNK):
            _call(root, "add", "-N", "--", *untracked[start : start + _CHUNK], env=env)
        return _parse_renames(_call(root, *args, since or "HEAD", env=env))


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


# -- exporting content ------------------------------------------------------------


def export_index(root: Path, dest: Path) -> None:
    """Write every file of the index into ``dest``: the commit's content.

    Reads the index only (no ``-u``), so it neither locks nor refreshes it;
    submodules are left out (see :func:`gitlinks`).
    """
    _call(root, "checkout-index", "-a", "-f", "-q", f"--prefix={os.fsdecode(dest)}/")


def export_index_paths(root: Path, dest: Path, paths: Sequence[str]) -> None:
    """Write these files of the index into ``dest``, as :func:`export_index` does."""
    stdin = b"".join(os.fsencode(p) + b"\0" for p in paths)
    prefix = f"--prefix={os.fsdecode(dest)}/"
    _call(root, "checkout-index", "-f", "-q", "-z", "--stdin", prefix, stdin=stdin)


def index_listing_tagged(root: Path) -> bytes:
    """``git ls-files -s -t -z``: each entry's tag (H, or S for skip-worktree,
    M unmerged), mode, blob id, stage and path."""
    return _call(root, "ls-files", "-s", "-t", "-z")


def config_listing(root: Path) -> bytes:
    """Every configuration variable in effect, ``key\\nvalue`` NUL-separated."""
    return _call(root, "config", "-z", "--list", ok=(0, 1))


def gitlinks(root: Path, commit: str | None = None) -> list[tuple[str, str]]:
    """Submodules: (path, recorded commit), from the index or from ``commit``."""
    if commit is None:
        out = _call(root, "ls-files", "-s", "-z")
    else:
        out = _call(root, "ls-tree", "-r", "-z", "--full-tree", commit)
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
        # Another repository (a submodule): none of the hook's variables, so
        # plain git with an environment of its own (GitPython's only adds).
        env = {**scrubbed_env(root, os.environ), "GIT_INDEX_FILE": str(tmp / "index")}
        for args in (
            ["read-tree", commit],
            ["checkout-index", "-a", "-f", "-q", f"--prefix={os.fsdecode(dest)}/"],
        ):
            proc = _run(args, root, env=env)
            if proc.returncode != 0:
                raise RatchetError(f"git {args[0]} failed: {_first_line(proc.stderr)}")


# -- configuration ------------------------------------------------------------------


def set_config(root: Path, section: str, values: Mapping[str, str]) -> None:
    """Set ``section``'s ``values`` in this clone's own configuration."""
    with _repo(root).config_writer("repository") as writer:
        for key, value in values.items():
            writer.set_value(section, key, value)


def remove_config_section(root: Path, section: str) -> bool:
    """Remove ``section`` from this clone's own configuration; whether it was there."""
    with _repo(root).config_writer("repository") as writer:
        return bool(writer.remove_section(section))


# -- the environment of what runs in other repositories ------------------------------


def local_env_vars(root: Path) -> list[str]:
    if _ENV_VARS:  # Told by toplevel() already.
        return list(_ENV_VARS)
    try:
        out = _call(root, "rev-parse", "--local-env-vars")
    except RatchetError:
        return list(_LOCAL_ENV_VARS)
    return out.decode().split()


_ENV_VARS: list[str] = []  # What this command's git prints for --local-env-vars.


def scrubbed_env(root: Path, env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the variables git exports to hooks for its own repository.

    Left in place, they make ``git init``/``git add`` in a test's temporary
    folder act on the user's repository and index instead.
    """
    drop = set(local_env_vars(root)) | set(_LOCAL_ENV_VARS)
    return {k: v for k, v in env.items() if k not in drop}
