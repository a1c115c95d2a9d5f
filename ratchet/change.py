"""The commit being judged: everything git says about it, gathered once.

``check`` builds one :class:`Change` and passes it on: the staged baseline,
the paths the commit keeps, renames, and the *reference* baseline that edits
to the baseline are held to (HEAD's; the amended commit's parent's on
``--amend``; the merge base's with ``--base``).

Removing or moving the baseline is itself a guarded change: the reference
is found at the path HEAD's own configuration names, so a commit cannot
rename the baseline (``baseline = "new.toml"``) and lower it unseen, nor
drop it from the index (``git rm --cached``) to edit it unguarded.  A
reference that cannot be read (a broken baseline committed with
``--no-verify``) is replaced by the newest readable one in history, and
the note says so; a failed read of git is an error, never an absence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ratchet import baseline_cache, git
from ratchet.baseline import Baseline, loads_bytes, read_bytes
from ratchet.config import Config
from ratchet.errors import RatchetError
from ratchet.guard import GuardProblem
from ratchet.paths import check_repo_path
from ratchet.relevance import DEFAULT_BASELINE, decode_pyproject, tool_section
from ratchet.renames import carry

# How far back to look for a readable baseline when the reference is broken.
HISTORY_DEPTH = 50


@dataclass(frozen=True)
class Change:
    """What ``check`` judges, as git has it."""

    config: Config  # As committed: the index's pyproject.toml.
    baseline: Baseline  # The staged baseline.
    exists: frozenset[str]  # Every path the commit keeps.
    reference: Baseline | None  # What the baseline edit is held to; None: nothing.
    judge_against: Baseline  # What each file's numbers are judged against.
    renamed: Mapping[str, str]  # New path -> old path, by git's rename detection.
    problems: tuple[GuardProblem, ...] = ()  # With the baseline file as a whole.
    notes: tuple[str, ...] = ()


def gather(
    root: Path, config: Config, base: str | None = None, *, amending: bool = False
) -> Change:
    """The commit's facts; ``base`` for CI (judge against the merge base)."""
    exists = frozenset(git.index_paths(root))
    if base is not None:
        staged_raw = git.read_blob(root, f":{config.baseline}")
        return _against_merge_base(root, config, base, staged_raw, exists)
    parent = _amended_parent(root) if amending else None
    rev = parent or "HEAD"
    # What a commit's check reads, in one git process, not three.
    read = _reader(
        root, [f":{config.baseline}", f"{rev}:pyproject.toml", f"{rev}:{config.baseline}"]
    )
    staged_raw = read(f":{config.baseline}")
    where = "HEAD" if parent is None else "the amended commit's parent"
    git_dir = git.git_dir(root)
    reference, ref_notes, same = _reference(root, config, rev, where, staged_raw, git_dir, read)
    problems: tuple[GuardProblem, ...] = ()
    if staged_raw is None:
        if reference is not None:
            problems = (
                GuardProblem(
                    config.baseline,
                    f"the commit removes or moves the baseline that {where} has",
                ),
            )
            baseline = reference
        else:
            # No committed baseline anywhere yet: the one `ratchet init` just wrote.
            baseline = loads_bytes(
                read_bytes(root / config.baseline, config.baseline), config.baseline
            )
    elif same and reference is not None:
        baseline = reference  # The same text: read once (a second at 100,000 entries).
    else:
        baseline = baseline_cache.load(git_dir, staged_raw, config.baseline)
    # Rename detection costs a diff; it only matters for entries whose file is gone.
    gone = any(p not in exists for b in (reference, baseline) if b for p in b.files)
    renamed = git.renamed(root, parent) if gone else {}
    return Change(
        config, baseline, exists, reference, baseline, renamed, problems, tuple(ref_notes)
    )


def _amended_parent(root: Path) -> str:
    """The commit an amend builds on: HEAD's parent, or the empty tree when
    amending a root commit."""
    return git.resolve(root, "HEAD^") or git.EMPTY_TREE


def _reader(root: Path, specs: list[str]) -> Callable[[str], bytes | None]:
    """:func:`ratchet.git.read_blob`, with ``specs`` read ahead at once."""
    found = dict(zip(specs, git.blobs(root, specs), strict=True))
    return lambda spec: found[spec] if spec in found else git.read_blob(root, spec)


def baseline_path_at(
    root: Path, rev: str, fallback: str, read: Callable[[str], bytes | None] | None = None
) -> str:
    """The baseline's path as ``rev``'s own configuration names it."""
    read = read or (lambda spec: git.read_blob(root, spec))
    try:
        section = tool_section(decode_pyproject(read(f"{rev}:pyproject.toml")))
    except RatchetError:
        return fallback  # Its configuration is unreadable: the current path.
    path = section.get("baseline", DEFAULT_BASELINE) if isinstance(section, dict) else None
    if not isinstance(path, str) or check_repo_path(path) is not None:
        return fallback
    return path


def _reference(
    root: Path,
    config: Config,
    rev: str,
    where: str,
    staged_raw: bytes | None,
    git_dir: Path,
    read: Callable[[str], bytes | None],
) -> tuple[Baseline | None, list[str], bool]:
    """The baseline at ``rev`` (found where ``rev``'s configuration put it),
    or the newest readable one before it; None when there is none.  And
    whether it was read from the very text staged now."""
    if rev == git.EMPTY_TREE:
        return None, [], False
    path = baseline_path_at(root, rev, config.baseline, read)
    raw = read(f"{rev}:{path}")
    if raw is None and path != config.baseline:
        path = config.baseline
        raw = read(f"{rev}:{path}")
    if raw is None:
        return None, [], False
    if raw == staged_raw and path == config.baseline:  # The usual case: unchanged.
        return baseline_cache.load(git_dir, raw, config.baseline), [], True
    try:
        return baseline_cache.load(git_dir, raw, f"{path} at {where}"), [], False
    except RatchetError as e:
        broken = e.message
    older = _readable_before(root, rev, path)
    if older is None:
        return (
            None,
            [f"{broken}; no readable baseline before it, so the baseline edit was not compared"],
            False,
        )
    commit, baseline = older
    note = f"{broken}; the baseline edit was compared with {path} at {commit[:12]}"
    return baseline, [note], False


def _readable_before(root: Path, rev: str, path: str) -> tuple[str, Baseline] | None:
    before = git.resolve(root, f"{rev}~1")
    if before is None:
        return None  # A root commit: nothing before it.
    commits = [full for full, _, _ in git.commits_touching(root, before, path, HISTORY_DEPTH)]
    for commit, raw in zip(
        commits, git.blobs(root, [f"{c}:{path}" for c in commits]), strict=True
    ):
        if raw is None:
            continue
        try:
            return commit, loads_bytes(raw, path)
        except RatchetError:
            continue
    return None


def _against_merge_base(
    root: Path, config: Config, ref: str, staged_raw: bytes | None, exists: frozenset[str]
) -> Change:
    """CI: judge against the baseline where the branch started, so a drop
    committed with --no-verify, baseline edit included, is still caught.
    Entries lowered on the branch with a recorded reason (which the guard
    checks) count as lowered."""
    since = git.merge_base(root, "HEAD", ref)
    renamed = git.renamed(root, since)
    if staged_raw is None:
        raise RatchetError(
            f"no {config.baseline} in the index", hint="commit a baseline, or drop --base"
        )
    now = loads_bytes(staged_raw, config.baseline)
    path = baseline_path_at(root, since, config.baseline)
    raw = git.read_blob(root, f"{since}:{path}")
    if raw is None:
        raise RatchetError(
            f"no {config.baseline} at the merge base of HEAD and {ref} ({since[:12]})",
            hint="commit a baseline on the base branch first, or drop --base",
        )
    then = loads_bytes(raw, f"{path} at {ref}")
    files, _ = carry(then.files, renamed, exists, now.files)
    for p, entry in now.files.items():
        if entry.lowered is not None and p in files:
            files[p] = entry
    reference = replace(then, files=files)
    return Change(config, now, exists, reference, reference, renamed)
