"""``[tool.ratchet]``: defaults, tiers, and clear errors."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from ratchet.config import Config, load_config
from ratchet.errors import RatchetError
from ratchet.numbers import Numbers
from ratchet.tiers import DEFAULT_TIERS, assign_tier


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(text)
    return tmp_path


def test_no_pyproject_and_an_empty_section_give_the_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path) == Config()
    assert load_config(write(tmp_path, "[tool.ratchet]\n")) == Config()


def test_default_tiers_follow_the_seeds() -> None:
    def tier(n: Numbers) -> str | None:
        rule = assign_tier(n, DEFAULT_TIERS)
        return rule.name if rule else None

    assert tier(Numbers(1163, 169)) == "Tier 1"  # 14.5%, over 500 statements
    assert tier(Numbers(501, 100)) == "Tier 1"  # 19.96%
    assert tier(Numbers(501, 101)) is None  # 20.16%: not under 20%
    assert tier(Numbers(500, 10)) == "Tier 2"
    assert tier(Numbers(300, 300)) == "Tier 2"
    assert tier(Numbers(299, 0)) is None
    assert tier(Numbers(593, 338)) is None  # Over 500 but already 57%.


def test_custom_tiers_and_keys(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[tool.ratchet]
baseline = "ci/baseline.toml"
test-command = ["pytest", "-x", "tests/unit"]
new-file-minimum = 80
allow-deletion-drops = false
overall-target = 27.5
watch = ["tests/data/*"]

[[tool.ratchet.tiers]]
name = "Huge"
min-statements = 1000
below-percent = 10
target = 30
""",
        )
    )
    assert config.baseline == "ci/baseline.toml"
    assert config.test_command == ("pytest", "-x", "tests/unit")
    assert config.policy.new_file_minimum == 80
    assert config.policy.allow_deletion_drops is False
    assert config.overall_target == Fraction(55, 2)
    assert [t.name for t in config.tiers] == ["Huge"]
    assert config.is_relevant("tests/data/case.json")
    assert config.is_relevant("ci/baseline.toml")
    assert config.is_relevant("src/.coveragerc")
    assert not config.is_relevant("docs/index.md")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("colour = 1", "unknown key 'colour'"),
        ('test-command = ""', "test-command is empty"),
        ("test-command = 3", "test-command must be"),
        ('baseline = "../x.toml"', "baseline: the path has a '..' segment"),
        ("overall-target = 120", "between 0 and 100"),
        ("allow-deletion-drops = 'yes'", "allow-deletion-drops must be true or false"),
        ("early-start = 0", "early-start must be true or false"),
        ("keep-copy = 'no'", "keep-copy must be true or false"),
        ("select = 1", "select must be true or false"),
        ("record-gains = 'yes'", "record-gains must be true or false"),
        ("tiers = [1]", "tiers[1] must be a table"),
        ("watch = 'x'", "watch must be a list"),
        ("tiers = 1", "tiers must be an array"),
        ("[[tool.ratchet.tiers]]\nname = 'A'", "tiers[1].target is missing"),
        ("[[tool.ratchet.tiers]]\ntarget = 5", "tiers[1].name must be"),
        ("[[tool.ratchet.tiers]]\nname = 'A'\ntarget = 5\nmin-statements = -1", "whole number"),
        (
            "[[tool.ratchet.tiers]]\nname='A'\ntarget=5\n[[tool.ratchet.tiers]]\nname='A'\ntarget=5",
            "two tiers have the same name",
        ),
        ("[[tool.ratchet.tiers]]\nname = 'A'\ntarget = 5\nsize = 1", "unknown key 'size'"),
    ],
)
def test_bad_configuration(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(RatchetError) as info:
        load_config(write(tmp_path, f"[tool.ratchet]\n{text}\n"))
    assert problem in info.value.message
    assert re.match(r"pyproject\.toml(:\d+)?: ", info.value.message)


def test_malformed_pyproject(tmp_path: Path) -> None:
    with pytest.raises(RatchetError, match=r"pyproject\.toml:1: not valid TOML"):
        load_config(write(tmp_path, "[tool.ratchet\n"))


def test_a_pyproject_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.ratchet]\nbaseline = '\xff'\n")
    with pytest.raises(RatchetError, match=r"pyproject\.toml: not UTF-8 text \(byte 27\)"):
        load_config(tmp_path)


def test_toml_errors_name_their_line_where_toml_says() -> None:
    from ratchet.toml import error_line

    assert error_line(ValueError("bad (at line 7, column 2)"), "") == ":7"
    assert error_line(ValueError("bad (at end of document)"), "a\nb\nc") == ":3"
    assert error_line(ValueError("bad (at end of document)"), "a\nb\n") == ":2"
    assert error_line(ValueError("no location"), "a\n") == ""


# -- one mechanism names the line of a bad key ----------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[tool.other]\nselect = 1\n[tool.ratchet]\nselect = 1\n", 4),
        ("[tool.ratchet]\n'test-command' = \"'unclosed\"\n", 2),
        (
            "[tool.ratchet]\nselect = true\n\n[[tool.ratchet.tiers]]\nname = 'A'\ntarget = 5\n"
            "[[tool.ratchet.tiers]]\nname = 'B'\ntarget = 5\nmin-statements = -1\n",
            10,
        ),
        ("[tool.ratchet]\n[[tool.ratchet.tiers]]\nname = 'A'\n", 2),  # No target: its table.
        ("[tool.ratchet]\ntiers = 3\n", 2),
        ("[tool.ratchet]\n[[tool.ratchet.tiers]]\ntarget = 5\nname = ''\n", 4),
    ],
)
def test_the_line_of_the_bad_key_is_named(tmp_path: Path, text: str, line: int) -> None:
    with pytest.raises(RatchetError) as error:
        load_config(write(tmp_path, text))
    assert error.value.message.startswith(f"pyproject.toml:{line}: [tool.ratchet] ")


def test_line_of_finds_keys_in_tables_and_at_the_top() -> None:
    from ratchet.toml import line_of

    text = 'format = 1\n\n[overall]\ntarget = 5\n\n[files."a.py"]\ncovered = 2\n'
    assert line_of(text, None, "format") == ":1"
    assert line_of(text, None, "target") == ""  # Not at the top level.
    assert line_of(text, "[overall]", "target") == ":4"
    assert line_of(text, '[files."a.py"]', "covered") == ":7"
    assert line_of(text, '[files."a.py"]', "branches") == ":6"  # Its table, then.
    assert line_of(text, "[nothing]", "x") == ""
    assert line_of(text, '[files."a.py"]', None, occurrence=2) == ""


def test_a_pyproject_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").mkdir()
    with pytest.raises(RatchetError, match=r"pyproject\.toml: cannot read it"):
        load_config(tmp_path)
    (tmp_path / "pyproject.toml").rmdir()
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.ratchet]\nx = '\xff'\n")
    with pytest.raises(RatchetError, match="not UTF-8"):
        load_config(tmp_path)
    # A `tool` that is not a table has no [tool.ratchet]: the defaults.
    assert load_config(write(tmp_path, "tool = 1\n")) == Config()


@pytest.mark.parametrize(
    ("paths", "section", "relevant"),
    [
        (["README.md"], {}, False),
        ([".coveragerc.local"], {}, True),
        (["docs/data.csv"], {"watch": ["docs/*.csv"]}, True),
        (["q/cov.toml"], {"baseline": "q/cov.toml"}, True),
        # A malformed section: relevant, so that the full configuration is
        # loaded and says what is wrong.
        (["README.md"], [], True),
        (["README.md"], {"baseline": 3}, True),
        (["README.md"], {"watch": [1]}, True),
    ],
)
def test_what_can_change_coverage(paths: list[str], section: object, relevant: bool) -> None:
    from ratchet.relevance import any_relevant, decode_pyproject

    assert any_relevant(paths, section) is relevant
    assert decode_pyproject(None) is None


def test_a_baseline_folder_that_cannot_be_written_is_refused_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root may write anywhere, so the refusal is shown with os.access saying no."""
    import os

    from ratchet.commands.common import ensure_writable

    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    with pytest.raises(RatchetError, match="cannot write in"):
        ensure_writable(tmp_path, "coverage-baseline.toml")
