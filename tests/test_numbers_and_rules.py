"""The one better/worse order, on exact integers, at its edges."""

from __future__ import annotations

from fractions import Fraction

import pytest
from coverage.results import Numbers as CoverageNumbers
from coverage.results import display_covered
from hypothesis import given
from hypothesis import strategies as st

from ratchet.numbers import Numbers, display_percent, parse_percent
from ratchet.rules import Outcome, Policy, compare, judge

P = Policy()
N = Numbers
HALF = Fraction(50)


@st.composite
def numbers(draw: st.DrawFn) -> Numbers:
    statements = draw(st.integers(0, 5000))
    branches = draw(st.integers(0, 2000))
    return Numbers(
        statements,
        draw(st.integers(0, statements)),
        branches,
        draw(st.integers(0, branches)),
    )


@given(numbers(), st.integers(0, 4))
def test_display_matches_coverage_py(n: Numbers, precision: int) -> None:
    theirs = CoverageNumbers(
        precision=precision,
        n_files=1,
        n_statements=n.statements,
        n_missing=n.statements - n.covered,
        n_branches=n.branches,
        n_missing_branches=n.branches - n.covered_branches,
    )
    assert n.display(precision) == display_covered(theirs.pc_covered, precision) + "%"
    numerator, denominator = theirs.ratio_covered
    expected = Fraction(100) if denominator == 0 else 100 * Fraction(numerator, denominator)
    assert n.percent == expected


@pytest.mark.parametrize(
    ("base", "current", "target", "expected"),
    [
        # Exact ratios: 2/3 is 66.666...%, which displays as 66.67% but is less.
        (N(3, 2), N(6, 4), None, Outcome.EVEN),
        (N(10000, 6667), N(30000, 20000), None, Outcome.DROPPED),
        (N(3, 2), N(10000, 6666), None, Outcome.DROPPED),
        (N(3, 2), N(10000, 6667), None, Outcome.GAIN),
        # 79.995% is not 80%, however it is rounded for display.
        (N(20000, 16000), N(20000, 15999), None, Outcome.DROPPED),
        # Nothing to cover is 100%, like coverage.py says.
        (N(0, 0), N(0, 0), None, Outcome.SAME),
        (N(0, 0), N(1, 1), None, Outcome.EVEN),
        (N(0, 0), N(1, 0), None, Outcome.DROPPED),
        (N(4, 4), N(0, 0), None, Outcome.EVEN),
        (N(4, 4), N(5, 4), None, Outcome.DROPPED),
        # Deleting covered statements only: accepted and said so.
        (N(10, 8), N(6, 4), None, Outcome.DELETION_DROP),
        (N(10, 8), N(7, 4), None, Outcome.DROPPED),  # One more uncovered.
        # Tier: the gap may not grow even when the percentage rises.
        (N(1000, 100), N(1200, 150), HALF, Outcome.GAP_GREW),  # 10% -> 12.5%, gap 400 -> 450
        (N(1000, 100), N(1200, 200), HALF, Outcome.GAIN),  # gap 400 -> 400
        (N(1000, 100), N(980, 80), HALF, Outcome.DELETION_DROP),  # gap 400 -> 410
        (N(1000, 600), N(1100, 600), HALF, Outcome.DROPPED),  # met, and falls
        (N(1000, 600), N(1300, 700), HALF, Outcome.DROPPED),
        (N(100, 49), N(100, 50), HALF, Outcome.GAIN),  # reaches the target: gap 0
        # Branch mode: statements and branches count together, as in coverage.py.
        (N(10, 10, 4, 2), N(10, 9, 4, 4), None, Outcome.GAIN),  # 12/14 -> 13/14
        (N(10, 10, 4, 4), N(10, 10, 4, 3), None, Outcome.DROPPED),
        (N(10, 10, 4, 4), N(10, 10, 2, 2), None, Outcome.EVEN),
    ],
)
def test_compare_edges(
    base: Numbers, current: Numbers, target: Fraction | None, expected: Outcome
) -> None:
    assert compare(base, current, target, P) is expected


def test_deletion_drops_can_be_refused_by_configuration() -> None:
    strict = Policy(allow_deletion_drops=False)
    assert compare(N(10, 8), N(6, 4), None, strict) is Outcome.DROPPED
    assert compare(N(1000, 100), N(980, 80), HALF, strict) is Outcome.DROPPED


@pytest.mark.parametrize(
    ("n", "target", "gap"),
    [
        (N(1163, 169), HALF, 413),  # ceil(581.5) = 582 - 169
        (N(527, 62), HALF, 202),  # the seeds' workflow_debugger.py: +202
        (N(774, 262), HALF, 125),  # atom_agent_endpoints.py: +125
        (N(2439, 2401), HALF, 0),  # already above target
        (N(0, 0), HALF, 0),
        (N(3, 1), Fraction(200, 3), 1),  # target 66.67: ceil(2.0) - 1
    ],
)
def test_gap(n: Numbers, target: Fraction, gap: int) -> None:
    assert n.gap(target) == gap


def test_judge_new_deleted_and_unmeasured_files() -> None:
    minimum = Policy(new_file_minimum=Fraction(50))
    assert judge(None, N(10, 5), None, exists=True, policy=minimum) is Outcome.NEW
    assert judge(None, N(10, 4), None, exists=True, policy=minimum) is (
        Outcome.BELOW_NEW_FILE_MINIMUM
    )
    assert judge(N(10, 5), None, None, exists=False, policy=P) is Outcome.DELETED
    assert judge(N(10, 5), None, None, exists=True, policy=P) is Outcome.UNMEASURED
    # Not measured counts as 0% covered: an entry at 0% has nothing to lose.
    assert judge(N(10, 0), None, None, exists=True, policy=P) is Outcome.SAME


@pytest.mark.parametrize(
    ("value", "expected"), [(50, Fraction(50)), (27.5, Fraction(55, 2)), (0.1, Fraction(1, 10))]
)
def test_parse_percent_is_exact(value: float, expected: Fraction) -> None:
    assert parse_percent(value, "x") == expected


@pytest.mark.parametrize("value", [-1, 100.5, "50", True])
def test_parse_percent_refuses(value: object) -> None:
    with pytest.raises(ValueError, match="x must"):
        parse_percent(value, "x")


def test_display_never_rounds_to_100_or_0() -> None:
    assert display_percent(Fraction(99999, 1000)) == "99.99%"
    assert display_percent(Fraction(1, 1000)) == "0.01%"
    assert N(20000, 19999).display() == "99.99%"


@given(numbers(), numbers(), st.integers(0, 200))
def test_integer_comparisons_agree_with_exact_fractions(a: Numbers, b: Numbers, t: int) -> None:
    assert a.percent_below(b) == (a.percent < b.percent)
    target = Fraction(t, 2)
    needed = target * a.units / 100
    ceil = int(needed) + (needed.denominator != 1)
    assert a.gap(target) == max(0, ceil - a.covered_units)


@given(
    st.dictionaries(
        st.sampled_from([f"m{i}.py" for i in range(8)]),
        st.tuples(numbers(), st.none() | st.sampled_from([HALF, Fraction(80)])),
    ),
    st.dictionaries(st.sampled_from([f"m{i}.py" for i in range(8)]), numbers() | st.none()),
    st.sets(st.sampled_from([f"m{i}.py" for i in range(8)])),
    st.booleans(),
)
def test_every_files_verdict_is_the_rules_verdict(
    entries: dict[str, tuple[Numbers, Fraction | None]],
    measured: dict[str, Numbers | None],
    exists: set[str],
    allow_drops: bool,
) -> None:
    """judge_files' shortcut for equal numbers says what judge() says."""
    from ratchet.baseline import Baseline, Entry
    from ratchet.measurement import CoverageReport, FileResult, Measurement
    from ratchet.report import RunMode
    from ratchet.verdicts import judge_files

    policy = Policy(allow_deletion_drops=allow_drops)
    # Half the measured files get the baseline's very numbers: the common case.
    results = {
        path: FileResult(n if n is not None else entries.get(path, (N(1, 1), None))[0])
        for path, n in measured.items()
    }
    baseline = Baseline(
        "7.0", False, {path: Entry(n, target=t) for path, (n, t) in entries.items()}
    )
    measurement = Measurement(CoverageReport(results, "7.0", False), RunMode.FULL, "")
    verdicts = judge_files(baseline, measurement, exists | results.keys(), policy)
    assert [v.path for v in verdicts] == sorted(entries.keys() | results.keys())
    for v in verdicts:
        entry, result = entries.get(v.path), results.get(v.path)
        expected = judge(
            entry[0] if entry else None,
            result.numbers if result else None,
            entry[1] if entry else None,
            exists=v.path in exists | results.keys(),
            policy=policy,
        )
        assert v.outcome == expected


@given(
    st.dictionaries(
        st.sampled_from([f"m{i}.py" for i in range(8)]),
        st.tuples(numbers(), st.none() | st.sampled_from([HALF, Fraction(80)])),
    ),
    st.dictionaries(st.sampled_from([f"m{i}.py" for i in range(8)]), numbers()),
    st.dictionaries(st.sampled_from([f"m{i}.py" for i in range(8)]), numbers()),
    st.sets(st.sampled_from([f"m{i}.py" for i in range(8)])),
    st.dictionaries(
        st.sampled_from([f"n{i}.py" for i in range(2)]),
        st.sampled_from([f"m{i}.py" for i in range(8)]),
    ),
)
def test_verdicts_judged_ahead_are_those_judged_after(
    entries: dict[str, tuple[Numbers, Fraction | None]],
    before: dict[str, Numbers],
    changed: dict[str, Numbers],
    exists: set[str],
    renamed: dict[str, str],
) -> None:
    """Judging ahead (a selected check: the map's results while the tests
    run) and then the measurement, which keeps most of those results,
    gives the verdicts judging the measurement alone gives."""
    from ratchet.baseline import Baseline, Entry
    from ratchet.measurement import CoverageReport, FileResult, Measurement
    from ratchet.report import RunMode
    from ratchet.verdicts import judge_files, judged

    policy = Policy()
    baseline = Baseline(
        "7.0", False, {path: Entry(n, target=t) for path, (n, t) in entries.items()}
    )
    results = {path: FileResult(n) for path, n in before.items()}
    exists |= results.keys()
    # The run measured some files again: new results, for files the map had or not.
    after = {**results, **{path: FileResult(n) for path, n in changed.items()}}
    measurement = Measurement(CoverageReport(after, "7.0", False), RunMode.SELECTED, "")
    earlier = judged(baseline, results, exists, policy, renamed)
    alone = judge_files(baseline, measurement, exists, policy, renamed)
    assert judge_files(baseline, measurement, exists, policy, renamed, earlier=earlier) == alone
    # Judged by other inputs: judged again whole.
    other = judged(baseline, results, set(exists), policy, renamed)
    assert judge_files(baseline, measurement, exists, policy, renamed, earlier=other) == alone
    # Nothing measured again: the verdicts judged ahead, as they are.
    same = Measurement(CoverageReport(results, "7.0", False), RunMode.SELECTED, "")
    kept = judge_files(baseline, same, exists, policy, renamed, earlier=earlier)
    assert kept is earlier.verdicts
    assert kept == judge_files(baseline, same, exists, policy, renamed)
