"""Renamed files: with git's rename detection the entry follows the file."""

from __future__ import annotations

import json
import shutil

from ratchet import errors
from testing.project import MOD, TESTS, Project

MOVED_TESTS = TESTS.replace("pkg.mod", "pkg.moved")
DROPPING = MOVED_TESTS.replace("def test_sub", "def _not_a_test")


def rename(p: Project, tests: str = MOVED_TESTS, *, edit: str = "") -> None:
    """``git mv pkg/mod.py pkg/moved.py``, optionally appending ``edit``; stage all."""
    p.git("mv", "pkg/mod.py", "pkg/moved.py")
    if edit:
        p.write("pkg/moved.py", MOD + edit)
    p.stage("tests/test_mod.py", tests)


def verdicts(p: Project, *args: str) -> dict[str, dict[str, object]]:
    result = p.ratchet("check", "--format", "json", *args)
    return {f["path"]: f for f in json.loads(result.out)["files"]}


def test_a_renamed_file_keeps_its_entry_and_is_not_new(baselined: Project) -> None:
    rename(baselined)
    files = verdicts(baselined)
    assert files["pkg/moved.py"]["renamed_from"] == "pkg/mod.py"
    assert files["pkg/moved.py"]["verdict"] == "same"
    assert "pkg/mod.py" not in files  # Not also a deletion.


def test_a_renamed_and_edited_file_is_judged_against_its_old_entry(baselined: Project) -> None:
    # As a brand-new file this would pass (no new-file minimum); as the old
    # file with one test fewer it is a drop.
    rename(baselined, DROPPING, edit="\n\ndef more():\n    return 3\n")
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED, result.out
    assert "pkg/moved.py (renamed from pkg/mod.py): 62.50% -> 50.00%" in result.out
    assert "--allow-lower pkg/moved.py" in result.out
    # HEAD's measurement of the old path tells which lines are newly uncovered;
    # the diff against the old path tells which the commit adds (`more` only).
    assert "newly uncovered lines: 6, 16 (this commit adds 16)" in result.out


def test_update_moves_the_entry_and_the_guard_accepts_it(baselined: Project) -> None:
    before = baselined.read("coverage-baseline.toml")
    rename(baselined)
    result = baselined.ratchet("update")
    assert result.code == errors.PASSED, result.err
    assert "renamed  pkg/mod.py -> pkg/moved.py: the entry follows the file" in result.out
    after = baselined.read("coverage-baseline.toml")
    assert '[files."pkg/mod.py"]' not in after
    assert after == before.replace('[files."pkg/mod.py"]', '[files."pkg/moved.py"]')
    baselined.git("add", "-A")
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED, result.out


def test_a_plain_mv_without_git_add_is_found_by_update(baselined: Project) -> None:
    shutil.move(baselined.root / "pkg/mod.py", baselined.root / "pkg/moved.py")
    baselined.write("tests/test_mod.py", MOVED_TESTS)
    state = baselined.state()
    result = baselined.ratchet("update")
    assert "renamed  pkg/mod.py -> pkg/moved.py" in result.out
    assert baselined.state()[1] == state[1]  # The index is not touched.


def test_the_guard_holds_a_renamed_entry_to_its_old_numbers(baselined: Project) -> None:
    rename(baselined)
    assert baselined.ratchet("update").code == errors.PASSED
    text = baselined.read("coverage-baseline.toml").replace("covered = 5", "covered = 3")
    baselined.stage("coverage-baseline.toml", text)
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED
    assert "pkg/moved.py: entry lowered from 62.50% to 37.50%" in result.out


def test_allow_lower_names_the_new_path_of_a_renamed_file(baselined: Project) -> None:
    rename(baselined, DROPPING)
    result = baselined.ratchet(
        "update", "--allow-lower", "pkg/moved.py", "--reason", "sub moves to another package"
    )
    assert result.code == errors.PASSED, result.err
    assert "LOWERED  pkg/moved.py: 62.50% -> 50.00%" in result.out
    baselined.git("add", "-A")
    assert baselined.ratchet("check").code == errors.PASSED


def test_a_rename_out_of_the_measured_source_is_a_deletion(baselined: Project) -> None:
    baselined.git("mv", "pkg/mod.py", "mod_script.py")
    baselined.stage("tests/test_mod.py", TESTS.replace("pkg.mod", "mod_script"))
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED, result.out
    assert "1 deleted file(s)" in result.out
    assert "dropped  pkg/mod.py" in baselined.ratchet("update").out


def test_base_follows_a_rename_made_on_the_branch(baselined: Project) -> None:
    baselined.git("checkout", "-q", "-b", "feature")
    rename(baselined, DROPPING)
    assert baselined.ratchet("update").code == errors.PASSED
    # A --no-verify commit: the moved entry lowered by hand to match.
    text = baselined.read("coverage-baseline.toml").replace("covered = 5", "covered = 4")
    baselined.write("coverage-baseline.toml", text)
    baselined.commit("rename and drop, --no-verify")
    result = baselined.ratchet("check", "--all", "--base", "main")
    assert result.code == errors.BLOCKED, result.out
    assert "pkg/moved.py (renamed from pkg/mod.py): 62.50% -> 50.00%" in result.out
