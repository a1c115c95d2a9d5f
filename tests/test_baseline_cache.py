"""Parsed baselines kept per clone: the same answer as parsing, or a miss."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from ratchet import baseline_cache
from ratchet.baseline import Baseline, Entry, dumps, loads
from ratchet.errors import RatchetError
from ratchet.numbers import Numbers
from ratchet.state import path as state_path
from testing.strategies import baselines


@given(baselines())
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_cached_baseline_equals_the_parsed_one(tmp_path: Path, baseline: Baseline) -> None:
    raw = dumps(baseline).encode()
    first = baseline_cache.load(tmp_path, raw, "b.toml")
    again = baseline_cache.load(tmp_path, raw, "b.toml")
    assert first == again == loads(raw.decode())


def _kept(git_dir: Path) -> dict[str, Path]:
    folder = state_path(git_dir, baseline_cache.FOLDER)
    return {p.name: p for p in folder.iterdir()} if folder.is_dir() else {}


def test_the_cache_is_what_answers_a_second_time(tmp_path: Path) -> None:
    raw = dumps(Baseline("7.17.3", False, {"a.py": Entry(Numbers(3, 1))})).encode()
    baseline_cache.load(tmp_path, raw, "b.toml")
    (file,) = _kept(tmp_path).values()
    planted = Baseline("7.17.3", False, {"planted.py": Entry(Numbers(1, 1))})
    file.write_bytes(pickle.dumps(planted))
    assert baseline_cache.load(tmp_path, raw, "b.toml") == planted
    # Another text is another key: parsed, and kept beside the first, in a
    # file of its own (a check reads only the text it needs).
    other = dumps(Baseline("7.17.3", False, {"b.py": Entry(Numbers(2, 2))})).encode()
    assert set(baseline_cache.load(tmp_path, other, "b.toml").files) == {"b.py"}
    assert len(_kept(tmp_path)) == 2
    assert baseline_cache.load(tmp_path, raw, "b.toml") == planted


def test_the_texts_read_last_are_kept(tmp_path: Path) -> None:
    """HEAD's text, read on every check, stays when other texts come and go."""
    texts = [
        dumps(Baseline("7.17.3", False, {f"m{i}.py": Entry(Numbers(2, i % 3))})).encode()
        for i in range(4)
    ]
    head, *staged = texts
    baseline_cache.load(tmp_path, head, "b.toml")
    (head_key,) = _kept(tmp_path)
    for i, text in enumerate(staged):
        for key, file in _kept(tmp_path).items():  # HEAD's written before the others.
            when = 1_000_000 if key == head_key else 2_000_000 + i
            os.utime(file, (when, when))
        assert baseline_cache.load(tmp_path, head, "b.toml") == loads(head.decode())
        baseline_cache.load(tmp_path, text, "b.toml")
        kept = _kept(tmp_path)
        assert len(kept) == baseline_cache.KEEP
        assert head_key in kept


def test_the_cache_of_older_code_is_removed(tmp_path: Path) -> None:
    """Every text in one file, as older code kept them: never read, removed."""
    raw = dumps(Baseline("7.17.3", False, {"a.py": Entry(Numbers(3, 1))})).encode()
    old = state_path(tmp_path, "baseline-cache.pickle")
    old.parent.mkdir()
    old.write_bytes(pickle.dumps({b"k": Baseline("7.17.3", False, {})}))
    assert baseline_cache.load(tmp_path, raw, "b.toml") == loads(raw.decode())
    assert not old.exists()


@pytest.mark.parametrize(
    "damage", [b"", b"not a pickle", pickle.dumps(["a", "list"]), pickle.dumps({b"k": 1})]
)
def test_a_damaged_cache_is_a_miss(tmp_path: Path, damage: bytes) -> None:
    raw = dumps(Baseline("7.17.3", True, {"a.py": Entry(Numbers(3, 1, 2, 1))})).encode()
    baseline_cache.load(tmp_path, raw, "b.toml")
    ((_, file),) = _kept(tmp_path).items()
    file.write_bytes(damage)
    assert baseline_cache.load(tmp_path, raw, "b.toml") == loads(raw.decode())
    assert pickle.loads(file.read_bytes()) == loads(raw.decode())  # Written anew.


def test_bad_text_raises_and_is_not_kept(tmp_path: Path) -> None:
    with pytest.raises(RatchetError, match=r"b\.toml"):
        baseline_cache.load(tmp_path, b"format = 1\n[files\n", "b.toml")
    assert _kept(tmp_path) == {}


def test_an_unwritable_state_folder_still_parses(tmp_path: Path) -> None:
    (tmp_path / "ratchet").write_text("a file where the folder should be")
    raw = dumps(Baseline("7.17.3", False, {"a.py": Entry(Numbers(3, 1))})).encode()
    assert baseline_cache.load(tmp_path, raw, "b.toml") == loads(raw.decode())
