"""``ratchet init``, ``check`` and ``update`` on real repositories and real runs."""

from __future__ import annotations

import json
import shutil

import pytest

from ratchet import errors, lastrun
from testing.project import MOD, TESTS, Project


def test_nothing_relevant_staged_is_skipped_without_running_tests(baselined: Project) -> None:
    baselined.write("README.md", "docs\n")
    baselined.git("add", "README.md")
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED
    assert "skipped" in result.out


def test_deleting_a_test_is_refused_and_names_the_newly_uncovered_line(
    baselined: Project,
) -> None:
    baselined.stage("tests/test_mod.py", TESTS.replace("def test_sub", "def _not_a_test"))
    before = baselined.state()
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED
    assert "pkg/mod.py: 62.50% -> 50.00%" in result.out
    # Line 6 is sub()'s body: covered at HEAD, uncovered now.  Lines 10-12
    # were uncovered already and are not blamed on this commit.
    assert "newly uncovered lines: 6\n" in result.out
    assert "ratchet update --allow-lower pkg/mod.py" in result.out
    assert baselined.state() == before


def test_added_uncovered_code_is_marked_as_added_by_the_commit(baselined: Project) -> None:
    baselined.stage("pkg/mod.py", MOD + "\n\ndef more(y):\n    z = y * 2\n    return z\n")
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED
    assert "newly uncovered lines: 16-17 (this commit adds 16-17)" in result.out


def test_without_a_record_of_head_it_says_it_cannot_tell_which_lines_are_new(
    baselined: Project,
) -> None:
    shutil.rmtree(baselined.root / ".git" / "ratchet" / "last-run")
    baselined.stage("pkg/mod.py", MOD + "\n\ndef more(y):\n    return y\n")
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED
    assert "uncovered lines this commit adds: 16" in result.out
    assert "other uncovered lines: 10-12" in result.out
    assert "unknown" in result.out


def _damaged(raw: bytes, how: str) -> bytes:
    key = raw.split(b"\n")[1].decode()
    files = lastrun._unpack(key, raw)
    assert files, "a whole record of HEAD"
    if how == "lines":  # Read as a record, but no line set.
        return lastrun._pack(key, dict.fromkeys(files, b"zq\x00garbage"))
    if how == "other key":
        return raw.replace(key.encode(), b"0" * 64, 1)
    if how == "one file less":  # Cut where a file begins: the count says so.
        fewer = lastrun._pack(key, {path: lines.data for path, lines in list(files.items())[1:]})
        counted = len(lastrun._MAGIC) + len(key) + 1 + 4  # Up to the number of files.
        return raw[:counted] + fewer[counted:]
    return raw[: len(raw) // 2]


@pytest.mark.parametrize("how", ["lines", "other key", "one file less", "cut"])
def test_a_damaged_record_of_head_is_as_none(baselined: Project, how: str) -> None:
    records = list((baselined.root / ".git" / "ratchet" / "last-run").iterdir())
    assert len(records) == 1  # HEAD's, from the baseline's measurement.
    records[0].write_bytes(_damaged(records[0].read_bytes(), how))
    baselined.stage("pkg/mod.py", MOD + "\n\ndef more(y):\n    return y\n")
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED, result.err
    assert "uncovered lines this commit adds: 16" in result.out
    assert "unknown" in result.out


def test_a_gain_passes_and_update_records_it(baselined: Project) -> None:
    baselined.write(
        "tests/test_more.py",
        "from pkg.mod import unused\n\ndef test_unused():\n    assert unused(1) == 1\n",
    )
    baselined.git("add", "-A")
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED
    assert "pkg/mod.py: 62.50% -> 87.50%" in result.out
    assert "ratchet update" in result.out

    result = baselined.ratchet("update")
    assert result.code == errors.PASSED
    assert "raised   pkg/mod.py: 62.50% -> 87.50%" in result.out
    assert "covered = 7  # 87.50%" in baselined.read("coverage-baseline.toml")
    # Nothing changed since: a second update writes nothing.
    assert "up to date" in baselined.ratchet("update").out


def test_update_never_lowers_without_allow_lower(baselined: Project) -> None:
    before = baselined.read("coverage-baseline.toml")
    baselined.write("tests/test_mod.py", TESTS.replace("def test_sub", "def _not_a_test"))
    result = baselined.ratchet("update")
    assert result.code == errors.PASSED
    assert "kept     pkg/mod.py: 62.50%, now 50.00% (dropped)" in result.out
    assert baselined.read("coverage-baseline.toml") == before


def test_allow_lower_records_the_reason_and_the_guard_accepts_exactly_that(
    baselined: Project,
) -> None:
    baselined.write("tests/test_mod.py", TESTS.replace("def test_sub", "def _not_a_test"))
    result = baselined.ratchet(
        "update", "--allow-lower", "pkg/mod.py", "--reason", "sub() moves to another package"
    )
    assert result.code == errors.PASSED, result.err
    assert "LOWERED  pkg/mod.py: 62.50% -> 50.00%" in result.out
    text = baselined.read("coverage-baseline.toml")
    assert 'reason = "sub() moves to another package"' in text
    assert "lowered = { statements = 8, covered = 5," in text
    baselined.git("add", "-A")
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED, result.out


def test_the_guard_refuses_a_hand_lowered_baseline(baselined: Project) -> None:
    text = baselined.read("coverage-baseline.toml")
    baselined.stage("coverage-baseline.toml", text.replace("covered = 5", "covered = 3"))
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED
    assert "pkg/mod.py: entry lowered from 62.50% to 37.50%" in result.out


def test_the_guard_refuses_removing_the_entry_of_an_existing_file(baselined: Project) -> None:
    text = baselined.read("coverage-baseline.toml")
    start = text.index('[files."pkg/mod.py"]')
    baselined.stage("coverage-baseline.toml", text[:start])
    result = baselined.ratchet("check")
    assert result.code == errors.BLOCKED
    assert "entry removed although the file still exists" in result.out


def test_a_deleted_file_passes_and_update_drops_its_entry(baselined: Project) -> None:
    baselined.write("pkg/extra.py", "VALUE = 1\n")
    baselined.write(
        "tests/test_extra.py",
        "from pkg.extra import VALUE\n\ndef test_value():\n    assert VALUE == 1\n",
    )
    baselined.commit("extra")
    assert baselined.ratchet("update").code == 0
    baselined.commit("record extra")
    baselined.git("rm", "-q", "pkg/extra.py", "tests/test_extra.py")
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED, result.out
    assert "deleted file" in result.out
    result = baselined.ratchet("update")
    assert "dropped  pkg/extra.py" in result.out
    baselined.git("add", "-A")
    assert baselined.ratchet("check").code == errors.PASSED


def test_a_new_file_passes_and_is_named_for_update(baselined: Project) -> None:
    baselined.stage("pkg/fresh.py", "def f():\n    return 1\n")
    result = baselined.ratchet("check")
    assert result.code == errors.PASSED
    assert "new file(s), to be recorded by `ratchet update`" in result.out
    assert "pkg/fresh.py: 0.00%" in result.out


def test_new_file_minimum_refuses_an_untested_new_file(project: Project) -> None:
    from testing.project import pyproject

    project.write("pyproject.toml", pyproject("new-file-minimum = 50"))
    assert project.ratchet("init").code == 0
    project.commit("baseline")
    project.stage("pkg/fresh.py", "def f():\n    return 1\n")
    result = project.ratchet("check")
    assert result.code == errors.BLOCKED
    assert "pkg/fresh.py: new file at 0.00%, minimum 50.00%" in result.out


def test_json_format_gives_numbers_and_verdicts(baselined: Project) -> None:
    baselined.stage("tests/test_mod.py", TESTS.replace("def test_sub", "def _not_a_test"))
    result = baselined.ratchet("check", "--format", "json")
    assert result.code == errors.BLOCKED
    doc = json.loads(result.out)
    assert doc["passed"] is False
    by_path = {f["path"]: f for f in doc["files"]}
    mod = by_path["pkg/mod.py"]
    assert mod["verdict"] == "dropped"
    assert mod["baseline"]["covered"] == 5
    assert mod["current"]["covered"] == 4
    assert mod["uncovered_lines"] == [6, 10, 11, 12]
    assert mod["newly_uncovered_lines"] == [6]


def test_all_judges_every_file_even_with_nothing_staged(baselined: Project) -> None:
    result = baselined.ratchet("check", "--all")
    assert result.code == errors.PASSED
    assert "2 files measured" in result.out


def _functions(prefix: str, count: int) -> str:
    """``count`` functions of 10 statements each; importing covers only the ``def``."""
    body = "".join(f"    x{j} = {j}\n" for j in range(8)) + "    return x0\n"
    return "".join(f"def {prefix}{i}():\n{body}\n\n" for i in range(count))


def test_a_tier_1_file_whose_gap_grows_is_refused_although_its_percentage_rose(
    project: Project,
) -> None:
    # 600 statements, 60 covered (10%): Tier 1 with a 50% target, gap 240.
    project.write("pkg/big.py", _functions("f", 60))
    project.write("tests/test_big.py", "import pkg.big\n\n\ndef test_big():\n    pass\n")
    project.commit("big")
    assert project.ratchet("init").code == 0
    text = project.read("coverage-baseline.toml")
    assert '[files."pkg/big.py"]\nstatements = 600\ncovered = 60  # 10.00%\n' in text
    assert 'tier = "Tier 1"\ntarget = 50\nstart = { statements = 600, covered = 60 }' in text
    project.commit("baseline")
    # 100 new statements with 28 covered: 10% -> 12.57%, yet the gap grows 240 -> 262.
    project.write("pkg/big.py", _functions("f", 60) + _functions("g", 10))
    project.write(
        "tests/test_big.py",
        "from pkg.big import g0, g1\n\n\ndef test_big():\n    g0()\n    g1()\n",
    )
    project.git("add", "-A")
    result = project.ratchet("check")
    assert result.code == errors.BLOCKED
    assert "pkg/big.py: 10.00% -> 12.57%" in result.out
    assert "Tier 1, target 50.00%: gap 240 -> 262 still to cover" in result.out
    assert "rule: a tiered file may not move further from its target" in result.out

    # Covering 27 of the 60 functions reaches the 50% target: 60 + 27 * 9 = 303 of 600.
    calls = "".join(f"    f{i}()\n" for i in range(27))
    project.write("pkg/big.py", _functions("f", 60))
    project.stage("tests/test_big.py", f"from pkg.big import *\n\n\ndef test_big():\n{calls}")
    result = project.ratchet("check")
    assert result.code == errors.PASSED
    assert "pkg/big.py: 10.00% -> 50.50%  (Tier 1 target 50.00% met)" in result.out


def test_allow_lower_on_a_file_that_did_not_go_down_lowers_nothing(baselined: Project) -> None:
    result = baselined.ratchet("update", "--allow-lower", "pkg/mod.py", "--reason", "just in case")
    assert result.code == errors.PASSED
    assert "--allow-lower pkg/mod.py: it did not go down; nothing lowered" in result.out
    assert "ratchet: no entry changed" in result.out
    assert "lowered" not in baselined.read("coverage-baseline.toml")


def _touch_beside_an_untracked_test(p: Project) -> None:
    """Stage a touched pkg/mod.py beside an untracked test module that
    covers unused(): what runs in place is not what is committed."""
    p.write(
        "tests/test_local.py",
        "from pkg.mod import unused\n\ndef test_local():\n    assert unused(0) == 2\n",
    )
    p.stage("pkg/mod.py", p.read("pkg/mod.py") + "\n# touched\n")
    p.git("rm", "-q", "--cached", "tests/test_local.py")


def _refuse_a_lost_test(p: Project) -> None:
    """sub() loses its test: refused, and only line 6 is newly uncovered
    (lines 10-12 were uncovered in the commit before)."""
    p.stage("tests/test_mod.py", TESTS.replace("def test_sub", "def _not_a_test"))
    p.git("rm", "-q", "--cached", "tests/test_local.py", check=False)
    result = p.ratchet("check")
    assert result.code == errors.BLOCKED
    assert "newly uncovered lines: 6\n" in result.out


def test_a_run_beside_an_untracked_test_file_is_recorded_as_what_it_measured(
    baselined: Project,
) -> None:
    # An untracked test module that covers unused(): the check measures a
    # snapshot of the index, without it, and records that content's lines.
    _touch_beside_an_untracked_test(baselined)
    assert baselined.ratchet("check").code == errors.PASSED
    baselined.git("commit", "-q", "--no-verify", "-m", "touched")
    # Refused: sub() loses its test.  Line 6 is newly uncovered; lines 10-12
    # were uncovered in the commit (had the untracked test's run been
    # recorded as the commit's, they would be named too).
    _refuse_a_lost_test(baselined)


def test_a_script_test_command_records_uncovered_lines_only_of_the_index(
    baselined: Project,
) -> None:
    from testing.project import pyproject

    # A script runs the tests: ratchet is not told what they ran on, so it
    # records a run only when the working tree was the index.
    baselined.write(
        "run_tests.py", "import sys\n\nimport pytest\n\nsys.exit(pytest.main(['-q', 'tests']))\n"
    )
    baselined.write("pyproject.toml", pyproject('test-command = "run_tests.py"'))
    baselined.commit("a script runs the tests")
    records = baselined.root / ".git" / "ratchet" / "last-run"
    before = {p.name: p.read_bytes() for p in records.iterdir()}
    _touch_beside_an_untracked_test(baselined)
    assert baselined.ratchet("check").code == errors.PASSED
    after = {p.name: p.read_bytes() for p in records.iterdir()}
    assert after == before  # An untracked test file: not recorded.
    (baselined.root / "tests" / "test_local.py").unlink()
    assert baselined.ratchet("check").code == errors.PASSED  # The index: recorded.
    baselined.commit("touched")
    _refuse_a_lost_test(baselined)


def test_init_names_fractional_tier_targets_as_percentages(project: Project) -> None:
    from testing.project import pyproject

    tiers = '[[tool.ratchet.tiers]]\nname = "Small"\nmax-statements = 100\ntarget = 27.5\n'
    project.write("pyproject.toml", pyproject() + tiers)
    result = project.ratchet("init")
    assert result.code == errors.PASSED
    assert "ratchet: Small: 2 file(s), target 27.50%\n" in result.out
