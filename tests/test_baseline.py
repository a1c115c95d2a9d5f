"""The baseline file: byte-stable writing, strict reading, atomic replacing."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.baseline import (
    Baseline,
    Entry,
    Lowering,
    dumps,
    load,
    loads,
    write_atomic,
)
from ratchet.baseline_fast import fast_loads
from ratchet.errors import RatchetError
from ratchet.numbers import Numbers
from ratchet.toml import tomllib
from testing.strategies import baselines


@given(baselines())
@settings(max_examples=300)
def test_round_trip_and_byte_stability(baseline: Baseline) -> None:
    text = dumps(baseline)
    again = loads(text)
    assert again == baseline
    assert dumps(again) == text


def test_entries_are_sorted_and_separated_for_clean_merges() -> None:
    b = Baseline("7.17.3", False, {"b.py": Entry(Numbers(4, 2)), "a.py": Entry(Numbers(3, 3))})
    text = dumps(b)
    assert text.index('[files."a.py"]') < text.index('[files."b.py"]')
    assert '[files."a.py"]\nstatements = 3\ncovered = 3  # 100.00%\n\n[files."b.py"]' in text


@given(st.text(max_size=300))
@settings(max_examples=500)
def test_arbitrary_text_loads_or_fails_cleanly(text: str) -> None:
    try:
        loads(text)
    except RatchetError as e:
        message = e.message
    else:
        return
    assert message.startswith("coverage-baseline.toml")


VALID = """format = 1
[measured-with]
coverage = "7.17.3"
branch = false
[files."a.py"]
statements = 4
covered = 2
"""


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("format = 1", "format = 2"), "format 2 is newer than this coverage-ratchet reads"),
        (("format = 1", 'format = "1"'), "format: missing or not an integer"),
        (("covered = 2", "covered = -1"), "must not be negative"),
        (("covered = 2", "covered = 5"), "5 is more than statements (4)"),
        (("covered = 2", "covered = 2.0"), "must be a whole number"),
        (("covered = 2", "covered = true"), "must be a whole number"),
        (('"a.py"', '"../a.py"'), "has a '..' segment"),
        (('"a.py"', '"/etc/a.py"'), "is absolute"),
        (('"a.py"', '"a\\\\b.py"'), "uses '\\'"),
        (('"a.py"', '"./a.py"'), "not in normal form"),
        (("branch = false", "branch = 1"), "branch: missing or not true/false"),
        (("covered = 2", "covered = 2\nbranches = 1"), "present, but the baseline has branch"),
        (("covered = 2", "covered = 2\ncolour = 1"), "unknown key 'colour'"),
        (("covered = 2", 'covered = 2\ntier = "Tier 1"'), "needs tier, target and start"),
    ],
)
def test_invalid_baselines_say_where_and_what(change: tuple[str, str], problem: str) -> None:
    with pytest.raises(RatchetError) as info:
        loads(VALID.replace(*change))
    assert problem in info.value.message


def test_duplicate_tables_are_refused_with_their_line() -> None:
    with pytest.raises(RatchetError, match=r"coverage-baseline.toml:8: not valid TOML"):
        loads(VALID + '[files."a.py"]\nstatements = 1\ncovered = 1\n')


def test_write_atomic_keeps_the_old_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "coverage-baseline.toml"
    path.write_text("old\n")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(RatchetError, match=r"cannot write .*coverage-baseline.toml: disk full"):
        write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["coverage-baseline.toml"]


def test_write_atomic_replaces_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "coverage-baseline.toml"
    path.write_text("old\n")
    path.chmod(0o640)
    write_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert path.stat().st_mode & 0o777 == 0o640


@given(baselines())
@settings(max_examples=300)
def test_the_fast_reader_agrees_with_tomllib_on_everything_we_write(baseline: Baseline) -> None:
    text = dumps(baseline)
    assert fast_loads(text) == tomllib.loads(text)


@given(baselines(), st.data())
@settings(max_examples=300)
def test_the_fast_reader_declines_or_agrees_on_edited_text(
    baseline: Baseline, data: st.DataObject
) -> None:
    text = dumps(baseline)
    at = data.draw(st.integers(0, len(text)))
    edit = data.draw(st.sampled_from(["", " ", "\n", "=", '"', "0", "[", "x", "\\", ".5", "#"]))
    cut = data.draw(st.integers(0, 3))
    edited = text[:at] + edit + text[at + cut :]
    fast = fast_loads(edited)
    if fast is None:
        return
    assert fast == tomllib.loads(edited)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (Entry(Numbers(2, 3)), "impossible numbers"),
        (Entry(Numbers(2, 1, 4, 1)), "impossible numbers"),  # Branches in statement mode.
        (Entry(Numbers(2, 1), " ", Fraction(50), Numbers(2, 1)), "empty or has control"),
        (Entry(Numbers(2, 1), lowered=Lowering(Numbers(2, 2), "why", "2026-02-30")), "a date"),
        (Entry(Numbers(2, 1), lowered=Lowering(Numbers(2, 2), "a\nb", "2026-02-03")), "reason"),
    ],
)
def test_nothing_is_written_that_could_not_be_read_back(entry: Entry, problem: str) -> None:
    with pytest.raises(RatchetError, match=problem):
        dumps(Baseline("7.0", False, {"a.py": entry}))
    with pytest.raises(RatchetError, match="the path has a control character"):
        dumps(Baseline("7.0", False, {"a\x1b.py": Entry(Numbers(1, 1))}))
    with pytest.raises(RatchetError, match="impossible start numbers"):
        dumps(Baseline("7.0", False, {}, overall_start=Numbers(1, 2)))


def test_a_baseline_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    (tmp_path / "coverage-baseline.toml").mkdir()
    with pytest.raises(RatchetError, match=r"coverage-baseline\.toml: cannot read it"):
        load(tmp_path / "coverage-baseline.toml")
