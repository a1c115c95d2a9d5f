"""Where the tests run, and with what: the workspace of a command.

A commit holds the index's content.  When the working tree differs from it
in a file that can change coverage (partial staging, ``git commit PATH``,
untracked test files), ``check`` runs the tests on a temporary copy of the
index instead, submodules at the commits the index records included;
nothing of the user's is touched.  Under pre-commit, which stashes unstaged
changes first, the working tree usually matches.  ``init``, ``update`` and
``report --measure`` measure the working tree in place.

The :class:`Workspace` is built complete, once: the folder, the project's
interpreter (found, never pre-commit's own), the environment the tests get
(git's hook variables scrubbed), and what a probe of that interpreter found.

A snapshot run must not import the project's own code from the working
tree (then the commit's code was not what ran).  Installed packages are not
the project's code, even when the environment lives inside the repository
(``.venv``): anything in a folder holding ``pyvenv.cfg``, under
``site-packages``, or ignored by git is not counted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ratchet import git
from ratchet.errors import RatchetError

if TYPE_CHECKING:
    from ratchet.config import Config
    from ratchet.environment import Probe

PREFIX = "ratchet-snapshot-"
MIN_COVERAGE = (7, 0)


@dataclass(frozen=True)
class Workspace:
    """Where a command's tests run, and with which interpreter and environment."""

    repo: Path  # The repository.
    root: Path  # Where the tests run: the repository, or a snapshot of its index.
    config: Config
    python: Path
    python_source: str  # How the interpreter was found, for messages.
    env: Mapping[str, str]  # What the tests run with.
    probe: Probe
    left_out: int = 0  # Differing files a snapshot leaves out.
    # Where the working tree differed from the index when this was made (see
    # :func:`ratchet.git.worktree_differences`); None when not looked at.
    differences: tuple[str, ...] | None = None

    @property
    def snapshot(self) -> bool:
        return self.root != self.repo

    @property
    def module(self) -> str | None:
        """The module the test command runs (``pytest``), None for a script."""
        from ratchet.runner import coverage_args

        return coverage_args(self.config.test_command)[1]

    def import_paths(self) -> list[str]:
        """In a snapshot, the import folders that would reach into the
        repository (editable installs, ``src`` layouts), moved into it."""
        if not self.snapshot:
            return []
        repo = os.path.realpath(self.repo)
        paths = []
        for entry in self.probe.sys_path:
            real = os.path.realpath(entry)
            if real == repo or real.startswith(repo + os.sep):
                paths.append(os.path.join(self.root, os.path.relpath(real, repo)))
        src = self.root / "src"
        if src.is_dir() and str(src) not in paths:
            paths.append(str(src))
        return paths


def in_place(repo: Path, config: Config, *, tests: bool = True) -> Workspace:
    """The working tree as it is; ``tests``: the test runner must be there too."""
    return _build(repo, repo, config, tests=tests)


@contextmanager
def for_commit(repo: Path, config: Config, *, tests: bool = True) -> Iterator[Workspace]:
    """The commit's content: the working tree when it matches the index in
    every file that can change coverage, else a copy of the index
    (:mod:`ratchet.snapshot`)."""
    differences = git.worktree_differences(repo) if tests else []
    # The baseline is read from the index anyway; the tests never see it.
    differing = [p for p in differences if config.is_relevant(p) and p != config.baseline]
    if not differing:
        yield _build(repo, repo, config, tests=tests, differences=tuple(differences))
        return
    from ratchet import snapshot

    with snapshot.of_index(repo, PREFIX, keep=config.keep_copy) as root:
        yield _build(repo, root, config, tests=tests, left_out=len(differing))


def _build(
    repo: Path,
    root: Path,
    config: Config,
    *,
    tests: bool,
    left_out: int = 0,
    differences: tuple[str, ...] | None = None,
) -> Workspace:
    from ratchet.environment import clean_env, find_python, probe_cached
    from ratchet.runner import coverage_args

    python, source = find_python(repo, config.python)
    env = clean_env(repo, python, os.environ)
    module = coverage_args(config.test_command)[1] if tests else None
    found = probe_cached(python, env, root, [module] if module else [], _probe_cache(repo, root))
    where = f"{python} ({source})"
    if found.coverage_version is None or found.missing_modules:
        other = _other_venv(repo, python) if config.python is None else None
        if other is not None:
            # A virtualenv under another name than .venv or venv: point at it.
            lacks = (
                "coverage.py"
                if found.coverage_version is None
                else ", ".join(found.missing_modules)
            )
            raise RatchetError(
                f"the project's environment {where} lacks {lacks}",
                hint=f"is the project's environment {other}? set it in pyproject.toml: "
                f'[tool.ratchet] python = "{other}"',
            )
    if found.coverage_version is None:
        raise RatchetError(
            f"coverage.py is not installed in the project's environment {where}",
            hint=f"install it there: {_quoted(python)} -m pip install coverage, or name "
            "the right interpreter in [tool.ratchet] python",
        )
    version = tuple(int(p) for p in found.coverage_version.split(".")[:2] if p.isdigit())
    if version < MIN_COVERAGE:
        raise RatchetError(
            f"coverage.py {found.coverage_version} in {where} is too old",
            hint="ratchet needs coverage 7.0 or newer there",
        )
    if found.missing_modules:
        names = ", ".join(found.missing_modules)
        raise RatchetError(
            f"the project's environment {where} lacks {names}",
            hint=f"install it there: {_quoted(python)} -m pip install {names}",
        )
    return Workspace(repo, root, config, python, source, env, found, left_out, differences)


def _probe_cache(repo: Path, root: Path) -> Path | None:
    """Where the answer of the project's interpreter is remembered: runs in
    the repository, and in its kept copy of the index (a fresh snapshot's
    folder is new every time)."""
    from ratchet import git, state

    if root == repo:
        name = "probe.json"
    else:
        from ratchet import snapshot  # Not on the way to an in-place run's tests.

        if not snapshot.is_kept(root):
            return None
        name = "probe-snapshot.json"  # Its answer names that folder: one file each.
    try:
        return state.folder(git.git_dir(repo)) / name
    except (RatchetError, state.StateError):
        return None


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


def _quoted(python: Path) -> str:
    import shlex

    return shlex.quote(str(python))


def _other_venv(repo: Path, python: Path) -> str | None:
    """A virtualenv at the repository's top (``env/``, ``.env/``, ...) that is not
    the interpreter ratchet found, as a path to write in the configuration."""
    try:
        folders = sorted(p for p in repo.iterdir() if (p / "pyvenv.cfg").is_file())
    except OSError:  # pragma: no cover - the top of the repository cannot be listed
        return None
    for folder in folders:
        candidate = folder / "bin" / "python"
        if candidate.exists() and folder.resolve() != python.parent.parent.resolve():
            return f"{folder.name}/bin/python"
    return None
