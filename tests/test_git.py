"""``ratchet.git``: each named function against a real repository.

Absence and failure are told apart: a file git does not have is None, a
git that fails is an error.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ratchet import git
from ratchet.errors import RatchetError


def sh(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return proc.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "repo"
    root.mkdir()
    sh(root, "init", "-q", "-b", "main")
    (root / "a.py").write_text("A = 1\n")
    (root / "sub").mkdir()
    (root / "sub" / "b.py").write_text("B = 1\n")
    sh(root, "add", "-A")
    sh(root, "commit", "-qm", "one")
    yield root
    git.close()


def test_toplevel_and_staged_paths_work_from_a_subfolder(repo: Path) -> None:
    assert git.toplevel(repo / "sub") == repo
    (repo / "sub" / "b.py").write_text("B = 2\n")
    (repo / "new file.txt").write_text("x\n")
    sh(repo, "add", "-A")
    sh(repo, "rm", "-q", "--cached", "a.py")
    assert sorted(git.staged_paths(repo / "sub")) == ["a.py", "new file.txt", "sub/b.py"]


def test_toplevel_tells_the_git_directory_and_the_local_variables_too(
    repo: Path, tmp_path: Path
) -> None:
    """One git command answers all three, as the three separate questions
    do; a path with a line break in it is asked alone and read whole."""
    git.close()
    assert git.toplevel(repo / "sub") == repo
    told = (git.git_dir(repo), git.local_env_vars(repo))
    git.close()
    assert told == (git.git_dir(repo), git.local_env_vars(repo))
    assert told == (repo / ".git", sh(repo, "rev-parse", "--local-env-vars").split())
    odd = tmp_path / "line\nbreak"
    odd.mkdir()
    sh(odd, "init", "-q")
    (odd / "sub").mkdir()
    git.close()
    assert git.toplevel(odd / "sub") == odd
    assert git.git_dir(odd) == odd / ".git"


def test_outside_a_repository_every_question_says_so(tmp_path: Path) -> None:
    for ask in (git.toplevel, git.staged_paths):
        with pytest.raises(RatchetError, match="not a git repository"):
            ask(tmp_path)
    with pytest.raises(RatchetError, match="not a git repository"):
        git.index_file(tmp_path, "pyproject.toml")


def test_a_missing_file_is_none_and_a_failure_is_an_error(repo: Path) -> None:
    assert git.index_file(repo, "a.py") == b"A = 1\n"
    assert git.index_file(repo, "nope.toml") is None
    assert git.read_blob(repo, "HEAD:a.py") == b"A = 1\n"
    assert git.read_blob(repo, "HEAD:nope") is None
    assert git.read_blob(repo, "HEAD:sub") is None  # A folder is no file.
    assert git.blobs(repo, [":a.py", "HEAD~5:a.py", ":sub/b.py"]) == [
        b"A = 1\n",
        None,
        b"B = 1\n",
    ]
    # Names git's batch reader cannot take (a line break) are asked alone.
    (repo / "a b.py").write_text("S = 1\n")
    (repo / "line\nbreak.py").write_text("L = 1\n")
    (repo / "fold\ner").mkdir()
    (repo / "fold\ner" / "x.py").write_text("X = 1\n")
    sh(repo, "add", "-A")
    sh(repo, "commit", "-qm", "odd names")
    assert git.blobs(repo, [":line\nbreak.py", ":a b.py", ":no\nsuch.py", "HEAD", ":a.py"]) == [
        b"L = 1\n",
        b"S = 1\n",
        None,
        None,  # A commit is no file.
        b"A = 1\n",
    ]
    assert git.blobs(repo, ["HEAD:fold\ner"]) == [None]  # A folder is no file.
    git.close()
    (repo / ".git" / "objects").rename(repo / ".git" / "gone")
    with pytest.raises(RatchetError, match="git cannot read"):
        git.blobs(repo, ["HEAD:line\nbreak.py"])
    with pytest.raises(RatchetError):
        git.read_blob(repo, "HEAD:a.py")


def test_revisions_history_and_merge_bases(repo: Path) -> None:
    first = sh(repo, "rev-parse", "HEAD").strip()
    assert git.resolve(repo, "HEAD") == first
    assert git.resolve(repo, "HEAD~1") is None  # A root commit has no parent.
    assert git.resolve(repo, git.EMPTY_TREE) is None  # A tree, not a commit.
    (repo / "a.py").write_text("A = 2\n")
    sh(repo, "commit", "-qam", "two")
    history = git.commits_touching(repo, "HEAD", "a.py")
    assert [full for full, _, _ in history] == [sh(repo, "rev-parse", "HEAD").strip(), first]
    assert git.commits_touching(repo, "HEAD", "a.py", limit=1)[0][1] in history[0][0]
    assert git.merge_base(repo, "HEAD", first) == first
    with pytest.raises(RatchetError, match="git merge-base HEAD nowhere failed"):
        git.merge_base(repo, "HEAD", "nowhere")
    sh(repo, "checkout", "-q", "--orphan", "other")
    sh(repo, "commit", "-qm", "unrelated")
    with pytest.raises(RatchetError, match="have no common history"):
        git.merge_base(repo, "HEAD", "main")


def test_ignored_paths_and_the_working_tree(repo: Path) -> None:
    (repo / ".gitignore").write_text("build/\n*.log\n")
    (repo / "untracked.py").write_text("x = 1\n")
    (repo / "a.py").write_text("A = 3\n")
    assert git.ignored(repo, ["build/x.py", "a.log", "a.py", "odd\nname.py"]) == {
        "build/x.py",
        "a.log",
    }
    assert sorted(git.worktree_differences(repo)) == [".gitignore", "a.py", "untracked.py"]
    assert not git.worktree_matches_index(repo)
    sh(repo, "add", "-A")
    assert git.worktree_matches_index(repo)


def test_a_failure_of_either_working_tree_query_is_named(repo: Path, tmp_path: Path) -> None:
    """The two queries run at once; each one's failure is reported as its own."""
    sh(repo, "config", "core.excludesFile", str(tmp_path))  # A folder: ls-files refuses it.
    with pytest.raises(RatchetError, match="git ls-files failed: fatal: cannot use"):
        git.worktree_differences(repo)
    sh(repo, "config", "--unset", "core.excludesFile")
    (repo / ".git" / "index").write_bytes(b"DIRC garbage")
    with pytest.raises(RatchetError, match=r"git diff failed: .*index"):
        git.worktree_differences(repo)


def test_git_missing_from_path_is_named(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(RatchetError, match="git is not installed or not on PATH"):
        git.worktree_differences(repo)  # The query started first.
    with pytest.raises(RatchetError, match="git is not installed or not on PATH"):
        git.untracked_paths(repo)  # A query run to its end.


def test_submodules_are_listed_and_exported_at_their_commit(repo: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    sh(lib, "init", "-q")
    (lib / "h.py").write_text("H = 1\n")
    sh(lib, "add", "-A")
    sh(lib, "commit", "-qm", "h")
    recorded = sh(lib, "rev-parse", "HEAD").strip()
    sh(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor")
    assert git.gitlinks(repo) == [("vendor", recorded)]
    (repo / "vendor" / "h.py").write_text("H = 2\n")  # Not the recorded content.
    git.export_commit(repo / "vendor", recorded, tmp_path / "out")
    assert (tmp_path / "out" / "h.py").read_text() == "H = 1\n"


def test_configuration_is_written_to_this_clone_only(repo: Path) -> None:
    git.set_config(repo, 'merge "x"', {"name": "n", "driver": "d %A"})
    assert sh(repo, "config", "--local", "merge.x.driver").strip() == "d %A"
    assert git.remove_config_section(repo, 'merge "x"')
    assert not git.remove_config_section(repo, 'merge "x"')
    assert sh(repo, "config", "--local", "--list").count("merge.x") == 0


def test_renames_between_head_and_the_index_or_the_working_tree(repo: Path) -> None:
    (repo / "a.py").write_text("A = 1\n" + "# padding\n" * 20)
    sh(repo, "commit", "-qam", "bigger")
    sh(repo, "mv", "a.py", "moved.py")
    assert git.renamed(repo) == {"moved.py": "a.py"}
    sh(repo, "mv", "moved.py", "a.py")
    (repo / "a.py").rename(repo / "plain.py")  # A plain mv, never added.
    index = (repo / ".git" / "index").read_bytes()
    assert git.renamed(repo, worktree=True) == {"plain.py": "a.py"}
    assert (repo / ".git" / "index").read_bytes() == index


def test_hunks_of_a_staged_change(repo: Path) -> None:
    (repo / "a.py").write_text("X = 0\nA = 1\nB = 2\n")
    sh(repo, "add", "a.py")
    assert git.staged_hunks(repo, "a.py") == [(0, 0, 1, 1), (1, 0, 3, 1)]
    assert git.parse_hunks(b"@@ -3 +3,2 @@\n") == [(3, 1, 3, 2)]


def test_what_a_command_was_told_is_kept_until_the_index_or_the_command_changes(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index's listing is read once per state of the index file; the
    git directory once per command (``close`` forgets both)."""
    assert git.index_content_ids(repo).keys() == git.index_paths(repo) == {"a.py", "sub/b.py"}
    calls: list[tuple[str, ...]] = []
    real = git._call

    def counted(root: Path, *args: str, **kw: object) -> bytes:
        calls.append(args)
        return real(root, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(git, "_call", counted)
    assert git.index_paths(repo) == {"a.py", "sub/b.py"}
    assert git.git_dir(repo) == repo / ".git"
    assert calls == []  # Both known already.
    (repo / "c.py").write_text("C = 1\n")
    sh(repo, "add", "c.py")  # The index file is written anew.
    assert git.index_paths(repo) == {"a.py", "c.py", "sub/b.py"}
    assert calls == [("ls-files", "-z", "--full-name")]
    # Another index (a hook's GIT_INDEX_FILE, relative to the worktree) is another listing.
    sh(repo, "read-tree", "--index-output=.git/other", "HEAD")
    monkeypatch.setenv("GIT_INDEX_FILE", ".git/other")
    assert git.index_content_ids(repo).keys() == git.index_paths(repo) == {"a.py", "sub/b.py"}
    assert calls[1:] == [("ls-files", "-s", "-z")]
    monkeypatch.delenv("GIT_INDEX_FILE")
    git.close()
    calls.clear()
    assert git.index_paths(repo) == {"a.py", "c.py", "sub/b.py"}
    assert git.git_dir(repo) == repo / ".git"
    assert calls == [("rev-parse", "--absolute-git-dir"), ("ls-files", "-z", "--full-name")]


def test_heads_files_from_the_index_and_whats_staged_are_heads_tree(repo: Path) -> None:
    """Every kind of staged change, undone from the index's listing, gives
    HEAD's tree as listing it gives it; where that cannot be told, None."""
    head = sh(repo, "rev-parse", "HEAD").strip()
    tree = git.tree_ids(repo, head)
    assert tree is not None
    assert tree.keys() == {"a.py", "sub/b.py"}
    assert git.head_ids(repo, head) is None  # The index was not listed by this command.
    git.index_content_ids(repo)
    assert git.head_ids(repo, head) == tree  # Nothing staged.
    (repo / "a.py").write_text("A = 2\n")  # Modified.
    sh(repo, "rm", "-q", "sub/b.py")  # Deleted.
    (repo / "new.py").write_text("N = 1\n")  # Added.
    (repo / "later.py").write_text("L = 1\n")  # Intended to be added (git add -N).
    sh(repo, "add", "a.py", "new.py")
    sh(repo, "add", "-N", "later.py")
    git.index_content_ids(repo)
    assert git.head_ids(repo, head) == tree
    sh(repo, "commit", "-qm", "two")
    head = sh(repo, "rev-parse", "HEAD").strip()
    (repo / "a.py").unlink()
    (repo / "a.py").symlink_to("new.py")  # Of another type.
    sh(repo, "add", "-A")
    git.index_content_ids(repo)
    assert git.head_ids(repo, head) == git.tree_ids(repo, head)
    # An unmerged index: not told.
    sh(repo, "commit", "-qm", "three")
    sh(repo, "checkout", "-q", "-b", "side", "HEAD~1")
    (repo / "new.py").write_text("N = 'side'\n")
    sh(repo, "commit", "-qam", "side")
    sh(repo, "checkout", "-q", "main")
    (repo / "new.py").write_text("N = 'main'\n")
    sh(repo, "commit", "-qam", "main")
    proc = subprocess.run(["git", "merge", "-q", "side"], cwd=repo, capture_output=True)
    assert proc.returncode != 0  # A conflict.
    git.index_content_ids(repo)
    assert git.head_ids(repo, sh(repo, "rev-parse", "HEAD").strip()) is None
