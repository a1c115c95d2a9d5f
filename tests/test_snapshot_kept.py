"""The kept copy of the index (ratchet.snapshot): after any change to the
index, to the copy, or to what decides how git writes files, it holds
exactly what a fresh export holds."""

from __future__ import annotations

import marshal
import os
import stat
import tempfile
from pathlib import Path

import pytest

from ratchet import errors, git, scratch, snapshot
from ratchet.config import load_config
from ratchet.workspace import for_commit
from testing.project import TESTS, Project, pyproject

DROPPING_TESTS = TESTS.replace("def test_sub", "def _not_a_test")


@pytest.fixture(autouse=True)
def _own_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own scratch folder: kept copies are per machine."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))


def tree(root: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every entry under ``root``: kind, permission bits, content or link target."""
    found = {}
    for here, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(here, name)
            rel = path.relative_to(root).as_posix()
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", 0, os.readlink(path).encode())
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", 0, b"")
            else:
                found[rel] = ("file", info.st_mode & 0o111, path.read_bytes())
    return found


def fresh(repo: Path, tmp_path: Path) -> dict[str, tuple[str, int, bytes]]:
    dest = tmp_path / f"fresh-{os.urandom(4).hex()}" / repo.name
    snapshot.export(repo, dest)
    return tree(dest)


def kept(repo: Path) -> tuple[Path, dict[str, tuple[str, int, bytes]]]:
    with snapshot.of_index(repo, "ratchet-snapshot-") as root:
        assert snapshot.is_kept(root)
        return root, tree(root)


def test_the_kept_copy_follows_every_kind_of_index_change(
    project: Project, tmp_path: Path
) -> None:
    repo = project.root
    project.write("data/a.txt", "a\n")
    project.write("data/b.txt", "b\n")
    project.write("run.sh", "echo\n")
    project.git("add", ".")
    first, seen = kept(repo)
    assert seen == fresh(repo, tmp_path)
    steps: list[list[tuple[str, ...]]] = [
        [("write", "pkg/mod.py", "X = 2\n"), ("git", "add", "pkg/mod.py")],  # Edited.
        [("git", "rm", "-q", "--cached", "data/b.txt")],  # Deleted.
        [("write", "pkg/new.py", "Y = 1\n"), ("git", "add", "pkg/new.py")],  # Added.
        [("git", "update-index", "--chmod=+x", "run.sh")],  # Its mode.
        [("link", "mod.py", "pkg/link.py"), ("git", "add", "pkg/link.py")],
        # A file becomes a folder, and a folder a file.
        [("git", "rm", "-q", "-f", "data/a.txt"), ("write", "data/a.txt/in.txt", "in\n"),
         ("git", "add", "data")],
        [("git", "rm", "-q", "-r", "tests"), ("write", "tests", "t\n"), ("git", "add", "tests")],
    ]  # fmt: skip
    for step in steps:
        for kind, *args in step:
            if kind == "git":
                project.git(*args)
            elif kind == "write":
                project.write(args[0], args[1])
            else:
                os.symlink(args[0], repo / args[1])
        root, seen = kept(repo)
        assert root == first  # The same folder, brought up to date.
        assert seen == fresh(repo, tmp_path)


def test_what_a_test_run_did_to_the_copy_is_undone(project: Project, tmp_path: Path) -> None:
    repo = project.root
    root, _ = kept(repo)
    (root / "pkg" / "mod.py").write_text("BROKEN = True\n")  # Changed by a test.
    (root / "pkg" / "__init__.py").unlink()  # Removed by a test.
    (root / "made.txt").write_text("x")  # Made by a test.
    (root / "out" / "deep").mkdir(parents=True)
    (root / "tests" / "test_mod.py").chmod(0o755)  # Only its mode: only its ctime shows it.
    _, seen = kept(repo)
    assert seen == fresh(repo, tmp_path)


def test_a_rewritten_file_never_has_a_time_its_earlier_content_had(project: Project) -> None:
    """Bytecode is checked by whole-second time and size: a same-size edit
    within the same second must still get a new time."""
    repo = project.root
    times = []
    for text in ("A = 1\n", "A = 2\n", "A = 3\n"):  # The same size each time.
        project.stage("pkg/mod.py", text)
        root, _ = kept(repo)
        times.append(int((root / "pkg" / "mod.py").stat().st_mtime))
        assert (root / "pkg" / "mod.py").read_text() == text
    assert times[0] < times[1] < times[2]


def test_an_untouched_file_is_not_written_again(project: Project) -> None:
    repo = project.root
    root, _ = kept(repo)
    before = (root / "tests" / "test_mod.py").stat()
    project.stage("pkg/mod.py", "X = 1\n")
    kept(repo)
    after = (root / "tests" / "test_mod.py").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_change_of_how_git_writes_files_writes_everything_again(
    project: Project, tmp_path: Path
) -> None:
    repo = project.root
    kept(repo)
    project.git("config", "core.autocrlf", "true")  # Text files get CRLF on export.
    root, seen = kept(repo)
    assert seen == fresh(repo, tmp_path)
    assert b"\r\n" in (root / "pkg" / "mod.py").read_bytes()
    project.git("config", "--unset", "core.autocrlf")
    project.stage(".gitattributes", "*.py text eol=crlf\n")
    _, seen = kept(repo)
    assert seen == fresh(repo, tmp_path)
    assert b"\r\n" in seen["tests/test_mod.py"][2]


def test_a_damaged_or_interrupted_record_means_a_whole_export(
    project: Project, tmp_path: Path
) -> None:
    repo = project.root
    root, _ = kept(repo)
    record = root.parent.parent / "record"
    (root / "pkg" / "mod.py").write_text("BROKEN = True\n")
    # What an update stopped midway leaves: no record (it is removed first).
    record.unlink()
    _, seen = kept(repo)
    assert seen == fresh(repo, tmp_path)
    good = marshal.loads(record.read_bytes())
    assert good["version"] == 1
    entry = good["files"]["pkg/mod.py"]
    damaged = [
        b"not marshal",
        b"",
        marshal.dumps([]),
        marshal.dumps({**good, "files": {"pkg/mod.py": "x"}}),
        marshal.dumps({**good, "files": {"pkg/mod.py": 5}}),
        marshal.dumps({**good, "files": {"pkg/mod.py": list(entry)}}),
        marshal.dumps({**good, "files": []}),
        marshal.dumps({**good, "times": {"pkg/mod.py": "soon"}}),
        marshal.dumps({**good, "context": None}),
        marshal.dumps({**good, "version": 0}),
    ]
    for data in damaged:
        record.write_bytes(data)
        (root / "pkg" / "mod.py").write_text("BROKEN = True\n")
        _, seen = kept(repo)
        assert seen == fresh(repo, tmp_path), data


def test_a_second_check_meanwhile_gets_a_fresh_export(project: Project, tmp_path: Path) -> None:
    repo = project.root
    with snapshot.of_index(repo, "ratchet-snapshot-") as first:
        assert snapshot.is_kept(first)
        with snapshot.of_index(repo, "ratchet-snapshot-") as second:
            assert not snapshot.is_kept(second)
            assert tree(second) == fresh(repo, tmp_path)
        assert not second.exists()  # A fresh export is removed after use.
    assert first.exists()


def test_entries_git_would_not_write_get_a_fresh_export(project: Project) -> None:
    project.git("update-index", "--skip-worktree", "pkg/mod.py")
    with snapshot.of_index(project.root, "ratchet-snapshot-") as root:
        assert not snapshot.is_kept(root)


def test_copies_of_gone_repositories_and_beyond_the_few_latest_are_removed(
    project: Project, tmp_path: Path
) -> None:
    others = []
    for i in range(snapshot.KEEP + 1):
        other = tmp_path / f"other{i}"
        other.mkdir()
        git._call(other, "init", "-q")
        (other / "f.txt").write_text("f\n")
        git._call(other, "add", "f.txt")
        kept(other)
        others.append(other)
        # Distinct times of use, oldest first.
        os.utime(scratch.where() / _name(other) / "repo", (1000 + i, 1000 + i))
    os.rename(others[-1], tmp_path / "gone")  # The latest used: its repository is gone.
    kept(project.root)
    left = {p.name for p in scratch.where().iterdir() if p.name.startswith(snapshot.KEPT)}
    # This one and the latest KEEP - 1 others whose repository is still there.
    assert left == {_name(project.root), *(_name(o) for o in others[-snapshot.KEEP : -1])}


def _name(repo: Path) -> str:
    import hashlib

    digest = hashlib.sha256(os.fsencode(os.path.realpath(repo))).hexdigest()[:16]
    return f"{snapshot.KEPT}{digest}"


def test_a_check_of_staged_content_again_reuses_the_copy_and_its_bytecode(
    baselined: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: a second check with an unstaged change runs tests without
    compiling again what it compiled before, and judges as a fresh export."""
    # ratchet's own bytecode folder in the git directory, not the suite's shared one.
    monkeypatch.delenv("PYTHONPYCACHEPREFIX")
    baselined.stage("tests/test_mod.py", DROPPING_TESTS)
    baselined.write("pkg/notes.py", "x = 1\n")  # Untracked: the commit's content is a copy.
    first = baselined.ratchet("check")
    assert first.code == errors.BLOCKED, first.out
    assert "measured the staged content" in first.out
    cache = baselined.root / ".git" / "ratchet" / "pycache"
    test_module = [p for p in cache.rglob("test_mod*.pyc") if snapshot.KEPT in str(p)]
    assert len(test_module) == 1, "the kept copy's bytecode is kept"
    before = test_module[0].stat()
    # An edit of add()'s body: its test runs again, from the same copy.
    baselined.write("pkg/mod.py", baselined.read("pkg/mod.py").replace("a + b", "b + a"))
    baselined.git("add", "pkg/mod.py")
    second = baselined.ratchet("check")
    assert second.code == errors.BLOCKED, second.out
    assert "measured with `pytest`" in second.out, second.out  # Its tests ran.
    assert "pkg/mod.py" in second.out
    after = test_module[0].stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # The same verdict from a full run of a fresh export.
    monkeypatch.setattr(snapshot, "_kept_base", lambda repo: None)
    full = baselined.ratchet("check", "--full")
    assert full.code == errors.BLOCKED, full.out
    assert _verdicts(full.out) == _verdicts(second.out)
    assert baselined.read("pkg/notes.py") == "x = 1\n"  # The working tree is the user's.


def _verdicts(out: str) -> list[str]:
    return [line for line in out.splitlines() if not line.startswith("ratchet:")]


def test_a_copy_that_cannot_be_brought_up_to_date_gives_way_to_a_fresh_export(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git failing to write into the copy (a folder a test made unwritable,
    which cannot be made so for root): that check exports afresh, and the
    next one makes the kept copy anew, its record gone with the failure."""
    repo = project.root
    root, _ = kept(repo)
    project.stage("pkg/mod.py", "X = 3\n")

    def refuse(*args: object) -> None:
        raise errors.RatchetError("git checkout-index failed: Permission denied")

    with monkeypatch.context() as m:
        m.setattr(git, "export_index_paths", refuse)
        with snapshot.of_index(repo, "ratchet-snapshot-") as other:
            assert not snapshot.is_kept(other)
            assert tree(other) == fresh(repo, tmp_path)
    assert not (root.parent.parent / "record").exists()
    again, seen = kept(repo)
    assert again == root
    assert seen == fresh(repo, tmp_path)


def test_keep_copy_false_exports_afresh_each_time(project: Project, tmp_path: Path) -> None:
    """``keep-copy = false``: the copy is made for the check and removed
    after it, as before the copy was kept; nothing is left to prune."""
    project.write("pyproject.toml", pyproject("keep-copy = false"))
    project.commit("no kept copy")
    project.write("pkg/notes.py", "x = 1\n")  # Untracked: a copy is measured.
    config = load_config(project.root)
    assert not config.keep_copy
    with for_commit(project.root, config) as ws:
        assert ws.snapshot
        assert not snapshot.is_kept(ws.root)
        assert tree(ws.root) == fresh(project.root, tmp_path)
        made = ws.root
    assert not made.exists()
    assert not any(p.name.startswith(snapshot.KEPT) for p in scratch.where().iterdir())
    assert load_config(project.root, "[tool.ratchet]\n", given=True).keep_copy  # The default.
