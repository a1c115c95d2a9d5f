"""A copy of the index for a check whose working tree differs from it, kept
between checks and brought up to date, instead of exported anew each time.

A fresh export is new files in a new folder: every module the tests import
is compiled again and every test module's assertions rewritten again (the
bytecode cache is keyed by the source's path, time and size).  On a
1,200-test project that was two thirds of such a check.  The kept copy lives
at the same place for the same repository, so its bytecode stays valid, and
only the files whose index entry changed are written again.

It must be exactly what a fresh export would be, or a verdict is about other
code than the commit's:

- a file is kept only while its index entry (mode, blob) is the one it was
  written from and its ``lstat`` (size, times, inode) is the one recorded
  after writing it: a test run that changed or touched it has it written
  again;
- anything else in the folder (a file a test run made, one the index no
  longer has) is removed;
- a file written again gets a modification time, in whole seconds, later
  than any it had before, so bytecode compiled from its earlier content
  (checked by time and size alone) is never taken for the new;
- what decides how git writes files (its configuration, attribute files)
  is part of the record: any change writes everything again;
- while it is being changed the record is removed, so an interrupted update
  is a full export next time.

One check uses it at a time (a lock); another check meanwhile, a repository
with submodules, entries git would not write (skip-worktree, unmerged), or
Windows get a fresh export in a temporary folder, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import shutil
import stat
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ratchet import git, scratch
from ratchet.errors import RatchetError

KEPT = scratch.KEPT  # Kept copies' folders in the scratch folder (never swept).
KEEP = 4  # Kept copies, of as many repositories (or linked worktrees), at most.
_VERSION = 1
# An index entry: (mode, blob id); a written file: entry + lstat (size, mtime, ctime, inode).
Entry = tuple[str, str]


@contextmanager
def of_index(repo: Path, fresh_prefix: str, *, keep: bool = True) -> Iterator[Path]:
    """A folder holding exactly the index's files, named like ``repo``: the
    kept copy where it can be used (and ``keep``), else a fresh export in a
    temporary folder (``fresh_prefix``), removed afterwards."""
    kept = _kept_base(repo) if keep else None
    if kept is not None:
        with _locked(kept) as mine:
            if mine:
                root = kept / "tree" / repo.name
                try:
                    usable = _update(repo, root, kept / "record")
                except (OSError, RatchetError):
                    # A full disk, a folder a test made unreadable: the record
                    # is gone, and a fresh export says what is wrong, if anything.
                    usable = False
                if usable:
                    yield root
                    return
    with scratch.folder(fresh_prefix) as tmp:
        root = tmp / repo.name
        export(repo, root)
        yield root


def is_kept(root: Path) -> bool:
    """Is ``root`` a kept copy (its folder outlives the check)?"""
    base = root.parent.parent
    return base.name.startswith(KEPT) and base.parent == scratch.where()


def export(root: Path, dest: Path) -> None:
    """Write the index's files into ``dest``, and each checked-out submodule
    at the commit the index records for it."""
    git.export_index(root, dest)
    for path, commit in git.gitlinks(root):
        sub = root / path
        if not (sub / ".git").exists():
            continue  # Not checked out: the working tree has nothing there either.
        git.export_commit(sub, commit, dest / path)
        _export_submodules(sub, commit, dest / path)


def _export_submodules(root: Path, commit: str, dest: Path) -> None:
    """Nested submodules of a submodule exported at ``commit``."""
    for path, sub_commit in git.gitlinks(root, commit):
        sub = root / path
        if (sub / ".git").exists():
            git.export_commit(sub, sub_commit, dest / path)
            _export_submodules(sub, sub_commit, dest / path)


# -- the kept copy ----------------------------------------------------------------------


def _kept_base(repo: Path) -> Path | None:
    if os.name == "nt":  # pragma: no cover - no flock on Windows: fresh exports there
        return None
    parent = scratch.parent()
    if parent is None:
        return None
    real = os.path.realpath(repo)
    base = parent / f"{KEPT}{hashlib.sha256(os.fsencode(real)).hexdigest()[:16]}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        (base / "repo").write_text(real, "utf-8")  # Also its time: when last used.
    except OSError:
        return None
    with contextlib.suppress(OSError):
        _prune(parent, base)
    return base


def _prune(parent: Path, base: Path) -> None:
    """Remove kept copies of repositories that are gone, and all but the
    most recently used few: each is a whole copy of a repository's files."""
    others = []
    for entry in os.scandir(parent):
        if entry.name.startswith(KEPT) and entry.path != str(base):
            named = Path(entry.path, "repo")
            with contextlib.suppress(OSError):
                others.append((named.stat().st_mtime, entry.path, named.read_text("utf-8")))
    others.sort(reverse=True)
    left = 1  # ``base``'s.
    for _, path, repo in others:
        if left < KEEP and os.path.isdir(repo):
            left += 1
            continue
        with _locked(Path(path)) as mine:
            if mine:  # Moved aside first: a check arriving now makes a new one.
                trash = parent / f"trash-{os.getpid()}-{os.urandom(4).hex()}"
                os.rename(path, trash)
                shutil.rmtree(trash, ignore_errors=True)


@contextmanager
def _locked(base: Path) -> Iterator[bool]:
    """Hold the kept copy's lock for the block; False if another check has
    it, or the folder was replaced meanwhile (the lock is no longer its)."""
    import fcntl

    path = base / "lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            mine = os.fstat(fd).st_ino == os.stat(path).st_ino
        except OSError:
            mine = False
        yield mine
    finally:
        os.close(fd)  # Releases the lock.


def _update(repo: Path, root: Path, record_path: Path) -> bool:
    """Bring ``root`` to the index's content; False where the kept copy
    cannot be used for this index (then nothing of it is relied on)."""
    listed = _listing(repo)
    if listed is None:
        return False
    entries, attributes = listed
    context = _context(repo, attributes)
    record = _load(record_path)
    record_path.unlink(missing_ok=True)  # Invalid until the tree matches it again.
    times: dict[str, int] = dict(record["times"]) if record else {}
    files: dict[str, tuple[Any, ...]] = {}
    if record is None or record["context"] != context or not root.is_dir():
        shutil.rmtree(root, ignore_errors=True)
        git.export_index(repo, root)
        written = list(entries)
    else:
        written = _refresh(repo, root, entries, record["files"])
        fresh = set(written)
        files = {p: record["files"][p] for p in entries if p not in fresh}
    now = int(time.time())
    for path in written:
        full = root / path
        try:
            info = full.lstat()
        except OSError:
            return False  # git did not write it (a path it will not check out).
        if stat.S_ISREG(info.st_mode):
            # Later than any time it had: bytecode of earlier content never matches.
            second = max(now, times.get(path, -1) + 1)
            os.utime(full, (second, second))
            times[path] = second
            info = full.lstat()
        files[path] = (*entries[path], *_identity(info))
    doc = {"version": _VERSION, "context": context, "files": files, "times": times}
    tmp = record_path.with_name(f".{record_path.name}.{os.getpid()}")
    try:
        # marshal, not JSON: at 20,000 files it reads and writes in a tenth of the time.
        tmp.write_bytes(marshal.dumps(doc))
        os.replace(tmp, record_path)
    except OSError:
        tmp.unlink(missing_ok=True)  # The tree is right; the next check exports again.
    return True


def _refresh(
    repo: Path, root: Path, entries: Mapping[str, Entry], recorded: Mapping[str, object]
) -> list[str]:
    """Remove what the index does not hold or what changed; write the index's
    files that are not in place as recorded.  The paths written."""
    wanted_dirs = {""}
    for path in entries:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            wanted_dirs.add("/".join(parts[:i]))
    kept: set[str] = set()
    pending = [""]
    while pending:
        here = pending.pop()
        with os.scandir(root / here if here else root) as it:
            for entry in it:
                rel = f"{here}/{entry.name}" if here else entry.name
                if entry.is_dir(follow_symlinks=False):
                    if rel in wanted_dirs:
                        pending.append(rel)
                    else:
                        shutil.rmtree(entry.path)
                    continue
                now = entries.get(rel)
                # A damaged record's entry of another shape or type is unequal too.
                if now is not None and recorded.get(rel) == (
                    *now,
                    *_identity(entry.stat(follow_symlinks=False)),
                ):
                    kept.add(rel)
                else:
                    os.unlink(entry.path)
    written = [path for path in entries if path not in kept]
    if written:
        git.export_index_paths(repo, root, written)
    return written


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def _listing(repo: Path) -> tuple[dict[str, Entry], list[str]] | None:
    """The index's files: path -> (mode, blob id), and the blob ids of its
    attribute files.  None when an entry is one a fresh export treats
    otherwise (skip-worktree, unmerged, a submodule)."""
    entries: dict[str, Entry] = {}
    attributes = []
    for record in git.index_listing_tagged(repo).split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        # "H 100644 <blob id> 0": cached (not skip-worktree), stage 0, a 6-digit mode.
        if meta[:2] != b"H " or meta[-2:] != b" 0" or meta[8:9] != b" ":
            return None
        mode, oid = meta[2:8].decode(), meta[9:-2].decode()
        if mode == "160000":
            return None
        path = os.fsdecode(name)
        entries[path] = (mode, oid)
        if path.rsplit("/", 1)[-1] == ".gitattributes":
            attributes.append(f"{path}:{oid}")
    return entries, attributes


def _context(repo: Path, attributes: list[str]) -> str:
    """What decides the bytes git writes for a blob besides the blob:
    configuration (line endings, filters, symlinks), the repository's and
    the user's attribute files, the tree's own."""
    digest = hashlib.sha256()
    config = git.config_listing(repo)
    digest.update(config)
    for name in attributes:
        digest.update(name.encode() + b"\0")
    files = [git.git_dir(repo) / "info" / "attributes"]
    for item in config.split(b"\0"):
        key, _, value = item.partition(b"\n")
        if key.lower() == b"core.attributesfile":
            files.append(Path(os.path.expanduser(os.fsdecode(value))))
    home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    files.append(Path(home) / "git" / "attributes")
    for path in files:
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
        digest.update(b"\1")
    return f"{_VERSION}:{digest.hexdigest()}"


def _load(path: Path) -> dict[str, Any] | None:
    """The record, or None if it is missing, damaged or of another shape.
    Its file entries are not checked one by one: one of another shape or
    type never equals what a file is now, so that file is written again."""
    try:
        doc = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(doc, dict) or doc.get("version") != _VERSION:
        return None
    files, times = doc.get("files"), doc.get("times")
    if not isinstance(files, dict) or not isinstance(times, dict):
        return None
    if not isinstance(doc.get("context"), str):
        return None
    if not all(type(second) is int for second in times.values()):
        return None  # New times are made from them.
    return doc
