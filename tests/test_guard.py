"""The guard on edits to the baseline."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from ratchet.baseline import Baseline, Entry, Lowering
from ratchet.guard import guard
from ratchet.numbers import Numbers
from ratchet.rules import Policy

TIERED = Entry(Numbers(600, 60), "Tier 1", Fraction(50), Numbers(600, 60))
HEAD = Baseline(
    "7.17.3",
    False,
    {"a.py": Entry(Numbers(10, 8)), "big.py": TIERED},
    overall_target=Fraction(28),
)
EXISTS = {"a.py", "big.py"}


def problems(staged: Baseline, exists: set[str] = EXISTS) -> list[str]:
    return [f"{p.path}: {p.message}" for p in guard(HEAD, staged, exists, Policy())]


def with_file(path: str, entry: Entry) -> Baseline:
    return replace(HEAD, files={**HEAD.files, path: entry})


def test_raises_and_new_entries_pass() -> None:
    assert problems(with_file("a.py", Entry(Numbers(10, 9)))) == []
    assert problems(with_file("new.py", Entry(Numbers(1, 0)))) == []


def test_a_lower_entry_is_refused() -> None:
    assert problems(with_file("a.py", Entry(Numbers(10, 7)))) == [
        "a.py: entry lowered from 80.00% to 70.00% (dropped) without "
        "`ratchet update --allow-lower`"
    ]


def test_a_deletion_only_drop_is_accepted_as_everywhere() -> None:
    assert problems(with_file("a.py", Entry(Numbers(6, 4)))) == []


def test_a_recorded_lowering_from_heads_numbers_is_accepted() -> None:
    lowered = Entry(Numbers(10, 7), lowered=Lowering(Numbers(10, 8), "moved", "2026-11-21"))
    assert problems(with_file("a.py", lowered)) == []
    # ... but not one that claims to lower from other numbers than HEAD's,
    wrong = Entry(Numbers(10, 7), lowered=Lowering(Numbers(10, 9), "moved", "2026-11-21"))
    assert len(problems(with_file("a.py", wrong))) == 1
    # ... nor an old lowering record reused for a second drop.
    head = with_file("a.py", lowered)
    again = Entry(Numbers(10, 6), lowered=lowered.lowered)
    assert guard(head, replace(head, files={**head.files, "a.py": again}), EXISTS, Policy())


def test_entries_of_existing_files_may_not_disappear() -> None:
    staged = replace(HEAD, files={"big.py": TIERED})
    assert problems(staged) == ["a.py: entry removed although the file still exists"]
    assert problems(staged, exists={"big.py"}) == []


def test_targets_may_not_drop() -> None:
    assert problems(with_file("big.py", replace(TIERED, target=Fraction(40)))) == [
        "big.py: Tier 1 target lowered or removed"
    ]
    assert problems(with_file("big.py", Entry(Numbers(600, 60)))) == [
        "big.py: Tier 1 target lowered or removed"
    ]
    assert problems(with_file("big.py", replace(TIERED, start=Numbers(600, 0)))) == [
        "big.py: Tier 1 start numbers changed"
    ]
    assert problems(replace(HEAD, overall_target=Fraction(20))) == [
        "None: overall target lowered from 28.00% to 20.00%"
    ]
    assert problems(replace(HEAD, overall_target=Fraction(30))) == []


def test_a_tier_gap_that_grows_is_refused() -> None:
    grown = replace(TIERED, numbers=Numbers(700, 80))  # 10% -> 11.4%, gap 240 -> 270
    assert problems(with_file("big.py", grown)) == [
        "big.py: entry lowered from 10.00% to 11.43% (gap-grew) without "
        "`ratchet update --allow-lower`"
    ]


def test_a_renamed_files_new_entry_is_held_to_the_old_one() -> None:
    moved_down = replace(
        HEAD, files={"b.py": Entry(Numbers(10, 7)), "c.py": Entry(Numbers(600, 1))}
    )
    exists = {"b.py", "c.py"}
    renamed = {"b.py": "a.py", "c.py": "big.py"}
    found = [f"{p.path}: {p.message}" for p in guard(HEAD, moved_down, exists, Policy(), renamed)]
    assert found == [
        "b.py: entry lowered from 80.00% to 70.00% (dropped) without "
        "`ratchet update --allow-lower`",
        "c.py: Tier 1 target lowered or removed",
        "c.py: entry lowered from 10.00% to 0.17% (dropped) without "
        "`ratchet update --allow-lower`",
    ]
    # Without the rename, they are a deleted file and a new one: both accepted.
    assert guard(HEAD, moved_down, exists, Policy()) == []
    moved = replace(HEAD, files={"b.py": HEAD.files["a.py"], "c.py": TIERED})
    assert guard(HEAD, moved, exists, Policy(), renamed) == []
