"""``raise_baseline``: what ``ratchet update`` records, as a pure function."""

from __future__ import annotations

from fractions import Fraction

from ratchet.baseline import Baseline, Entry, Lowering
from ratchet.config import Config
from ratchet.ledger import raise_baseline
from ratchet.numbers import Numbers

N = Numbers
TIER = Entry(N(600, 60), "Tier 1", Fraction(50), N(600, 60))
BASE = Baseline(
    "7.17.3",
    False,
    {
        "up.py": Entry(N(10, 5)),
        "down.py": Entry(N(10, 8)),
        "shrunk.py": Entry(N(10, 8)),
        "gone.py": Entry(N(3, 3)),
        "unmeasured.py": Entry(N(4, 2)),
        "tier.py": TIER,
    },
    overall_target=Fraction(20),
)
EXISTS = {"up.py", "down.py", "shrunk.py", "unmeasured.py", "tier.py"}
MEASURED = {
    "up.py": N(10, 6),
    "down.py": N(10, 7),
    "shrunk.py": N(6, 4),
    "tier.py": N(700, 80),  # percentage up, gap up: refused, so kept
    "new.py": N(5, 1),
}


def test_raises_adds_drops_and_never_lowers() -> None:
    new, changes = raise_baseline(BASE, MEASURED, EXISTS, Config(), today="2026-11-21")
    assert new.files["up.py"] == Entry(N(10, 6))
    assert new.files["down.py"] == Entry(N(10, 8))  # kept
    assert new.files["shrunk.py"] == Entry(N(6, 4))  # deletion-only drop recorded
    assert "gone.py" not in new.files
    assert new.files["unmeasured.py"] == Entry(N(4, 2))
    assert new.files["tier.py"] == TIER
    assert new.files["new.py"] == Entry(N(5, 1))  # new files join no tier on update
    assert [p for p, *_ in changes.raised] == ["up.py"]
    assert [p for p, *_ in changes.deletion_drops] == ["shrunk.py"]
    assert [p for p, *_ in changes.kept] == ["down.py", "tier.py"]
    assert changes.dropped == ["gone.py"]
    assert changes.unmeasured == ["unmeasured.py"]
    assert new.overall_target == Fraction(20)


def test_allow_lower_records_previous_numbers_reason_and_date() -> None:
    new, changes = raise_baseline(
        BASE,
        MEASURED,
        EXISTS,
        Config(),
        allow_lower={"down.py": "moved", "unmeasured.py": "no longer imported"},
        today="2026-11-21",
    )
    assert new.files["down.py"] == Entry(
        N(10, 7), lowered=Lowering(N(10, 8), "moved", "2026-11-21")
    )
    # Not measured counts as not covered: the entry goes to 0%.
    assert new.files["unmeasured.py"] == Entry(
        N(4, 0), lowered=Lowering(N(4, 2), "no longer imported", "2026-11-21")
    )
    assert [p for p, *_ in changes.lowered] == ["down.py", "unmeasured.py"]


def test_a_lowering_record_is_dropped_once_the_file_is_back_up() -> None:
    lowered = Baseline(
        "7", False, {"a.py": Entry(N(10, 7), lowered=Lowering(N(10, 8), "x", "2026-01-01"))}
    )
    partly, _ = raise_baseline(
        lowered, {"a.py": N(20, 15)}, {"a.py"}, Config(), today="2026-11-21"
    )
    assert partly.files["a.py"].lowered is not None  # 75% is still below 80%
    back, _ = raise_baseline(lowered, {"a.py": N(10, 8)}, {"a.py"}, Config(), today="2026-11-21")
    assert back.files["a.py"] == Entry(N(10, 8))


def test_the_overall_target_follows_the_configuration_only_upwards() -> None:
    higher = Config(overall_target=Fraction(28))
    lower = Config(overall_target=Fraction(10))
    assert raise_baseline(BASE, {}, EXISTS, higher, today="x")[0].overall_target == 28
    assert raise_baseline(BASE, {}, EXISTS, lower, today="x")[0].overall_target == 20
