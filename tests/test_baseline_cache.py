"""Parsed baselines kept per clone: the same answer as parsing, or a miss."""

from __future__ import annotations

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


def test_the_cache_is_what_answers_a_second_time(tmp_path: Path) -> None:
    raw = dumps(Baseline("7.17.3", False, {"a.py": Entry(Numbers(3, 1))})).encode()
    baseline_cache.load(tmp_path, raw, "b.toml")
    file = state_path(tmp_path, baseline_cache.NAME)
    kept = pickle.loads(file.read_bytes())
    (key,) = kept
    planted = Baseline("7.17.3", False, {"planted.py": Entry(Numbers(1, 1))})
    file.write_bytes(pickle.dumps({key: planted}))
    assert baseline_cache.load(tmp_path, raw, "b.toml") == planted
    # Another text is another key: parsed, and kept beside the first.
    other = dumps(Baseline("7.17.3", False, {"b.py": Entry(Numbers(2, 2))})).encode()
    assert set(baseline_cache.load(tmp_path, other, "b.toml").files) == {"b.py"}
    assert len(pickle.loads(file.read_bytes())) == 2


@pytest.mark.parametrize("damage", [b"", b"not a pickle", pickle.dumps(["a", "list"])])
def test_a_damaged_cache_is_a_miss(tmp_path: Path, damage: bytes) -> None:
    raw = dumps(Baseline("7.17.3", True, {"a.py": Entry(Numbers(3, 1, 2, 1))})).encode()
    file = state_path(tmp_path, baseline_cache.NAME)
    file.parent.mkdir()
    file.write_bytes(damage)
    assert baseline_cache.load(tmp_path, raw, "b.toml") == loads(raw.decode())
    assert len(pickle.loads(file.read_bytes())) == 1  # Written anew.


def test_bad_text_raises_and_is_not_kept(tmp_path: Path) -> None:
    with pytest.raises(RatchetError, match=r"b\.toml"):
        baseline_cache.load(tmp_path, b"format = 1\n[files\n", "b.toml")
    assert not state_path(tmp_path, baseline_cache.NAME).exists()


def test_an_unwritable_state_folder_still_parses(tmp_path: Path) -> None:
    (tmp_path / "ratchet").write_text("a file where the folder should be")
    raw = dumps(Baseline("7.17.3", False, {"a.py": Entry(Numbers(3, 1))})).encode()
    assert baseline_cache.load(tmp_path, raw, "b.toml") == loads(raw.decode())
