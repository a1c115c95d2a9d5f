"""Where the tests run: the working tree, or a snapshot of what is being committed.

A commit holds the index's content.  When the working tree differs from it
in a file that can change coverage (partial staging, ``git commit PATH``,
untracked test files), the tests run on a temporary copy of the index
instead, submodules at the commits the index records included; nothing of
the user's is touched.  Under pre-commit, which stashes unstaged changes
first, the working tree usually matches.

A snapshot run must not import the project's own code from the working
tree (then the commit's code was not what ran).  Installed packages are not
the project's code, even when the environment lives inside the repository
(``.venv``): anything in a folder holding ``pyvenv.cfg``, under
``site-packages``, or ignored by git is not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ratchet import git
from ratchet.errors import RatchetError

if TYPE_CHECKING:
    from ratchet.config import Config

PREFIX = "ratchet-snapshot-"


@contextmanager
def workspace(root: Path, config: Config, given_data: bool) -> Iterator[tuple[Path, int]]:
    """Where the tests run, and how many differing files that leaves out."""
    differing = [] if given_data else git.worktree_differences(root)
    # The baseline is read from the index anyway; the tests never see it.
    differing = [p for p in differing if config.is_relevant(p) and p != config.baseline]
    if not differing:
        yield root, 0
        return
    from ratchet import scratch

    with scratch.folder(PREFIX) as tmp:
        snapshot = tmp / root.name
        export(root, snapshot)
        yield snapshot, len(differing)


def export(root: Path, dest: Path) -> None:
    """Write the index's files into ``dest``, and each checked-out submodule
    at the commit the index records for it."""
    git.export_index(root, dest)
    for path, commit in git.gitlinks(root):
        sub = root / path
        if not (sub / ".git").exists():
            continue  # Not checked out: the working tree has nothing there either.
        git.export_commit(sub, commit, dest / path)
        export_submodules(sub, commit, dest / path)


def export_submodules(root: Path, commit: str, dest: Path) -> None:
    """Nested submodules of a submodule exported at ``commit``."""
    for path, sub_commit in git.gitlinks(root, commit):
        sub = root / path
        if (sub / ".git").exists():
            git.export_commit(sub, sub_commit, dest / path)
            export_submodules(sub, sub_commit, dest / path)


def project_sources(repo: Path, paths: Iterable[str]) -> list[str]:
    """Of ``paths`` (repository-relative files a snapshot run imported from
    the working tree), those that are the project's own code.

    Not counted: files in a virtualenv inside the repository (a folder with
    ``pyvenv.cfg``), under ``site-packages`` or ``dist-packages``, or ignored
    by git.
    """
    candidates = []
    for path in sorted(set(paths)):
        parts = path.split("/")
        if any(p in ("site-packages", "dist-packages") for p in parts):
            continue
        if any((repo.joinpath(*parts[:n]) / "pyvenv.cfg").is_file() for n in range(len(parts))):
            continue
        candidates.append(path)
    if not candidates:
        return []
    ignored = git.ignored(repo, candidates)
    return [p for p in candidates if p not in ignored]


def refuse_worktree_imports(repo: Path, paths: Iterable[str]) -> None:
    """Refuse a snapshot run that imported the project's code from ``repo``."""
    own = project_sources(repo, paths)
    if own:
        raise_imported_from_worktree(own[0])


def raise_imported_from_worktree(rel: str) -> NoReturn:
    raise RatchetError(
        f"the tests imported {rel} from the working tree, not from the staged "
        "snapshot, so the commit's own code was not measured",
        hint="stage or stash your unstaged changes, or import the project by a path "
        "relative to its folder (a src layout, an editable install)",
    )
