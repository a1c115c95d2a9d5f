"""The merge driver's fast path gives the general path's text, or steps aside."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratchet.baseline import Baseline, Entry, dumps, loads
from ratchet.baseline_edit import rewrite
from ratchet.commands.install import merge_driver
from ratchet.errors import RatchetError
from ratchet.merge import merge
from ratchet.merge_fast import merge_texts
from ratchet.numbers import Numbers
from ratchet.paths import all_clean, check_repo_path, clean_lines
from testing.strategies import baselines


def general(base: str, ours: str, theirs: str) -> str:
    mine = loads(ours)
    merged = merge(loads(base) if base.strip() else None, mine, loads(theirs))
    return rewrite(ours, mine, merged)[0]


@st.composite
def side(draw: st.DrawFn, base: Baseline, other: Baseline) -> Baseline:
    """One branch's baseline: the base's entries kept, raised, replaced or
    dropped, some of ``other``'s added, its overall target moved."""
    files: dict[str, Entry] = {}
    for path, entry in base.files.items():
        choice = draw(st.sampled_from(["keep", "keep", "raise", "replace", "drop"]))
        n = entry.numbers
        if choice == "keep":
            files[path] = entry
        elif choice == "raise" and n.covered < n.statements:
            files[path] = replace(entry, numbers=replace(n, covered=n.covered + 1))
        elif choice == "replace" and other.files:
            files[path] = draw(st.sampled_from(list(other.files.values())))
        elif choice != "drop":
            files[path] = entry
    for path, entry in other.files.items():
        if draw(st.booleans()):
            files[path] = entry
    if other.branch != base.branch:  # Numbers of the other mode do not fit.
        files = {p: e for p, e in files.items() if e == base.files.get(p)}
    target = draw(st.sampled_from([base.overall_target, other.overall_target]))
    return replace(base, files=files, overall_target=target)


@settings(max_examples=300, deadline=None)
@given(st.data(), baselines(), baselines(), baselines())
def test_the_fast_merge_is_the_general_merge(
    data: st.DataObject, base: Baseline, a: Baseline, b: Baseline
) -> None:
    ours, theirs = data.draw(side(base, a)), data.draw(side(base, b))
    base_text = data.draw(st.sampled_from([dumps(base), ""]))
    texts = (base_text, dumps(ours), dumps(theirs))
    fast = merge_texts(*texts)
    plain = all('"' not in p and "\\" not in p for bl in (base, a, b) for p in bl.files)
    if plain:
        assert fast is not None
    if fast is not None:
        assert fast == general(*texts)


def test_it_steps_aside_for_comments_and_other_layouts() -> None:
    base = Baseline("7.6", False, {"a.py": Entry(Numbers(10, 5)), "b.py": Entry(Numbers(4, 1))})
    ours = replace(base, files={**base.files, "a.py": Entry(Numbers(10, 6))})
    theirs = replace(base, files={**base.files, "b.py": Entry(Numbers(4, 2))})
    texts = dumps(base), dumps(ours), dumps(theirs)
    assert merge_texts(*texts) == general(*texts)
    assert loads(merge_texts(*texts) or "").files == {
        "a.py": Entry(Numbers(10, 6)),
        "b.py": Entry(Numbers(4, 2)),
    }
    commented = texts[1].replace("[files.", "# mine\n[files.", 1)
    assert merge_texts(texts[0], commented, texts[2]) is None  # Our comments: tomlkit keeps them.
    stale = texts[1].replace("60.00%", "50.00%")
    assert merge_texts(texts[0], stale, texts[2]) is None  # Not what dumps writes.
    other_mode = dumps(replace(base, branch=True, files={}))
    assert merge_texts(texts[0], texts[1], other_mode) is None  # The general path refuses it.
    assert merge_texts(texts[0], texts[1], "not toml [") is None
    duplicate = texts[2] + texts[2][texts[2].index("\n[files.") :]
    assert merge_texts(texts[0], texts[1], duplicate) is None
    # The base is read by the general path too: an entry it would refuse
    # there is refused here, even where both sides wrote another one.
    bad_base = texts[0].replace("covered = 5  ", "covered = 50  ")
    assert bad_base != texts[0]
    assert merge_texts(bad_base, texts[1], texts[2]) is None
    with pytest.raises(RatchetError):
        general(bad_base, texts[1], texts[2])
    # Ours, not as dumps writes it: more covered than there are statements,
    # a path with a '..' segment, a tiered entry with a stale percentage.
    assert (
        merge_texts(texts[0], texts[1].replace("covered = 6  ", "covered = 60  "), texts[2])
        is None
    )
    assert merge_texts(texts[0], texts[1].replace('"a.py"', '"x/../a.py"'), texts[2]) is None
    tiered = replace(
        ours,
        files={**ours.files, "a.py": Entry(Numbers(10, 6), "1", Fraction(80), Numbers(10, 6))},
    )
    assert merge_texts(texts[0], dumps(tiered), texts[2]) is not None
    stale_tier = dumps(tiered).replace("60.00%", "61.00%")
    assert merge_texts(texts[0], stale_tier, texts[2]) is None
    huge = "statements = 9223372036854775808\ncovered = 0  # 0.00%"
    assert (
        merge_texts(
            texts[0], texts[1].replace("statements = 10\ncovered = 6  # 60.00%", huge), texts[2]
        )
        is None
    )
    # A table header written another way is read inside the entry before it.
    spaced = '[ files."z.py" ]\nstatements = 1\ncovered = 1  # 100.00%\n'
    assert merge_texts(texts[0], dumps(tiered) + spaced, texts[2]) is None


@settings(max_examples=500)
@given(st.lists(st.text(alphabet="ab./:C\u00e9", max_size=8), min_size=1, max_size=4))
def test_paths_are_judged_clean_as_check_repo_path_judges_them(paths: list[str]) -> None:
    """The fast path checks all the paths of a side at once, in one string."""
    expected = all(check_repo_path(path) is None for path in paths)
    assert clean_lines("\n" + "\n".join(paths) + "\n") == expected
    assert all_clean(paths) == expected


@settings(max_examples=1000)
@given(st.lists(st.text(alphabet="ab./:\\\n\x00\x7fC\u00e9", max_size=6), max_size=4))
def test_all_clean_judges_every_path_as_check_repo_path_does(paths: list[str]) -> None:
    """Reports are checked all at once too: with line breaks, backslashes and
    control characters in the paths, and no path at all."""
    assert all_clean(paths) == all(check_repo_path(path) is None for path in paths)


def test_a_baseline_that_is_not_utf8_gets_the_general_paths_error(tmp_path: Path) -> None:
    """The fast path needs text; bytes that are not UTF-8 go to the general
    path, which says what is wrong, and leave our side untouched."""
    good = dumps(Baseline("7.6", False, {"a.py": Entry(Numbers(10, 5))}))
    base, ours, theirs = (tmp_path / n for n in ("base", "ours", "theirs"))
    base.write_text(good)
    theirs.write_text(good)
    ours.write_bytes(good.encode() + b"# \xff\n")
    with pytest.raises(RatchetError, match="ours"):
        merge_driver(str(base), str(ours), str(theirs))
    assert ours.read_bytes() == good.encode() + b"# \xff\n"
